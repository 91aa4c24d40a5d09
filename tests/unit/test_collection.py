"""The collection as users install and read it: the Galaxy build, ansible-doc, the action group."""

import ast
import json
import os
import subprocess
import sys
import tarfile

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def plugin_names(kind):
    folder = os.path.join(REPO, "plugins", kind)
    return sorted(f[:-3] for f in os.listdir(folder) if f.endswith(".py") and not f.startswith("_"))


def ansible_env():
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = os.path.join(REPO, "ansible.cfg")
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    return env


def test_galaxy_build_produces_the_tarball_without_local_state(tmp_path):
    with open(os.path.join(REPO, "galaxy.yml")) as f:
        galaxy = yaml.safe_load(f)
    proc = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path",
                           str(tmp_path), REPO], capture_output=True, text=True, env=ansible_env(), check=False)
    assert proc.returncode == 0, proc.stderr
    tarball = tmp_path / ("keikolatam-gitops-%s.tar.gz" % galaxy["version"])
    assert tarball.exists()
    with tarfile.open(str(tarball)) as tar:
        names = tar.getnames()
    for module in plugin_names("modules"):
        assert "plugins/modules/%s.py" % module in names
    assert "meta/runtime.yml" in names and "MANIFEST.json" in names
    leaked = [n for n in names if n.split("/")[0] in (".venv", ".sandbox", ".collections", ".ci", "sandbox")]
    assert not leaked
    # No sandbox code anywhere in the tarball: its packages live in sandbox/ only.
    sandbox_packages = ("ovh_emulator", "localkube", "localargo", "gitserver", "sandboxctl")
    assert not [n for n in names if n.endswith(".py") and not n.startswith("tests/")
                and any(part in sandbox_packages for part in n[:-3].split("/"))]


@pytest.mark.parametrize("kind,folder", [("module", "modules"), ("inventory", "inventory"), ("filter", "filter")])
def test_ansible_doc_renders_every_plugin(kind, folder):
    names = plugin_names(folder)
    if kind == "module":
        assert names, "no module found"
    if not names:
        return
    fqcns = ["keikolatam.gitops." + n for n in names]
    proc = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", kind, "--json"] + fqcns,
                          capture_output=True, text=True, env=ansible_env(), cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr
    docs = json.loads(proc.stdout)
    for fqcn in fqcns:
        entry = docs.get(fqcn)
        assert entry and entry.get("doc"), "%s has no documentation: %s" % (fqcn, proc.stderr)
        assert entry["doc"].get("short_description")
        assert entry.get("examples"), "%s has no EXAMPLES" % fqcn
        if kind == "module":
            assert entry.get("return"), "%s has no RETURN" % fqcn
            assert "keikolatam.gitops." in entry["examples"], "%s EXAMPLES do not use FQCNs" % fqcn


def test_every_ovh_module_is_in_the_ovh_action_group():
    with open(os.path.join(REPO, "meta", "runtime.yml")) as f:
        runtime = yaml.safe_load(f)
    group = set(runtime["action_groups"]["ovh"])
    modules = set(n for n in plugin_names("modules") if n.startswith("ovh_"))
    assert modules, "no OVH module found"
    assert group == modules, "missing: %s, stale: %s" % (sorted(modules - group), sorted(group - modules))


def module_doc(name):
    """The DOCUMENTATION of plugins/modules/<name>.py, parsed (without importing the module)."""
    with open(os.path.join(REPO, "plugins", "modules", name + ".py")) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "DOCUMENTATION":
            return yaml.safe_load(node.value.value)
    raise AssertionError("%s has no DOCUMENTATION" % name)


def test_the_ovh_wait_action_group_is_the_modules_that_take_the_wait_options():
    """module_defaults for group/keikolatam.gitops.ovh_wait must reach no module that rejects wait options."""
    with open(os.path.join(REPO, "meta", "runtime.yml")) as f:
        group = set(yaml.safe_load(f)["action_groups"]["ovh_wait"])
    waiting = set(n for n in plugin_names("modules") if n.startswith("ovh_")
                  and "keikolatam.gitops.ovh.wait" in (module_doc(n).get("extends_documentation_fragment") or []))
    assert waiting, "no module takes the wait options"
    assert group == waiting, "missing: %s, stale: %s" % (sorted(waiting - group), sorted(group - waiting))


def test_requires_ansible_admits_the_tested_core():
    import ansible.release
    from ansible.module_utils.compat.version import LooseVersion

    with open(os.path.join(REPO, "meta", "runtime.yml")) as f:
        floor = yaml.safe_load(f)["requires_ansible"].lstrip(">=")
    assert LooseVersion(ansible.release.__version__) >= LooseVersion(floor)
