"""Integration tests of the localkube control plane (real etcd + kube-apiserver + controllers,
kwok-simulated nodes). They start one cluster per session through the ``localkube`` fixture."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from localkube import crds, nodes, versions
from localkube.kubeapi import KubeClient, KubeError

HERE = Path(__file__).resolve().parent
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def kubectl(cluster, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([KUBECTL, f"--kubeconfig={cluster.kubeconfig}", *args], input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def _ready(node: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", []))


def test_kubectl_version_reports_pinned_release(localkube):
    out = json.loads(kubectl(localkube, "version", "-o", "json").stdout)
    assert out["serverVersion"]["gitVersion"] == versions.KUBERNETES_VERSION


def test_default_pool_nodes_are_ready(localkube):
    table = kubectl(localkube, "get", "nodes", "-l", "nodepool=default", "--no-headers").stdout.splitlines()
    assert len(table) == 2, table
    assert all(line.split()[1] == "Ready" for line in table), table
    items = json.loads(kubectl(localkube, "get", "nodes", "-l", "nodepool=default", "-o", "json").stdout)["items"]
    for node in items:
        labels = node["metadata"]["labels"]
        assert labels["node.k8s.ovh.net/nodepool"] == "default"
        assert labels["node.kubernetes.io/instance-type"] == "b3-8"
        assert labels["kubernetes.io/hostname"] == node["metadata"]["name"]
        assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
        assert _ready(node)


def test_anonymous_requests_are_refused(localkube):
    """Real authentication/authorization: without a client certificate the API refuses to list."""
    host, port = localkube.server.removeprefix("https://").split(":")
    ctx = ssl.create_default_context(cafile=str(localkube.data_dir / "pki" / "ca.crt"))
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(b"GET /api/v1/namespaces/kube-system/secrets HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Connection: close\r\n\r\n")
        reply = b""
        while chunk := tls.recv(65536):
            reply += chunk
    status_line = reply.split(b"\r\n", 1)[0]
    assert b" 403 " in status_line or b" 401 " in status_line, status_line


def test_control_plane_listens_on_loopback_only(localkube):
    st = json.loads((localkube.data_dir / "state.json").read_text())
    pids = {e["pid"] for e in st["pids"].values()}
    listening = _listening_addresses(pids)
    assert listening, "found no listening sockets of the cluster's processes"
    assert all(addr.startswith("127.0.0.1:") for addr in listening), listening


def _listening_addresses(pids: set[int]) -> set[str]:
    inodes: set[str] = set()
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    out = set()
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] != "0A" or f[9] not in inodes:  # 0A = LISTEN
                continue
            ip_hex, port_hex = f[1].split(":")
            if v6:
                out.add(f"[{ip_hex}]:{int(port_hex, 16)}")
            else:
                ip = ".".join(str(int(ip_hex[i:i + 2], 16)) for i in (6, 4, 2, 0))
                out.add(f"{ip}:{int(port_hex, 16)}")
    return out


def test_ansible_rollout_and_rollback(localkube):
    venv_bin = Path(sys.executable).parent
    playbook_bin = venv_bin / "ansible-playbook"
    assert playbook_bin.exists(), f"ansible-playbook not found next to {sys.executable}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_COLLECTIONS_PATH")}
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0", PATH=f"{venv_bin}{os.pathsep}{env.get('PATH', '')}")
    proc = subprocess.run(
        [str(playbook_bin), "-i", "localhost,", str(HERE / "playbooks" / "rollout_rollback.yml"),
         "-e", f"kubeconfig={localkube.kubeconfig}", "-e", f"ansible_python_interpreter={sys.executable}"],
        cwd=HERE, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"ansible-playbook failed:\n{proc.stdout[-8000:]}\n{proc.stderr[-4000:]}"
    # Double-check from outside Ansible.
    dep = json.loads(kubectl(localkube, "-n", "localkube-rollout", "get", "deployment", "web", "-o", "json").stdout)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.invalid/keiko/web:1.0.0"
    rs = json.loads(kubectl(localkube, "-n", "localkube-rollout", "get", "rs", "-l", "app=web", "-o", "json").stdout)
    assert len(rs["items"]) == 2


INVALID_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: no-selector, namespace: default}
spec:
  replicas: 1
  template:
    metadata: {labels: {app: no-selector}}
    spec:
      containers: [{name: c, image: registry.invalid/x:1}]
"""

EXTERNAL_SECRET = """
apiVersion: external-secrets.io/{version}
kind: ExternalSecret
metadata: {{name: db-credentials, namespace: default}}
spec:
  refreshInterval: 1h
  secretStoreRef: {{name: vault, kind: ClusterSecretStore}}
  target: {{name: db-credentials}}
  data:
    - secretKey: password
      remoteRef: {{key: db/password}}
"""


def test_apiserver_rejects_deployment_without_selector(localkube):
    proc = kubectl(localkube, "create", "-f", "-", stdin=INVALID_DEPLOYMENT, check=False)
    assert proc.returncode != 0
    assert "spec.selector: Required value" in proc.stderr, proc.stderr
    assert kubectl(localkube, "get", "deployment", "no-selector", check=False).returncode != 0


def test_externalsecret_v1beta1_is_not_served(localkube):
    applied = crds.apply_crds(localkube.kubeconfig, ["eso-externalsecrets", "eso-clustersecretstores"])
    assert "externalsecrets.external-secrets.io" in applied
    # v1 is accepted (server-side dry run, so nothing is stored) ...
    kubectl(localkube, "create", "--dry-run=server", "-f", "-", stdin=EXTERNAL_SECRET.format(version="v1"))
    # ... v1beta1 is not served: kubectl finds no such kind, and the raw REST path does not exist.
    proc = kubectl(localkube, "create", "-f", "-", stdin=EXTERNAL_SECRET.format(version="v1beta1"), check=False)
    assert proc.returncode != 0
    assert 'no matches for kind "ExternalSecret" in version "external-secrets.io/v1beta1"' in proc.stderr, proc.stderr
    with KubeClient(localkube.kubeconfig) as client, pytest.raises(KubeError) as err:
        client.create("/apis/external-secrets.io/v1beta1/namespaces/default/externalsecrets",
                      {"apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret",
                       "metadata": {"name": "x"}, "spec": {}})
    assert err.value.status == 404


def test_apply_all_mirror_crds_established(localkube):
    applied = crds.apply_crds(localkube.kubeconfig)
    assert "applicationsets.argoproj.io" in applied  # > 262144 bytes: needs server-side apply
    assert len(applied) == len(crds.load_crds())
    out = kubectl(localkube, "get", "crd", "-o", "json").stdout
    established = {c["metadata"]["name"] for c in json.loads(out)["items"]
                   if any(x["type"] == "Established" and x["status"] == "True" for x in c["status"]["conditions"])}
    assert set(applied) <= established


def test_sync_pool_nodes_scales_up_and_down(localkube):
    kc = localkube.kubeconfig
    t0 = time.monotonic()
    names = nodes.sync_pool_nodes(kc, "pool-a", "b3-16", 3, labels={"team": "payments"})
    assert time.monotonic() - t0 < 2.0
    assert len(names) == 3 and all(n.startswith("pool-a-node-") for n in names)
    assert nodes.wait_pool_ready(kc, "pool-a", 3, timeout=30) == names
    listed = json.loads(kubectl(localkube, "get", "nodes", "-l", "nodepool=pool-a", "-o", "json").stdout)["items"]
    assert sorted(n["metadata"]["name"] for n in listed) == names
    for n in listed:
        labels = n["metadata"]["labels"]
        assert labels["node.k8s.ovh.net/nodepool"] == "pool-a"
        assert labels["node.kubernetes.io/instance-type"] == "b3-16"
        assert labels["team"] == "payments"
        assert n["status"]["capacity"]["cpu"] == "4"

    # Idempotent: same count, same nodes.
    assert nodes.sync_pool_nodes(kc, "pool-a", "b3-16", 3, labels={"team": "payments"}) == names

    t0 = time.monotonic()
    remaining = nodes.sync_pool_nodes(kc, "pool-a", "b3-16", 1, labels={"team": "payments"})
    assert time.monotonic() - t0 < 2.0
    assert len(remaining) == 1 and remaining[0] in names
    assert len(kubectl(localkube, "get", "nodes", "-l", "nodepool=pool-a", "--no-headers").stdout.splitlines()) == 1

    # Flavor change relabels the existing node.
    nodes.sync_pool_nodes(kc, "pool-a", "b3-32", 1)
    node = json.loads(kubectl(localkube, "get", "node", remaining[0], "-o", "json").stdout)
    assert node["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "b3-32"

    assert nodes.delete_pool_nodes(kc, "pool-a") == remaining
    assert kubectl(localkube, "get", "nodes", "-l", "nodepool=pool-a", "--no-headers").stdout.strip() == ""
    # The default pool is untouched.
    assert len(nodes.list_pool_nodes(kc, "default")) == 2


def test_sync_pool_nodes_rejects_bad_input(localkube):
    with pytest.raises(ValueError):
        nodes.sync_pool_nodes(localkube.kubeconfig, "bad pool!", "b3-8", 1)
    with pytest.raises(ValueError):
        nodes.sync_pool_nodes(localkube.kubeconfig, "pool-b", "b3-8", -1)


def test_pods_schedule_onto_simulated_nodes(localkube):
    kubectl(localkube, "create", "deployment", "sched-check", "--image=registry.invalid/x:1", "--replicas=3")
    kubectl(localkube, "rollout", "status", "deployment/sched-check", "--timeout=60s")
    pods = json.loads(kubectl(localkube, "get", "pods", "-l", "app=sched-check", "-o", "json").stdout)["items"]
    assert len(pods) == 3
    assert all(p["spec"]["nodeName"].startswith("default-node-") for p in pods)
    assert all(p["status"]["phase"] == "Running" for p in pods)
    kubectl(localkube, "delete", "deployment", "sched-check", "--wait=true")
