#!/usr/bin/env bash
# actionlint, the linter of GitHub Actions workflows, built from the Go module proxy into the cache
# (outside the checkout), keyed by version:
#
#   ${KEIKO_CACHE_DIR:-~/.cache/keikolatam-gitops}/actionlint-<version>/bin/actionlint
#   ${KEIKO_CACHE_DIR:-~/.cache/keikolatam-gitops}/actionlint-go/{mod,build,path}   the go command's caches
#
#   hack/actionlint.sh build        build it unless cached (what `make actionlint-binary` runs)
#   hack/actionlint.sh path         print the binary's path (built or not)
#   hack/actionlint.sh [ARGS...]    build it unless cached, then run it with ARGS
#
# The version directory appears only when complete (built in a temporary directory next to it, then
# renamed), under a lock, so two builds at once build it once. The go command talks to the module proxy only.
set -euo pipefail

ACTIONLINT_MODULE=github.com/rhysd/actionlint
ACTIONLINT_VERSION=v1.7.12
# actionlint v1.7.12 builds with the machine's Go; set GOTOOLCHAIN=go1.27.3 (for example) to have the go
# command fetch another toolchain from the proxy.
toolchain=${ACTIONLINT_GOTOOLCHAIN:-local}

cache=${KEIKO_CACHE_DIR:-$HOME/.cache/keikolatam-gitops}
dest="$cache/actionlint-$ACTIONLINT_VERSION"
bin="$dest/bin/actionlint"

build() {
  if [ -x "$bin" ]; then
    return 0
  fi
  mkdir -p "$cache"
  exec 9>"$cache/.lock-actionlint-$ACTIONLINT_VERSION"
  flock 9
  if [ -x "$bin" ]; then  # built by another process while this one waited
    return 0
  fi
  local go work gocache start
  go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
  if [ ! -x "$go" ]; then
    echo "actionlint.sh: no Go toolchain found (set GO=/path/to/go or put go on PATH)" >&2
    return 1
  fi
  gocache="$cache/actionlint-go"
  work=$(mktemp -d "$cache/.build-actionlint-$ACTIONLINT_VERSION-XXXXXX")
  # shellcheck disable=SC2064  # expand $work now
  trap "rm -rf '$work'" EXIT
  mkdir -p "$work/out/bin"
  start=$(date +%s)
  echo "actionlint.sh: building $ACTIONLINT_MODULE/cmd/actionlint@$ACTIONLINT_VERSION into $dest" >&2
  env \
    GOMODCACHE="$gocache/mod" GOCACHE="$gocache/build" GOPATH="$gocache/path" \
    GOFLAGS="-mod=mod -modcacherw -buildvcs=false -trimpath" GOTOOLCHAIN="$toolchain" \
    CGO_ENABLED=0 GOWORK=off GO111MODULE=on GOBIN="$work/out/bin" \
    "$go" install "$ACTIONLINT_MODULE/cmd/actionlint@$ACTIONLINT_VERSION"
  "$work/out/bin/actionlint" -version >/dev/null
  printf '{"module": "%s", "version": "%s", "go": "%s", "seconds": %d, "built_at": "%s"}\n' \
    "$ACTIONLINT_MODULE/cmd/actionlint" "$ACTIONLINT_VERSION" "$("$go" env GOVERSION)" \
    "$(($(date +%s) - start))" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$work/out/BUILDINFO.json"
  rm -rf "$dest"
  mv "$work/out" "$dest"
  echo "actionlint.sh: built in $(($(date +%s) - start))s: $bin" >&2
}

case "${1:-build}" in
  path) echo "$bin" ;;
  build) build ;;
  *) build && exec "$bin" "$@" ;;
esac
