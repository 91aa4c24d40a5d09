"""The molecule scenario of the network_policies role (extensions/molecule/network_policies) on the localkube
harness and a file:// git remote, in one ``molecule test -s network_policies`` (create, check, converge,
idempotence, verify, destroy: one call keeps molecule's own start-up cost to once): check mode commits nothing,
converge makes one commit after a server-side dry run (no policy applied behind Argo CD's back), idempotence
changes nothing, verify has the API server accept what the branch holds.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from localkube import cluster

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
GIT_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
GIT_ENV.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", LC_ALL="C", GIT_AUTHOR_NAME="CI",
               GIT_AUTHOR_EMAIL="ci@example.invalid", GIT_COMMITTER_NAME="CI", GIT_COMMITTER_EMAIL="ci@example.invalid")


@pytest.fixture(name="molecule")
def molecule_runner(tmp_path):
    data_dir = tmp_path / "cluster"
    ephemeral = tmp_path / "molecule"
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", NO_COLOR="1", ANSIBLE_NOCOLOR="1",
               KEIKO_LOCALKUBE_DIR=str(data_dir), MOLECULE_EPHEMERAL_DIRECTORY=str(ephemeral),
               MOLECULE_GITOPS_REMOTE=str(tmp_path / "gitops.git"), ANSIBLE_DIFF_ALWAYS="1",
               KEIKO_UPSTREAM_MIRROR=os.environ.get("KEIKO_UPSTREAM_MIRROR") or str(ROOT.parent / "shared" / "upstream"))

    def run(step: str, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "molecule"), step, "-s", "network_policies", *extra], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, check=False)

    run.data_dir = data_dir
    run.remote = tmp_path / "gitops.git"
    try:
        yield run
    finally:
        cluster.down(data_dir, echo=lambda msg: None)


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc.stdout


def changed(out: str) -> int:
    return int(re.findall(r"^localkube\s+:.*\bchanged=(\d+)", out, re.M)[-1])


def git(*args: str, cwd=None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, timeout=60,
                          check=True).stdout


def commits(remote: Path) -> int:
    proc = subprocess.run(["git", "--git-dir", str(remote), "rev-list", "--count", "main"], env=GIT_ENV,
                          capture_output=True, text=True, check=False)
    return int(proc.stdout) if proc.returncode == 0 else 0


def step(out: str, name: str) -> str:
    """The output of one step of the sequence."""
    match = re.search(r"\[network_policies > %s\] Executing\n(.*?)\[network_policies > %s\] Executed: (\w+)" % (name, name),
                      out, re.S)
    assert match, out[-4000:]
    assert match.group(2) == "Successful", match.group(1)[-4000:]
    return match.group(1)


def commit_task(out: str) -> str:
    """What the role's commit task reported: changed, ok or skipping."""
    match = re.search(r"TASK \[keikolatam\.gitops\.network_policies : Commit and push[^\n]*\n(?:.*\n)*?"
                      r"(changed|ok|skipping): \[localkube\]", out)
    assert match, out[-4000:]
    return match.group(1)


def test_network_policies_scenario(molecule):
    out = ok(molecule("test"))
    check, converge, idempotence, verify = (step(out, s) for s in ("check", "converge", "idempotence", "verify"))
    # check mode predicts the commit and shows the files (--diff); converge still has it to make: check made none
    assert commit_task(check) == "changed" and "keiko_default-deny.yaml" in check
    assert commit_task(converge) == "changed"
    assert commit_task(idempotence) == "skipping" and changed(idempotence) == 0
    assert "API server accepts every policy" in verify and "The role applied none" in verify
    assert commits(molecule.remote) == 1
    tree = git("--git-dir", str(molecule.remote), "ls-tree", "-r", "--name-only", "main").split()
    assert "argocd/molecule/platform-network-policies.yaml" in tree
    assert "k8s/platform/network-policies/molecule/keiko-extra_allow-postgresql.yaml" in tree
    # validated by a dry run (its namespaces created first), not applied (verify: no NetworkPolicy in the cluster)
    assert re.search(r"Create the namespaces that do not exist yet\] \*+\nchanged:", converge)
    assert "Server-side dry run of the policies" in converge
    assert not molecule.data_dir.exists()
