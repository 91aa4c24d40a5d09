"""The molecule scenario of the postgres_backup role (extensions/molecule/postgres_backup): its converge and verify
playbooks, as ``molecule test -s postgres_backup`` runs them (converge, idempotence, verify), on the session's shared
local control plane (the ``localkube`` fixture: no control plane of its own to start, which is most of a molecule
run's time) and a file:// git remote. Converge makes one commit after a server-side dry run of the CronJob and its
ConfigMap (nothing applied behind Argo CD's back), idempotence changes nothing, verify has the API server accept what
the branch holds (with the upstream Application CRD). Check mode, diff and bad input: tests/integration/backup.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
SCENARIO = ROOT / "extensions" / "molecule" / "postgres_backup"


def play(localkube, tmp_path, name, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "OVH_"))}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), NO_COLOR="1", ANSIBLE_NOCOLOR="1", ANSIBLE_PIPELINING="1",
               GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               MOLECULE_EPHEMERAL_DIRECTORY=str(tmp_path), MOLECULE_GITOPS_REMOTE=str(tmp_path / "gitops.git"),
               MOLECULE_PROJECT_DIRECTORY=str(ROOT),
               KEIKO_UPSTREAM_MIRROR=os.environ.get("KEIKO_UPSTREAM_MIRROR") or str(ROOT.parent / "shared" / "upstream"))
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(SCENARIO.parent / "default" / "inventory" / "hosts.yml"),
                           "-e", "localkube_kubeconfig=%s" % localkube.kubeconfig, str(SCENARIO / name), *extra],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc.stdout


def changed(out: str) -> int:
    return int(re.findall(r"^localkube\s+:.*\bchanged=(\d+)", out, re.M)[-1])


def commit_task(out: str) -> str:
    """What the role's commit task reported: changed or ok."""
    match = re.search(r"TASK \[keikolatam\.gitops\.postgres_backup : Commit and push[^\n]*\n(?:.*\n)*?"
                      r"(changed|ok|skipping): \[localkube\]", out)
    assert match, out[-4000:]
    return match.group(1)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, timeout=60, check=False).stdout


def test_postgres_backup_scenario(localkube, tmp_path):
    remote = tmp_path / "gitops.git"
    converge = play(localkube, tmp_path, "converge.yml")
    assert commit_task(converge) == "changed"
    # validated by a dry run in the existing namespace, not applied (verify: no CronJob in the cluster)
    assert re.search(r"Server-side dry run against the API server of molecule\] \*+\nok:", converge), converge[-4000:]
    idempotence = play(localkube, tmp_path, "converge.yml")
    assert commit_task(idempotence) == "ok" and changed(idempotence) == 0
    verify = play(localkube, tmp_path, "verify.yml")
    assert "The API server accepts the ConfigMap and the CronJob" in verify and "The role applied none" in verify
    assert git("--git-dir", str(remote), "rev-list", "--count", "main").strip() == "1"
    tree = git("--git-dir", str(remote), "ls-tree", "-r", "--name-only", "main").split()
    assert sorted(tree) == ["argocd/molecule/platform-postgres-backup.yaml",
                            "k8s/platform/postgres-backup/molecule/configmap.yaml",
                            "k8s/platform/postgres-backup/molecule/cronjob.yaml",
                            "k8s/platform/postgres-backup/molecule/kustomization.yaml"]
