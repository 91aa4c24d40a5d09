"""The command-line lifecycle: build (cached), up, up again (no-op), status, down (no process left)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from localkube import build, cluster, versions


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "localkube", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_build_is_cached():
    first = build.ensure_binaries()
    t0 = time.monotonic()
    proc = cli("build")
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - t0 < 10
    assert "step" not in proc.stderr  # nothing was built
    assert Path(proc.stdout.strip()) == first["kube-apiserver"].parent
    assert first["kube-apiserver"].parent.parent.name == versions.version_key()
    info = json.loads((first["kube-apiserver"].parent.parent / "BUILDINFO.json").read_text())
    assert info["kubernetes"] == versions.KUBERNETES_VERSION


def test_kube_gomod_replaces_every_staging_module():
    gomod = """module k8s.io/kubernetes

go 1.24.0

godebug default=go1.24

require (
\tk8s.io/api v0.0.0
\tk8s.io/apimachinery v0.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/apimachinery => ./staging/src/k8s.io/apimachinery
)
"""
    out = build.kube_gomod(gomod, "v1.33.13")
    assert "require k8s.io/kubernetes v1.33.13" in out
    assert "\tk8s.io/api => k8s.io/api v0.33.13" in out
    assert "\tk8s.io/apimachinery => k8s.io/apimachinery v0.33.13" in out
    assert "go 1.24.0" in out and "godebug default=go1.24" in out


def _pids_alive(pids: list[int]) -> list[int]:
    """The pids still running (zombies count as gone)."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        if state not in ("Z", "X"):
            alive.append(pid)
    return alive


def _in_proc_table(entries: dict) -> list[int]:
    """The recorded processes still in the process table in any state (same pid and start time)."""
    left = []
    for e in entries.values():
        try:
            stat = Path(f"/proc/{e['pid']}/stat").read_text()
        except FileNotFoundError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[19]) == e["start"]:
            left.append(e["pid"])
    return left


def test_up_idempotent_status_down(tmp_path):
    data_dir = tmp_path / "lk"
    t0 = time.monotonic()
    proc = cli("up", "--data-dir", str(data_dir), "--default-nodes", "1", "--default-pool", "lifecycle")
    elapsed = time.monotonic() - t0
    try:
        assert proc.returncode == 0, proc.stderr
        assert Path(proc.stdout.strip()) == data_dir / "kubeconfig"
        assert elapsed < 60, f"warm start took {elapsed:.1f}s"
        st = json.loads((data_dir / "state.json").read_text())
        pids = [e["pid"] for e in st["pids"].values()]
        assert set(st["pids"]) == set(cluster.ORDER)
        assert len(_pids_alive(pids)) == len(cluster.ORDER)

        again = cli("up", "--data-dir", str(data_dir))
        assert again.returncode == 0, again.stderr
        assert "already up" in again.stderr
        assert json.loads((data_dir / "state.json").read_text())["pids"] == st["pids"]

        status = cli("status", "--data-dir", str(data_dir))
        assert status.returncode == 0, status.stdout + status.stderr
        assert json.loads(status.stdout)["up"] is True

        nodes = subprocess.run(["kubectl", f"--kubeconfig={data_dir / 'kubeconfig'}", "get", "nodes", "--no-headers"],
                               capture_output=True, text=True, timeout=30, check=False)
        assert nodes.returncode == 0 and " Ready " in nodes.stdout, nodes.stdout + nodes.stderr
    finally:
        down = cli("down", "--data-dir", str(data_dir))
    assert down.returncode == 0, down.stderr
    assert _pids_alive(pids) == []
    assert _in_proc_table(st["pids"]) == []  # not even a zombie
    assert not data_dir.exists()
    status = cli("status", "--data-dir", str(data_dir))
    assert status.returncode == 1 and json.loads(status.stdout)["up"] is False
    # down on nothing is fine too
    assert cli("down", "--data-dir", str(data_dir)).returncode == 0


def test_watchdog_stops_cluster_when_owner_dies(tmp_path):
    """A pytest session killed before teardown must not leave a cluster behind."""
    data_dir = tmp_path / "owned"
    with subprocess.Popen(["sleep", "600"]) as owner:
        try:
            c = cluster.up(data_dir, default_nodes=0, owner_pid=owner.pid, echo=lambda m: None)
            st = json.loads((data_dir / "state.json").read_text())
            assert cluster.WATCHDOG in st["pids"]
            assert len(_pids_alive([e["pid"] for e in st["pids"].values()])) == len(cluster.ORDER) + 1
            assert cluster.status(data_dir)["up"] is True
            assert c.kubeconfig.exists()
        finally:
            owner.kill()
    deadline = time.monotonic() + 60
    while data_dir.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not data_dir.exists(), "watchdog did not bring the cluster down"
    pids = [e["pid"] for e in st["pids"].values()]
    end = time.monotonic() + 10  # the watchdog exits right after removing the directory
    while _pids_alive(pids) and time.monotonic() < end:
        time.sleep(0.1)
    assert _pids_alive(pids) == []
    # up() ran in this process, so the stopped components are our zombies (the watchdog cannot reap
    # them); reap them, then nothing may be left.
    for e in st["pids"].values():
        try:
            os.waitpid(e["pid"], os.WNOHANG)
        except ChildProcessError:
            pass
    end = time.monotonic() + 10
    while _in_proc_table(st["pids"]) and time.monotonic() < end:
        time.sleep(0.2)
    assert _in_proc_table(st["pids"]) == []
