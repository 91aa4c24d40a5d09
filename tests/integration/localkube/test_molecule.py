"""The molecule scenario (extensions/molecule/default, delegated driver) on the localkube harness.

Runs the scenario's steps one by one, as a user of ``molecule`` would, and checks what each leaves
behind: create starts a real control plane, converge deploys with kubernetes.core and a second converge
changes nothing, verify fails when the cluster is not what the scenario expects, destroy leaves no
process and no data directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from localkube import cluster

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


@pytest.fixture(name="molecule")
def molecule_runner(tmp_path):
    """``molecule <step>`` from the collection root, on a cluster in a temporary data directory."""
    data_dir = tmp_path / "cluster"
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", NO_COLOR="1",
               KEIKO_LOCALKUBE_DIR=str(data_dir), MOLECULE_EPHEMERAL_DIRECTORY=str(tmp_path / "molecule"))

    def run(*step: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "molecule"), *step], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=900, check=False)

    run.data_dir = data_dir
    try:
        yield run
    finally:
        cluster.down(data_dir, echo=lambda msg: None)


def assert_ok(proc: subprocess.CompletedProcess) -> str:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    return out


def recap(out: str) -> dict[str, int]:
    """The per-host PLAY RECAP counters of the last play that ran."""
    rows = re.findall(r"^localkube\s+:\s+(.*)$", out, re.M)
    assert rows, out[-3000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", rows[-1])}


def test_scenario_create_converge_idempotence_verify_destroy(molecule):
    out = assert_ok(molecule("create"))
    state = cluster.status(molecule.data_dir)
    assert state["up"], state
    pids = [p["pid"] for p in state["processes"].values()]
    assert len(pids) >= 5 and all(p["alive"] for p in state["processes"].values()), state
    kubeconfig = state["kubeconfig"]

    # create again: the cluster is already up, nothing is restarted
    out = assert_ok(molecule("create"))
    assert cluster.status(molecule.data_dir)["processes"] == state["processes"]

    out = assert_ok(molecule("converge"))
    assert recap(out)["changed"] == 2, out[-3000:]  # the namespace and the deployment
    deploy = json.loads(subprocess.run(
        [KUBECTL, f"--kubeconfig={kubeconfig}", "-n", "molecule-localkube", "get", "deployment", "echo", "-o", "json",
         "--show-managed-fields"],
        capture_output=True, text=True, timeout=60, check=True).stdout)
    assert deploy["status"]["availableReplicas"] == 2
    managers = {m["manager"] for m in deploy["metadata"]["managedFields"] if m["operation"] == "Apply"}
    assert managers == {"keikolatam-gitops-molecule"}  # server-side apply, our field manager

    out = assert_ok(molecule("idempotence"))
    assert "Idempotence completed successfully" in out or recap(out)["changed"] == 0, out[-3000:]

    assert_ok(molecule("verify"))

    # verify is a real check: with one pod short it fails and says why
    subprocess.run([KUBECTL, f"--kubeconfig={kubeconfig}", "-n", "molecule-localkube", "scale", "deployment", "echo",
                    "--replicas=1"], capture_output=True, text=True, timeout=60, check=True)
    failed = molecule("verify")
    assert failed.returncode != 0
    assert "availableReplicas" in failed.stdout + failed.stderr or "Assertion failed" in failed.stdout + failed.stderr

    assert_ok(molecule("destroy"))
    assert not molecule.data_dir.exists()
    alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()
             and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")]
    assert alive == [], alive
