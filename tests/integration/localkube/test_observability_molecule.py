"""The molecule scenario of the observability role (extensions/molecule/observability), in one
``molecule test -s observability --destroy never`` on the session's control plane (``addon_molecule``) with the
upstream prometheus-operator and Argo CD Application CRDs of ``$KEIKO_UPSTREAM_MIRROR/crds`` loaded, against the
sandbox's git server (HTTP, user and password).

Check mode (with diff) commits nothing; converge sends every object the role renders (the collector's Deployment,
ConfigMap and RBAC, the ServiceMonitors, the PrometheusRule, the dashboards' ConfigMaps, the Applications) to the
API server as a server-side dry run, none left out, and commits once; idempotence changes nothing; verify has the
API server accept what the branch holds, persist none, and a value it refuses (a CPU request "lots") fail the role
before any commit. The repository password is in no step's output and in no commit.
"""

from __future__ import annotations

import base64
import os

from gitserver.process import GitServer

from conftest import recap


def task(out: str, name: str) -> str:
    """What ansible-playbook printed for the role's task ``name``."""
    section = out.split(f"TASK [keikolatam.gitops.observability : {name}")[1]
    return section.split("\n", 1)[1].split("TASK [")[0].strip()


def test_observability_scenario(addon_molecule, tmp_path):
    password = "pw-" + base64.urlsafe_b64encode(os.urandom(12)).decode()
    with GitServer(root=tmp_path / "repos", username="keiko", password=password, state_dir=tmp_path / "state") as srv:
        bare = srv.init_bare("gitops")
        run = addon_molecule("observability", MOLECULE_GITOPS_URL=srv.repo_url("gitops"), MOLECULE_GITOPS_USERNAME="keiko",
                             MOLECULE_GITOPS_PASSWORD=password, MOLECULE_GITOPS_REMOTE=str(bare))
    check, converge, idempotence, verify = (run.step(s) for s in ("check", "converge", "idempotence", "verify"))
    # check mode predicts the commit and shows the files (--diff); converge still has it to make: check made none
    assert "\nchanged: [localkube]" in task(check, "Commit and push")
    assert "prometheusrule.yaml" in check
    assert "\nchanged: [localkube]" in task(converge, "Commit and push")
    # Every object went to the dry run (the cluster serves their CRDs): none was left out.
    assert "Server-side dry run of the rendered objects" in converge
    assert task(converge, "Objects left out of the dry run").startswith("skipping: [localkube]")
    assert recap(idempotence)["localkube"]["changed"] == 0
    for done in ("The API server accepts the collector", "The role applied none", "Refused by the server-side dry run",
                 "One commit, with its trailers"):
        assert done in verify, done
    assert password not in run.out
    tree = run.git("ls-tree", "-r", "--name-only", "main").split()
    assert "k8s/platform/observability/molecule/prometheusrule.yaml" in tree
    assert "argocd/molecule/platform-observability.yaml" in tree
    assert password not in run.git("log", "-p", "main")
