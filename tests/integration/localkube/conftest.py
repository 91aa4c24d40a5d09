"""Make the ``localkube`` fixture available here even before the root conftest registers it; ``addon_molecule``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def pytest_configure(config):
    if not config.pluginmanager.has_plugin("localkube.pytest_plugin"):
        config.pluginmanager.import_plugin("localkube.pytest_plugin")


class MoleculeRun:
    """The output of one ``molecule test -s <scenario>``, step by step."""

    def __init__(self, scenario: str, out: str, remote: Path):
        self.scenario, self.out, self.remote = scenario, out, remote

    def step(self, name: str) -> str:
        match = re.search(r"\[%s > %s\] Executing\n(.*?)\[%s > %s\] Executed: (\w+)"
                          % (self.scenario, name, self.scenario, name), self.out, re.S)
        assert match, self.out[-4000:]
        assert match.group(2) == "Successful", match.group(1)[-4000:]
        return match.group(1)

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "--git-dir", str(self.remote), *args], capture_output=True, text=True,
                              timeout=60, check=True, env=dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull,
                                                               GIT_CONFIG_NOSYSTEM="1", LC_ALL="C")).stdout


def recap(out: str) -> dict:
    """host: {ok: n, changed: n, failed: n, ...} of the last play recap in ``out``."""
    rows = {}
    for host, row in re.findall(r"^([\w.-]+)\s+:\s+(ok=.*)$", out, re.M):
        rows[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", row)}
    return rows


@pytest.fixture(name="addon_molecule")
def addon_molecule_runner(localkube, tmp_path):
    """Run ``molecule test -s <scenario> --destroy never`` on the session's control plane.

    The add-on scenarios (extensions/molecule/<role>) use the default scenario's create and destroy; with
    KEIKO_LOCALKUBE_DIR at the session's cluster, create finds it up (no control plane of its own to start, which
    is most of a molecule run's time) and destroy is left out, so the next test finds it still there.
    """

    def run(scenario: str, *extra: str, **env_extra: str) -> MoleculeRun:
        """``extra``: molecule's arguments; ``env_extra``: the environment (MOLECULE_GITOPS_REMOTE: the bare repository
        verify reads, by default one in the test's directory that converge creates)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "OVH_", "ANSIBLE_"))}
        env.update(PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", NO_COLOR="1", ANSIBLE_NOCOLOR="1",
                   ANSIBLE_DIFF_ALWAYS="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1",
                   KEIKO_LOCALKUBE_DIR=str(localkube.data_dir), MOLECULE_EPHEMERAL_DIRECTORY=str(tmp_path / "molecule"),
                   MOLECULE_GITOPS_REMOTE=str(tmp_path / "gitops.git"),
                   KEIKO_UPSTREAM_MIRROR=os.environ.get("KEIKO_UPSTREAM_MIRROR") or str(ROOT.parent / "shared" / "upstream"))
        env.update(env_extra)
        proc = subprocess.run([str(BIN / "molecule"), "test", "-s", scenario, "--destroy", "never", *extra], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900,
                              check=False)
        assert proc.returncode == 0, proc.stdout[-8000:]
        return MoleculeRun(scenario, proc.stdout, Path(env["MOLECULE_GITOPS_REMOTE"]))

    return run
