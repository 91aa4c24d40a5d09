"""The molecule scenario of the argocd role (extensions/molecule/argocd) on the localkube harness.

Step by step, as a user runs ``molecule -s argocd``: converge installs the pinned Argo CD from the upstream
mirror and configures it, a second converge changes nothing (no object gets a new resourceVersion), verify
passes, and verify fails when the services' AppProject is widened behind the role's back.
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
PASSWORD = "molecule-gitops-secret-6f1d"


@pytest.fixture(name="molecule")
def molecule_runner(tmp_path):
    data_dir = tmp_path / "cluster"
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", NO_COLOR="1",
               KEIKO_LOCALKUBE_DIR=str(data_dir), MOLECULE_EPHEMERAL_DIRECTORY=str(tmp_path / "molecule"),
               MOLECULE_GITOPS_PASSWORD=PASSWORD,
               KEIKO_UPSTREAM_MIRROR=os.environ.get("KEIKO_UPSTREAM_MIRROR") or str(ROOT.parent / "shared" / "upstream"))

    def run(step: str, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "molecule"), step, "-s", "argocd", *extra], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=900, check=False)

    run.data_dir = data_dir
    try:
        yield run
    finally:
        cluster.down(data_dir, echo=lambda msg: None)


def ok(proc: subprocess.CompletedProcess) -> str:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    return out


def kubectl(kubeconfig: str, *args: str, check: bool = True):
    proc = subprocess.run([KUBECTL, f"--kubeconfig={kubeconfig}", *args], capture_output=True, text=True, timeout=60,
                          check=check)
    return proc.stdout if check else proc


def versions(kubeconfig: str) -> dict[str, str]:
    """resourceVersion of every object the role manages (the argocd namespace and Argo CD's cluster objects)."""
    out = {}
    for scope in (["-n", "argocd", "get", "cm,secret,sa,role,rolebinding,svc,deploy,sts,networkpolicy,appproject,application"],
                  ["get", "crd,clusterrole,clusterrolebinding"]):
        for item in json.loads(kubectl(kubeconfig, *scope, "-o", "json"))["items"]:
            name = f"{item['kind']}/{item['metadata'].get('namespace', '')}/{item['metadata']['name']}"
            if scope[0] == "-n" or "argocd" in item["metadata"]["name"] or item["kind"] == "CustomResourceDefinition":
                out[name] = item["metadata"]["resourceVersion"]
    return out


def test_argocd_scenario_converge_idempotence_verify(molecule):
    ok(molecule("create"))
    kubeconfig = cluster.status(molecule.data_dir)["kubeconfig"]

    # check mode on a cluster without Argo CD: a change is reported, nothing is written
    out = ok(molecule("converge", "--", "--check"))
    assert re.findall(r"^localkube\s+:.*\bchanged=(\d+)", out, re.M)[-1] != "0", out[-3000:]
    assert kubectl(kubeconfig, "get", "namespace", "argocd", check=False).returncode != 0
    assert "argoproj.io" not in kubectl(kubeconfig, "get", "crd", "-o", "name")

    out = ok(molecule("converge"))
    assert re.search(r"changed=([1-9]\d*)", out), out[-3000:]
    assert PASSWORD not in out
    managers = {m["manager"] for m in json.loads(kubectl(kubeconfig, "-n", "argocd", "get", "cm", "argocd-cm", "-o", "json",
                                                         "--show-managed-fields"))["metadata"]["managedFields"]}
    assert {"keikolatam-gitops-install", "keikolatam-gitops-config"} <= managers
    # The CRDs are larger than the client-side apply annotation: they were applied server-side, without it.
    crd = json.loads(kubectl(kubeconfig, "get", "crd", "applicationsets.argoproj.io", "-o", "json"))
    assert "kubectl.kubernetes.io/last-applied-configuration" not in crd["metadata"].get("annotations", {})

    before = versions(kubeconfig)
    out = ok(molecule("idempotence"))
    assert re.findall(r"^localkube\s+:.*\bchanged=(\d+)", out, re.M)[-1] == "0", out[-3000:]
    assert "idempotence] Executed: Successful" in out, out[-3000:]
    after = versions(kubeconfig)
    assert len(before) > 40
    assert {k: (v, after.get(k)) for k, v in before.items() if after.get(k) != v} == {}

    ok(molecule("verify"))

    # verify is a real check: a services' project that may deploy anywhere fails it
    kubectl(kubeconfig, "-n", "argocd", "patch", "appproject", "keiko", "--type=merge", "-p",
            json.dumps({"spec": {"destinations": [{"name": "in-cluster", "namespace": "*"}]}}))
    failed = molecule("verify")
    assert failed.returncode != 0
    assert "keiko.destinations" in failed.stdout + failed.stderr

    ok(molecule("destroy"))
    assert not molecule.data_dir.exists()
