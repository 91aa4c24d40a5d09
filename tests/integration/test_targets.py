"""Run each integration target (tests/integration/targets/<name>/tasks/main.yml) against a fresh emulator.

A target is plain Ansible tasks in the fixed order (invalid input, create in check mode, create, create
again, update, update again, delete, delete again). It runs as is, and the targets of
asynchronous resources also under 20% injected 429/5xx answers: every run must pass, and every request
the modules sent must conform to the schema.

Here each target runs with ansible-playbook on the variables ``ansible-test integration`` passes it
(integration_targets.py writes them: tests/integration/integration_config.yml), one emulator per target, so that
module coverage is collected (ansible-test gives the modules an environment of its own);
``test_ansible_test_runs_a_target`` runs one target under ``ansible-test integration`` itself.
"""

import os
import subprocess
import sys

import pytest
import yaml

from ovh_emulator.testing import EmulatorProcess

from integration_targets import run_ansible_test, write_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGETS = os.path.join(REPO, "tests", "integration", "targets")
BIN = os.path.dirname(sys.executable)
NAMES = sorted(n for n in os.listdir(TARGETS) if not n.startswith("setup_")
               and os.path.isfile(os.path.join(TARGETS, n, "tasks", "main.yml")))
FAULTS = {"clean": {}, "faults": {"fault_429_rate": 0.1, "fault_5xx_rate": 0.1, "seed": 20}}
# Every target runs clean; those of the asynchronous resources also run under faults (the other
# modules share their client and adoption code, and the module scenarios test faults on their own).
FAULTED = ("ovh_kube_cluster", "ovh_kube_nodepool", "ovh_database", "ovh_database_user")
CASES = [(name, "clean") for name in NAMES] + [(name, "faults") for name in NAMES if name in FAULTED]


def run_target(name, emu, tmp_path):
    book = tmp_path / "target.yml"
    config = write_config(emu, tmp_path / "integration_config.yml")
    book.write_text(yaml.safe_dump([{
        "name": "integration target %s" % name, "hosts": "localhost", "gather_facts": False,
        "connection": "local", "vars_files": [str(config)],
        "tasks": [{"name": "run the target", "ansible.builtin.include_role": {"name": name}}]}]))
    # No OVH_* variable: the targets take the emulator from the variables file, as under ansible-test.
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("OVH_"))
    env.update(ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_ROLES_PATH=TARGETS, ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0", PATH=BIN + os.pathsep + env.get("PATH", ""))
    return subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,",
                           "-e", "ansible_python_interpreter=" + sys.executable, str(book)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)


def test_there_are_targets():
    assert NAMES


def test_every_module_has_a_target_with_aliases():
    """ansible-test runs a target only with an aliases file; every OVH module has its target (the lifecycle against
    the emulator). The GitOps and Argo CD modules need a git server and an Argo CD: their tests are
    tests/integration/gitops and tests/integration/localkube."""
    modules = sorted(n[:-3] for n in os.listdir(os.path.join(REPO, "plugins", "modules"))
                     if n.startswith("ovh_") and n.endswith(".py"))
    assert NAMES == modules
    for name in NAMES:
        with open(os.path.join(TARGETS, name, "aliases")) as fh:
            aliases = [line.strip() for line in fh if line.strip() and not line.startswith("#")]
        assert "needs/target/setup_emulator" in aliases and "context/controller" in aliases, (name, aliases)


def test_ansible_test_runs_a_target(tmp_path):
    """``ansible-test integration`` itself, from a copy of the collection, reaches the emulator and runs a target."""
    with EmulatorProcess(state_dir=tmp_path / "emu", transition_seconds=0.3, check_requests=True) as emu:
        proc = run_ansible_test(emu, ["ovh_private_network"], tmp_path / "copy", capture_output=True, text=True,
                                timeout=900)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-8000:]
        assert "Running ovh_private_network integration test role" in out, out[-3000:]
        writes = [(e["method"], e["path"]) for e in emu.writes()]
        # the target's create and delete reached this emulator, the create once
        creates = [w for w in writes if w[0] == "POST" and w[1].endswith("/network/private")]
        assert len(creates) == 1 and writes[0] == creates[0], writes
        assert writes[-1][0] == "DELETE" and "/network/private/" in writes[-1][1], writes


@pytest.mark.parametrize("name,faults", CASES)
def test_target(name, faults, tmp_path):
    with EmulatorProcess(state_dir=tmp_path / "emu", transition_seconds=0.3, check_requests=True) as emu:
        if FAULTS[faults]:
            emu.set_faults(**FAULTS[faults])
        proc = run_target(name, emu, tmp_path)
        assert proc.returncode == 0, (proc.stdout[-8000:] + proc.stderr[-3000:])
        if FAULTS[faults]:
            injected = [e for e in emu.requests(kind="api") if e.get("fault")]
            assert injected, "no fault was injected: the faulted run proved nothing"
