"""The network_policies role's manifests, judged by their effect: a real policy engine (cyclonus, built from the
Go module proxy into the cache when absent) answers, for each row of a table of traffic (from, to, port,
protocol), whether the rendered policies allow it, offline (no cluster, no CNI).

The same table over the design document's policy (quoted below) shows what that policy gets wrong: its
``to: []`` rule lets the services reach 8.8.8.8:53 and any address on 5432, which ours refuse. Bad input fails
with all its problems in one message, before anything is read or written.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from localcyclonus import build as cyclonus_build

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = "sandbox"
DATABASE = "10.100.0.5"
APISERVER = "10.3.0.1"
GIT = "192.0.2.10"

# k8s/base/security/network-policies.yaml of the design (../shared/design, section "Network Policies"), as
# written there; Argo CD applies it in the services' namespace (the design names none), hence the namespace.
DESIGN_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: microservices-network-policy
  namespace: keiko
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/part-of: keiko
  policyTypes:
  - Ingress
  - Egress
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app.kubernetes.io/part-of: keiko
    - namespaceSelector:
        matchLabels:
          name: ingress-nginx
  egress:
  - to:
    - podSelector:
        matchLabels:
          app.kubernetes.io/part-of: keiko
  - to: []
    ports:
    - protocol: TCP
      port: 5432  # PostgreSQL
    - protocol: TCP
      port: 6379  # Redis
    - protocol: TCP
      port: 53    # DNS
    - protocol: UDP
      port: 53    # DNS
"""


def pod(namespace: str, ip: str, labels: dict[str, str]) -> dict:
    """A pod of the cluster, as cyclonus's traffic file names it (namespace labels as the API server sets them)."""
    return {"Internal": {"Namespace": namespace, "NamespaceLabels": {"kubernetes.io/metadata.name": namespace},
                         "PodLabels": labels}, "IP": ip}


def service(name: str, ip: str, kind: str = "service") -> dict:
    # The labels roles/gitops_repository puts on a service's pods.
    return pod("keiko", ip, {"app.kubernetes.io/name": name, "app.kubernetes.io/component": kind,
                             "app.kubernetes.io/part-of": "keiko"})


def external(ip: str) -> dict:
    return {"IP": ip}


IDENTITY = service("identity", "10.244.1.10")
LEARNING = service("learning", "10.244.1.11")
GATEWAY = service("gateway", "10.244.1.12", kind="gateway")
KUBE_DNS = pod("kube-system", "10.244.0.10", {"k8s-app": "kube-dns"})
FAKE_DNS = pod("default", "10.244.2.53", {"k8s-app": "kube-dns"})
INGRESS = pod("ingress-nginx", "10.244.3.10", {"app.kubernetes.io/name": "ingress-nginx"})
OTHER = pod("default", "10.244.2.20", {"app": "intruder"})
REDIS = pod("keiko", "10.244.1.30", {"app.kubernetes.io/name": "redis"})
COLLECTOR = pod("observability", "10.244.4.10", {"app.kubernetes.io/name": "otel-collector"})
NOT_COLLECTOR = pod("observability", "10.244.4.11", {"app.kubernetes.io/name": "elasticsearch"})
REPO_SERVER = pod("argocd", "10.244.5.10", {"app.kubernetes.io/name": "argocd-repo-server"})
CONTROLLER = pod("argocd", "10.244.5.11", {"app.kubernetes.io/name": "argocd-application-controller"})
ARGOCD_REDIS = pod("argocd", "10.244.5.12", {"app.kubernetes.io/name": "argocd-redis"})

# (name, from, to, port, port name, protocol, allowed)
CASES = [
    ("service -> service", IDENTITY, LEARNING, 8080, "http", "TCP", True),
    ("service -> kube-dns:53/UDP", IDENTITY, KUBE_DNS, 53, "dns", "UDP", True),
    ("service -> kube-dns:53/TCP", IDENTITY, KUBE_DNS, 53, "dns-tcp", "TCP", True),
    ("service -> 8.8.8.8:53/UDP", IDENTITY, external("8.8.8.8"), 53, "", "UDP", False),
    ("service -> 8.8.8.8:53/TCP", IDENTITY, external("8.8.8.8"), 53, "", "TCP", False),
    ("service -> a kube-dns look-alike in another namespace:53", IDENTITY, FAKE_DNS, 53, "dns", "UDP", False),
    ("service -> database:5432", IDENTITY, external(DATABASE), 5432, "", "TCP", True),
    ("service -> the database's IPv6 address:5432", IDENTITY, external("fd00:10::5"), 5432, "", "TCP", True),
    ("service -> another address:5432", IDENTITY, external("10.100.0.6"), 5432, "", "TCP", False),
    ("service -> database on another port", IDENTITY, external(DATABASE), 6379, "", "TCP", False),
    ("ingress namespace -> gateway", INGRESS, GATEWAY, 8080, "http", "TCP", True),
    ("another namespace -> a service", OTHER, IDENTITY, 8080, "http", "TCP", False),
    ("service -> redis:6379", IDENTITY, REDIS, 6379, "redis", "TCP", True),
    ("service -> collector:4317", IDENTITY, COLLECTOR, 4317, "otlp-grpc", "TCP", True),
    ("service -> collector:4318", IDENTITY, COLLECTOR, 4318, "otlp-http", "TCP", True),
    ("service -> another observability pod:4317", IDENTITY, NOT_COLLECTOR, 4317, "", "TCP", False),
    ("service -> internet:443", IDENTITY, external("93.184.216.34"), 443, "", "TCP", False),
    ("repo-server -> git:443", REPO_SERVER, external(GIT), 443, "", "TCP", True),
    ("repo-server -> git:22", REPO_SERVER, external(GIT), 22, "", "TCP", True),
    ("repo-server -> internet:443", REPO_SERVER, external("93.184.216.34"), 443, "", "TCP", False),
    ("repo-server -> argocd-redis:6379", REPO_SERVER, ARGOCD_REDIS, 6379, "tcp-redis", "TCP", True),
    ("another namespace -> argocd-redis:6379", OTHER, ARGOCD_REDIS, 6379, "tcp-redis", "TCP", False),
    ("a service -> argocd-repo-server:8081", IDENTITY, REPO_SERVER, 8081, "server", "TCP", False),
    ("application-controller -> API server:6443", CONTROLLER, external(APISERVER), 6443, "", "TCP", True),
    ("application-controller -> kube-dns:53", CONTROLLER, KUBE_DNS, 53, "dns", "UDP", True),
    ("argocd-redis -> API server:6443", ARGOCD_REDIS, external(APISERVER), 6443, "", "TCP", False),
]

# What the design's policy gets wrong in the table: the deny cases its `to: []` rule allows (and Argo CD's,
# which it leaves open), and what it forgets (the ingress controller's namespace by its real label, telemetry).
DESIGN_WRONG = {
    "service -> 8.8.8.8:53/UDP", "service -> 8.8.8.8:53/TCP", "service -> a kube-dns look-alike in another namespace:53",
    "service -> another address:5432", "service -> database on another port",
    "ingress namespace -> gateway", "service -> collector:4317", "service -> collector:4318",
    "repo-server -> internet:443", "argocd-redis -> API server:6443",
}


def playbook(tmp: Path, text: str, variables: dict, *args: str) -> subprocess.CompletedProcess:
    book = tmp / "play.yml"
    book.write_text(text)
    (tmp / "vars.json").write_text(json.dumps(dict(variables, ansible_python_interpreter=sys.executable)))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), NO_COLOR="1", ANSIBLE_NOCOLOR="1",
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(book),
                           "-e", f"@{tmp / 'vars.json'}", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


VARS = {
    "network_policies_environment": ENV,
    "network_policies_url": "https://git.example.invalid/keiko/gitops.git",
    "network_policies_branch": "main",
    "network_policies_database_addresses": [DATABASE, "fd00:10::5"],
    "network_policies_apiserver_addresses": [APISERVER],
    "network_policies_git_addresses": [f"{GIT}/32"],
}


@pytest.fixture(scope="module")
def cyclonus() -> Path:
    return cyclonus_build.ensure_binary()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, dict[str, str]]:
    """{flavor: {path: text}}: what the role renders, kubernetes and cilium, in one ansible-playbook run."""
    tmp = tmp_path_factory.mktemp("netpol-render")
    book = """
- name: Render the {flavor} flavor (nothing read or written)
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Render
      ansible.builtin.include_role:
        name: keikolatam.gitops.network_policies
        tasks_from: render
      vars:
        network_policies_flavor: {flavor}
    - name: Keep the rendering
      ansible.builtin.copy:
        content: "{{{{ network_policies_files | to_json }}}}"
        dest: "{{{{ out }}}}/{flavor}.json"
        mode: "0600"
"""
    proc = playbook(tmp, "".join(book.format(flavor=f) for f in ("kubernetes", "cilium")), dict(VARS, out=str(tmp)))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return {f: json.loads((tmp / f"{f}.json").read_text()) for f in ("kubernetes", "cilium")}


def policy_dir(tmp: Path, files: dict[str, str]) -> Path:
    """The NetworkPolicy files of a rendering, one per file as the role writes them (cyclonus reads NetworkPolicy
    objects only: not the kustomization, the Application or a CiliumNetworkPolicy), with the ingress policies
    Argo CD's install manifest puts in its namespace (the cluster has both)."""
    tmp.mkdir()
    for path, text in files.items():
        doc = yaml.safe_load(text)
        if doc.get("kind") == "NetworkPolicy":
            (tmp / Path(path).name).write_text(text)
    for doc in upstream_argocd_policies():
        (tmp / f"upstream_{doc['metadata']['name']}.yaml").write_text(yaml.safe_dump(doc))
    return tmp


@functools.lru_cache(maxsize=1)
def upstream_argocd_policies() -> tuple[dict, ...]:
    mirror = Path(os.environ.get("KEIKO_UPSTREAM_MIRROR") or ROOT.parent / "shared" / "upstream")
    manifest = sorted((mirror / "argocd").glob("install-v*.yaml"))[-1]
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    docs = [d for d in yaml.load_all(manifest.read_text(), Loader=loader) if d and d.get("kind") == "NetworkPolicy"]
    assert len(docs) >= 6, manifest
    return tuple(dict(d, metadata=dict(d["metadata"], namespace="argocd")) for d in docs)


def query(cyclonus: Path, policies: Path, tmp: Path) -> dict[str, bool]:
    """{case name: allowed}, as cyclonus's query-traffic mode answers for CASES."""
    traffic = [{"Source": case[1], "Destination": case[2], "ResolvedPort": case[3], "ResolvedPortName": case[4],
                "Protocol": case[5]} for case in CASES]
    path = tmp / "traffic.json"
    path.write_text(json.dumps(traffic, indent=1))
    proc = subprocess.run([str(cyclonus), "analyze", "--policy-path", str(policies), "--mode", "query-traffic",
                           "--traffic-path", str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    answers = re.findall(r"^\|\s*IS ALLOWED\?\s*\|\s*(TRUE|FALSE)\s*\|", proc.stdout, re.M)
    assert len(answers) == len(CASES), proc.stdout[-3000:]
    return {case[0]: answer == "TRUE" for case, answer in zip(CASES, answers)}


def test_rendered_policies_allow_exactly_the_table(cyclonus, rendered, tmp_path):
    files = rendered["kubernetes"]
    # no rule allows everything: every egress and ingress rule names its peers
    for path, text in files.items():
        doc = yaml.safe_load(text)
        if doc["kind"] == "NetworkPolicy":
            for rule in doc["spec"].get("egress", []) + doc["spec"].get("ingress", []):
                assert rule.get("to", rule.get("from")), (path, rule)
    got = query(cyclonus, policy_dir(tmp_path / "policies", files), tmp_path)
    expected = {case[0]: case[-1] for case in CASES}
    assert {k: v for k, v in got.items() if v != expected[k]} == {}


def test_design_policy_fails_the_table(cyclonus, tmp_path):
    policies = policy_dir(tmp_path / "design", {})  # Argo CD's own policies only
    (policies / "network-policies.yaml").write_text(DESIGN_POLICY)
    got = query(cyclonus, policies, tmp_path)
    wrong = {case[0] for case in CASES if got[case[0]] != case[-1]}
    assert wrong == DESIGN_WRONG
    assert got["service -> 8.8.8.8:53/UDP"] and got["service -> another address:5432"]


def test_cilium_flavor_reaches_the_api_server_by_entity(cyclonus, rendered, tmp_path):
    files = rendered["cilium"]
    cnp = [yaml.safe_load(t) for t in files.values() if yaml.safe_load(t)["kind"] == "CiliumNetworkPolicy"]
    assert len(cnp) == 1 and cnp[0]["apiVersion"] == "cilium.io/v2"
    assert cnp[0]["metadata"]["namespace"] == "argocd"
    assert cnp[0]["spec"]["egress"] == [{"toEntities": ["kube-apiserver"]}]
    assert "argocd-application-controller" in cnp[0]["spec"]["endpointSelector"]["matchExpressions"][0]["values"]
    # No ipBlock for the API server in the NetworkPolicies: the CiliumNetworkPolicy (which cyclonus does not
    # read) allows it; everything else is the same as the kubernetes flavor's.
    assert APISERVER not in "".join(files.values())
    kustomization = yaml.safe_load(files[f"k8s/platform/network-policies/{ENV}/kustomization.yaml"])
    assert "argocd_argocd-apiserver-egress.yaml" in kustomization["resources"]
    got = query(cyclonus, policy_dir(tmp_path / "policies", files), tmp_path)
    expected = {case[0]: case[-1] for case in CASES}
    assert {k: v for k, v in got.items() if v != expected[k]} == {"application-controller -> API server:6443": False}


def test_application_and_layout(rendered):
    files = rendered["kubernetes"]
    database = yaml.safe_load(files[f"k8s/platform/network-policies/{ENV}/keiko_allow-postgresql.yaml"])
    assert database["spec"]["egress"] == [{"to": [{"ipBlock": {"cidr": f"{DATABASE}/32"}}, {"ipBlock": {"cidr": "fd00:10::5/128"}}],
                                           "ports": [{"protocol": "TCP", "port": 5432}]}]
    app = yaml.safe_load(files[f"argocd/{ENV}/platform-network-policies.yaml"])
    assert app["spec"]["project"] == "platform"
    assert app["spec"]["destination"] == {"name": "in-cluster"}
    assert app["spec"]["source"]["path"] == f"k8s/platform/network-policies/{ENV}"
    kustomization = yaml.safe_load(files[f"k8s/platform/network-policies/{ENV}/kustomization.yaml"])
    listed = {f"k8s/platform/network-policies/{ENV}/{name}" for name in kustomization["resources"]}
    assert listed == set(files) - {f"argocd/{ENV}/platform-network-policies.yaml",
                                   f"k8s/platform/network-policies/{ENV}/kustomization.yaml"}


def test_bad_input_fails_before_anything_is_read(tmp_path):
    remote = tmp_path / "remote.git"  # a file:// remote that does not exist: nothing may create or read it
    book = """
- name: The role on bad input
  hosts: localhost
  gather_facts: false
  roles:
    - role: keikolatam.gitops.network_policies
"""
    bad = dict(VARS, network_policies_url=f"file://{remote}", network_policies_kubeconfig=str(tmp_path / "kubeconfig"),
               network_policies_namespaces=["keiko", "Keiko_Prod"], network_policies_database_addresses=["db.example", "10.0.0.300"],
               network_policies_database_port=70000, network_policies_telemetry_ports=[4317, 0],
               network_policies_flavor="calico")
    proc = playbook(tmp_path, book, bad)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for problem in ("the namespace Keiko_Prod is not a DNS label", "the address db.example (network_policies_database_addresses)",
                    "the address 10.0.0.300", "the port 70000 (network_policies_database_port)",
                    "the port 0 (network_policies_telemetry_ports)", "the flavor calico is unknown", "Nothing was changed"):
        assert problem in out, out[-3000:]
    # the first check fails: no task after it ran (no clone of the remote, no kubeconfig looked at)
    assert out.count("fatal:") == 1
    assert "The input of the network policies is well formed" in out.split("fatal:")[0].rsplit("TASK [", 1)[-1]
    assert "Compare the rendering" not in out
    assert not remote.exists()
