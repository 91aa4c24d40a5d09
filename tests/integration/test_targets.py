"""Run each integration target (tests/integration/targets/<name>/tasks/main.yml) against a fresh emulator.

A target is plain Ansible tasks in the fixed order (invalid input, create in check mode, create, create
again, update, update again, delete, delete again). It runs as is, and the targets of
asynchronous resources also under 20% injected 429/5xx answers: every run must pass, and every request
the modules sent must conform to the schema.
"""

import os
import subprocess
import sys

import pytest
import yaml

from ovh_emulator.testing import EmulatorProcess

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
    book.write_text(yaml.safe_dump([{
        "name": "integration target %s" % name, "hosts": "localhost", "gather_facts": False,
        "connection": "local", "tasks": [{"name": "run the target",
                                          "ansible.builtin.include_role": {"name": name}}]}]))
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("OVH_"))
    env.update(emu.env_signature)
    env.update(OVH_EMULATOR_ADMIN_URL=emu.base_url, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_ROLES_PATH=TARGETS, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0", PATH=BIN + os.pathsep + env.get("PATH", ""))
    return subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,",
                           "-e", "ansible_python_interpreter=" + sys.executable, str(book)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)


def test_there_are_targets():
    assert NAMES


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
