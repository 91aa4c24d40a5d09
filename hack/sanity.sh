#!/usr/bin/env bash
# ansible-test sanity without a container engine or the internet:
# a dedicated venv with ansible-test's own pinned sanity requirements (from PyPI),
# and a copy of the tracked tree under ansible_collections/keikolatam/gitops.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${KEIKO_CACHE_DIR:-$HOME/.cache/keikolatam-gitops}
core_version=$("$repo/.venv/bin/python" -c 'import ansible.release as r; print(r.__version__)')
venv="$cache/sanity-venv-$core_version"
if [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  reqs=$("$repo/.venv/bin/python" -c 'import ansible_test, os; print(os.path.join(os.path.dirname(ansible_test.__file__), "_data", "requirements"))')
  "$venv/bin/pip" install -q --upgrade pip
  # One resolver run over every sanity test's pins plus the collection's own imports.
  req_args=()
  for f in "$reqs"/sanity.*.txt; do req_args+=(-r "$f"); done
  "$venv/bin/pip" install -q "ansible-core==$core_version" "${req_args[@]}" -r "$repo/requirements.txt"
  touch "$venv/.complete"
fi
# ansible-test bootstraps pip in its per-test venvs with a script it downloads from a host
# this machine cannot reach; an equivalent built on ensurepip and PyPI stands in for it.
pip_version=$("$venv/bin/python" -c 'from ansible_test._internal.python_requirements import PIP_VERSION; print(PIP_VERSION)' 2>/dev/null || echo 24.2)
mkdir -p "$HOME/.ansible/test/cache"
cp "$repo/hack/get_pip_offline.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/keikolatam/gitops"
mkdir -p "$dest"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} sh -c 'if test -e "{}"; then printf "%s\0" "{}"; fi' | tar --null -T - -cf -) | tar -C "$dest" -xf -
cd "$dest"
# The copy has no .git: ansible-test then checks every file in the tree.
exec "$venv/bin/ansible-test" sanity --local --python "$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" --color no "$@"
