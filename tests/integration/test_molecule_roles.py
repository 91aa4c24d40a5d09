"""The molecule scenarios of the six OVH roles (extensions/molecule/<role>, on .config/molecule/config.yml).

Each scenario's create step starts the sandbox's OVH API emulator under the scenario's ephemeral directory,
converge applies the role, idempotence applies it again (nothing may change), verify reads back what the role
made, destroy stops the emulator and removes the directory. ``molecule test`` runs them here as a user would;
private_network runs step by step, to show that verify fails when the sandbox is not what the role made.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ovh_emulator.testing import EmulatorProcess

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SCENARIOS = ("private_network", "kube_cluster", "kubeconfig", "database", "registry", "backup_storage")
SEQUENCE = ["create", "converge", "idempotence", "verify", "destroy"]


@pytest.fixture(name="molecule")
def molecule_runner(tmp_path):
    """``molecule <args>`` from the collection root, with the scenario's ephemeral directory under ``tmp_path``."""
    ephemeral = tmp_path / "molecule"
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(("OVH_", "MOLECULE_")))
    env.update(PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", NO_COLOR="1", ANSIBLE_NOCOLOR="1",
               MOLECULE_EPHEMERAL_DIRECTORY=str(ephemeral))

    def run(*args: str) -> subprocess.CompletedProcess:
        # One stream: molecule's step lines and the playbooks' output, in order.
        return subprocess.run([str(BIN / "molecule"), *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=900, check=False)

    run.sandbox = ephemeral / "sandbox"
    try:
        yield run
    finally:  # a failed step may leave the emulator running
        subprocess.run([sys.executable, "-m", "sandboxctl", "down", "--dir", str(run.sandbox)], env=env,
                       capture_output=True, timeout=60, check=False)


def assert_ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stdout[-8000:]
    return proc.stdout


def steps(out: str, scenario: str) -> list[tuple[str, str]]:
    """(step, outcome) in the order molecule ran them."""
    return re.findall(r"\[%s > (\w+)\] Executed: (\w[\w ]*)" % scenario, out)


def recaps(out: str, scenario: str) -> dict[str, dict[str, int]]:
    """The controller's PLAY RECAP counters of each step that ran a playbook (the last run of a step name)."""
    found = {}
    for name, text in re.findall(r"\[%s > (\w+)\] Executing(.*?)(?=\[%s > \w+\] Executed)" % (scenario, scenario),
                                 out, re.S):
        rows = re.findall(r"^controller\s+:\s+(.*)$", text, re.M)
        if rows:
            found[name] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", rows[-1])}
    return found


def emulator_pid(sandbox: Path) -> int:
    return json.loads((sandbox / "ovh" / "ready.json").read_text())["pid"]


def alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != "private_network"])  # private_network: below
def test_scenario(molecule, scenario):
    out = assert_ok(molecule("test", "-s", scenario))
    assert steps(out, scenario) == [(step, "Successful") for step in SEQUENCE], out[-4000:]
    counts = recaps(out, scenario)
    assert counts["converge"]["changed"] > 0 and counts["converge"]["failed"] == 0, counts
    assert counts["idempotence"]["changed"] == 0, counts
    assert counts["verify"]["failed"] == 0 and counts["verify"]["ok"] > 0, counts
    assert not molecule.sandbox.exists()  # destroy removed the emulator's state and the kept secrets


def test_verify_fails_when_the_sandbox_is_not_what_the_role_made(molecule):
    """The private_network scenario, then its subnet deleted behind the role's back: verify says so."""
    scenario = ("-s", "private_network")
    # The steps of `molecule test` one by one (converge runs create first), to break the sandbox between verify
    # and destroy.
    out = assert_ok(molecule("converge", *scenario))
    assert steps(out, "private_network") == [
        ("create", "Successful"), ("converge", "Successful")], out[-4000:]
    assert recaps(out, "private_network")["converge"]["changed"] == 2, out[-3000:]  # the network and its subnet
    out = assert_ok(molecule("idempotence", *scenario))
    assert recaps(out, "private_network")["idempotence"]["changed"] == 0, out[-3000:]
    assert_ok(molecule("verify", *scenario))
    pid = emulator_pid(molecule.sandbox)
    assert alive(pid)

    emu = EmulatorProcess(state_dir=molecule.sandbox / "ovh")
    emu.info = json.loads((molecule.sandbox / "ovh" / "ready.json").read_text())
    client = emu.ovh_client()
    base = "/cloud/project/%s/network/private" % emu.service_name
    network = [n for n in client.get(base) if n["name"] == "molecule-network"][0]
    subnets = client.get("%s/%s/subnet" % (base, network["id"]))
    assert len(subnets) == 1
    client.delete("%s/%s/subnet/%s" % (base, network["id"], subnets[0]["id"]))
    failed = molecule("verify", *scenario)
    assert failed.returncode != 0
    assert '"assertion": "verify_subnet is not changed"' in failed.stdout, failed.stdout[-3000:]
    assert "the subnet: True (subnet missing)" in failed.stdout, failed.stdout[-3000:]

    assert_ok(molecule("destroy", *scenario))
    assert not molecule.sandbox.exists() and not alive(pid)
