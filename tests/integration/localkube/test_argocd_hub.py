"""The hub topology of the argocd role on two real control planes: Argo CD in the hub, the environment's
cluster registered in it with a service account made for it.

What a user relies on: the hub holds a cluster Secret for the environment and nothing of its admin kubeconfig;
the registered credentials may read the cluster and write in the environment's namespaces and the add-ons'
cluster-scoped kinds, and nothing else; a second run changes nothing.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from localkube import cluster

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: keikolatam.gitops.argocd
      vars:
        argocd_kubeconfig: {hub}
        argocd_environment: staging
        argocd_topology: hub
        argocd_cluster_name: keikolatam-staging
        argocd_cluster_kubeconfig: {spoke}
        argocd_platform_project: platform-staging
        argocd_services_project: keiko-staging
        argocd_manifest_mirror: {mirror}
        argocd_repository_url: http://127.0.0.1:9/keiko-gitops.git
        argocd_repository_revision: main
        argocd_repository_private: false
        argocd_wait_root_app: false
        argocd_wait_timeout: 300
"""


@pytest.fixture(scope="module")
def spoke(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("spoke") / "cluster"
    c = cluster.up(data_dir, default_nodes=1, owner_pid=os.getpid(), echo=lambda m: None)
    try:
        yield c
    finally:
        cluster.down(data_dir, echo=lambda m: None)


@pytest.fixture(scope="module")
def hub_run(localkube, spoke, tmp_path_factory):
    mirror = os.environ.get("KEIKO_UPSTREAM_MIRROR") or str(ROOT.parent / "shared" / "upstream")
    play = tmp_path_factory.mktemp("hub") / "hub.yml"
    play.write_text(PLAYBOOK.format(hub=localkube.kubeconfig, spoke=spoke.kubeconfig, mirror=mirror))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), NO_COLOR="1")

    def run() -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e",
                               f"ansible_python_interpreter={sys.executable}", str(play)], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=1200, check=False)

    first = run()
    assert first.returncode == 0, (first.stdout + first.stderr)[-6000:]
    return run, first


def kubectl(kubeconfig, *args, check=True) -> subprocess.CompletedProcess:
    return subprocess.run([KUBECTL, f"--kubeconfig={kubeconfig}", *args], capture_output=True, text=True, timeout=60,
                          check=check)


def registered(localkube) -> dict:
    secrets = json.loads(kubectl(localkube.kubeconfig, "-n", "argocd", "get", "secret", "-l",
                                 "argocd.argoproj.io/secret-type=cluster", "-o", "json").stdout)["items"]
    assert len(secrets) == 1
    return {k: base64.b64decode(v).decode() for k, v in secrets[0]["data"].items()}


def test_the_cluster_is_registered_with_its_own_token_not_the_admin_kubeconfig(localkube, spoke, hub_run):
    data = registered(localkube)
    assert data["name"] == "keikolatam-staging" and data["server"] == spoke.server
    config = json.loads(data["config"])
    assert config["bearerToken"] and config["tlsClientConfig"]["caData"]
    admin = yaml.safe_load(Path(spoke.kubeconfig).read_text())["users"][0]["user"]
    assert admin["client-key-data"] not in data["config"] and admin["client-certificate-data"] not in data["config"]
    # The projects of the environment point at its cluster.
    project = json.loads(kubectl(localkube.kubeconfig, "-n", "argocd", "get", "appproject", "keiko-staging",
                                 "-o", "json").stdout)["spec"]
    assert project["destinations"] == [{"name": "keikolatam-staging", "namespace": "keiko"}]


@pytest.mark.parametrize("verb, resource, namespace, allowed", [
    ("list", "pods", "kube-system", True),                    # reads the whole cluster
    ("create", "deployments.apps", "keiko", True),            # writes in the environment's namespaces
    ("delete", "secrets", "argocd", True),
    ("create", "deployments.apps", "kube-system", False),     # not elsewhere
    ("create", "secrets", "default", False),
    ("create", "customresourcedefinitions.apiextensions.k8s.io", None, True),  # the add-ons' cluster kinds
    ("create", "clusterroles.rbac.authorization.k8s.io", None, True),
    ("create", "priorityclasses.scheduling.k8s.io", None, False),  # not other cluster-scoped kinds
    ("create", "nodes", None, False),
])
def test_the_registered_credentials_have_least_privilege(spoke, hub_run, localkube, tmp_path, verb, resource,
                                                         namespace, allowed):
    data = registered(localkube)
    token = json.loads(data["config"])["bearerToken"]
    ca = tmp_path / "ca.crt"
    ca.write_bytes(base64.b64decode(json.loads(data["config"])["tlsClientConfig"]["caData"]))
    args = [KUBECTL, f"--server={data['server']}", f"--certificate-authority={ca}", f"--token={token}",
            "--kubeconfig=/dev/null", "auth", "can-i", verb, resource]
    args += ["-n", namespace] if namespace else []
    answer = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False).stdout.strip()
    assert answer == ("yes" if allowed else "no")


def test_a_second_run_changes_nothing(hub_run):
    run, dummy = hub_run
    again = run()
    assert again.returncode == 0, (again.stdout + again.stderr)[-6000:]
    assert "changed=0" in again.stdout.splitlines()[-2] or "changed=0" in again.stdout[-400:], again.stdout[-3000:]
