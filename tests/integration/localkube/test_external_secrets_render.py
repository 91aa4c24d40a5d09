"""The external_secrets role against a file:// GitOps remote and the local control plane with the upstream ESO CRDs.

Three environments in one inventory, so that each step is one ``ansible-playbook`` run for all of them:
``esovh`` (ovh provider, token auth, one ClusterSecretStore), ``esvault`` (Vault with Kubernetes auth, a
SecretStore in each of two namespaces) and ``esbad`` (an unknown store kind, a namespace that is not a DNS label
and an unknown auth method). Check mode commits nothing; converge makes one commit per good environment after the
role's server-side dry run, and none for the bad one (refused before anything is read or written, every problem in
one message); a second run commits nothing. Then every committed object is sent again to the real kube-apiserver
(``kubectl apply --server-side --dry-run=server``, strict field validation) with the upstream CRDs of
``$KEIKO_UPSTREAM_MIRROR/crds`` (ESO v2.9.0, which has the ovh provider) and accepted, a CR with a wrong field is
refused, and no file holds a Secret or a secret value.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
CRDS = ["eso-clustersecretstores.yaml", "eso-secretstores.yaml", "eso-externalsecrets.yaml", "argocd-application.yaml"]
CRD_NAMES = ["clustersecretstores.external-secrets.io", "secretstores.external-secrets.io",
             "externalsecrets.external-secrets.io", "applications.argoproj.io"]
GIT_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
GIT_ENV.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", LC_ALL="C")
OKMS_ID = "734b9b45-8b1a-469c-b140-b10bd6540017"
# What provisioning would have generated: must never reach a rendered file or the output.
SENTINEL = "s3cr3t-Sentinel-Value-9f2c"

PLAYBOOK = """
- name: Render the External Secrets add-on
  hosts: all
  gather_facts: false
  roles:
    - role: keikolatam.gitops.external_secrets
"""


def mirror() -> Path:
    return Path(os.environ.get("KEIKO_UPSTREAM_MIRROR") or ROOT.parent / "shared" / "upstream")


def git(bare, *args):
    return subprocess.run(["git", *args], cwd=bare, env=GIT_ENV, capture_output=True, text=True, timeout=60,
                          check=True).stdout


def kubectl(localkube, *args, check=True, stdin=None):
    proc = subprocess.run([KUBECTL, f"--kubeconfig={localkube.kubeconfig}", *args], capture_output=True, text=True,
                          timeout=120, check=False, input=stdin)
    if check:
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc


@pytest.fixture(scope="module")
def setup(localkube, tmp_path_factory):
    for name in CRDS:  # server-side: the CRDs are over client-side apply's annotation limit
        kubectl(localkube, "apply", "--server-side", "--force-conflicts", "--field-manager=keiko-test", "-f",
                str(mirror() / "crds" / name))
    deadline = time.monotonic() + 60
    while True:  # until the API server serves them
        items = json.loads(kubectl(localkube, "get", "crd", *CRD_NAMES, "-o", "json").stdout)["items"]
        if all(any(c["type"] == "Established" and c["status"] == "True"
                   for c in i.get("status", {}).get("conditions") or []) for i in items):
            break
        assert time.monotonic() < deadline, "the CRDs were not Established within 60 s"
        time.sleep(0.2)
    if kubectl(localkube, "get", "namespace", "argocd", check=False).returncode != 0:
        kubectl(localkube, "create", "namespace", "argocd")
    tmp = tmp_path_factory.mktemp("external-secrets")
    bare = tmp / "gitops.git"
    subprocess.run(["git", "init", "--bare", "-q", "-b", "main", str(bare)], env=GIT_ENV, check=True)
    common = {
        "external_secrets_url": f"file://{bare}",
        "external_secrets_kubeconfig": str(localkube.kubeconfig),
        "external_secrets_services": ["identity", {"name": "learning"}, "gateway"],
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
    }
    hosts = {
        "esovh": {"external_secrets_environment": "esovh", "external_secrets_branch": "esovh",
                  "external_secrets_namespaces": ["keiko-esovh"],
                  "external_secrets_ovh_server": "https://eu-west-rbx.okms.ovh.net",
                  "external_secrets_ovh_okms_id": OKMS_ID,
                  # A provisioning secret among the host's variables: the role must not render it anywhere.
                  "keiko_generated_db_password": SENTINEL},
        "esvault": {"external_secrets_environment": "esvault", "external_secrets_branch": "esvault",
                    "external_secrets_store_kind": "vault", "external_secrets_store_scope": "namespace",
                    "external_secrets_namespaces": ["keiko-esvault-a", "keiko-esvault-b"],
                    "external_secrets_vault_server": "https://vault.keiko.invalid:8200",
                    "external_secrets_services": [{"name": "gateway", "database": True}, "identity"]},
        "esbad": {"external_secrets_environment": "esbad", "external_secrets_branch": "esbad",
                  "external_secrets_store_kind": "aws", "external_secrets_namespaces": ["Keiko_NS"],
                  "external_secrets_ovh_auth": "kubernetes"},
    }
    inventory = {"all": {"vars": common, "hosts": hosts}}
    (tmp / "inventory.json").write_text(json.dumps(inventory))
    book = tmp / "render.yml"
    book.write_text(PLAYBOOK)

    def run(*args):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "OVH_"))}
        env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), NO_COLOR="1", ANSIBLE_NOCOLOR="1",
                   GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", ANSIBLE_FORKS="3",
                   PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        started = time.monotonic()
        proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(tmp / "inventory.json"), str(book), *args],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
        print(f"ansible-playbook {' '.join(args)}: {time.monotonic() - started:.1f} s", file=sys.stderr)
        recap = {host: {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", row)}
                 for host, row in re.findall(r"^(\w+)\s+:\s+(.*)$", proc.stdout, re.M)}
        return proc, recap

    return {"run": run, "bare": bare, "tmp": tmp, "localkube": localkube}


def commits(bare, branch):
    proc = subprocess.run(["git", "rev-list", "--count", branch], cwd=bare, env=GIT_ENV, capture_output=True,
                          text=True, check=False)
    return int(proc.stdout) if proc.returncode == 0 else 0


def branch_files(bare, branch):
    names = git(bare, "ls-tree", "-r", "--name-only", branch).split()
    return {n: git(bare, "show", f"{branch}:{n}") for n in names}


def test_lifecycle_and_api_server(setup):
    run, bare, kube = setup["run"], setup["bare"], setup["localkube"]

    # Check mode with diff: nothing committed for anyone; the bad environment is refused with every problem.
    proc, recap = run("--check", "--diff")
    out = proc.stdout + proc.stderr
    assert recap["esovh"]["failed"] == 0 and recap["esvault"]["failed"] == 0, out
    assert recap["esbad"]["failed"] == 1, out
    assert git(bare, "for-each-ref") == "", "check mode committed"
    for problem in ["the store kind aws is unknown (ovh or vault)", "the namespace Keiko_NS is not a DNS label",
                    "the auth method kubernetes is unknown for ovh"]:
        assert problem in out, (problem, out)
    assert "Nothing was changed" in out
    assert "platform-external-secrets.yaml" in out, "no diff shown in check mode"

    # Converge: one commit per good environment, none for the bad one (refused before the clone).
    proc, recap = run()
    out = proc.stdout + proc.stderr
    assert recap["esovh"]["failed"] == 0 and recap["esvault"]["failed"] == 0, out
    assert recap["esbad"]["failed"] == 1 and "the store kind aws is unknown" in out, out
    assert commits(bare, "esovh") == 1 and commits(bare, "esvault") == 1, out
    assert commits(bare, "esbad") == 0
    assert "Server-side dry run of the add-on" in out

    # Idempotence: nothing changes, no commit.
    proc, recap = run()
    out = proc.stdout + proc.stderr
    assert recap["esovh"]["changed"] == 0 and recap["esvault"]["changed"] == 0, out
    assert commits(bare, "esovh") == 1 and commits(bare, "esvault") == 1
    assert SENTINEL not in out

    ovh = branch_files(bare, "esovh")
    vault = branch_files(bare, "esvault")
    assert set(ovh) == {
        "argocd/esovh/platform-external-secrets.yaml", "argocd/esovh/platform-external-secrets-operator.yaml",
        "k8s/platform/external-secrets/esovh/kustomization.yaml",
        "k8s/platform/external-secrets/esovh/cluster_clustersecretstore_keiko-secrets.yaml",
        "k8s/platform/external-secrets/esovh/keiko-esovh_externalsecret_identity-db.yaml",
        "k8s/platform/external-secrets/esovh/keiko-esovh_externalsecret_learning-db.yaml",
        "k8s/platform/external-secrets/esovh/keiko-esovh_externalsecret_keiko-registry.yaml",
    }, sorted(ovh)
    # The gateway has no database unless it says so.
    assert "k8s/platform/external-secrets/esvault/keiko-esvault-b_externalsecret_gateway-db.yaml" in vault
    assert "k8s/platform/external-secrets/esvault/keiko-esvault-a_secretstore_keiko-secrets.yaml" in vault

    objects = []
    for files in (ovh, vault):
        for path, text in files.items():
            assert SENTINEL not in text, path
            for doc in yaml.safe_load_all(text):
                if doc and doc.get("kind") != "Kustomization":
                    objects.append(doc)
    kinds = {o["kind"] for o in objects}
    assert kinds == {"ClusterSecretStore", "SecretStore", "ExternalSecret", "ServiceAccount", "Application"}, kinds
    # No Secret, no literal secret data: the values stay in the secret manager.
    assert not [o for o in objects if "data" in o or "stringData" in o]
    store = next(o for o in objects if o["kind"] == "ClusterSecretStore")
    assert store["spec"]["provider"]["ovh"] == {
        "server": "https://eu-west-rbx.okms.ovh.net", "okmsid": OKMS_ID,
        "auth": {"token": {"tokenSecretRef": {"name": "ovh-secret-manager", "key": "token",
                                              "namespace": "external-secrets"}}}}
    assert {o["apiVersion"] for o in objects if o["kind"].endswith(("SecretStore", "ExternalSecret"))} == {
        "external-secrets.io/v1"}
    db = next(o for o in objects if o["kind"] == "ExternalSecret" and o["metadata"]["name"] == "identity-db")
    assert [d["secretKey"] for d in db["spec"]["data"]] == ["user", "password", "host", "port", "database", "sslmode"]
    assert {d["remoteRef"]["key"] for d in db["spec"]["data"]} == {"keiko/esovh/identity/database"}
    registry = next(o for o in objects if o["metadata"]["name"] == "keiko-registry")
    assert registry["spec"]["target"]["template"]["type"] == "kubernetes.io/dockerconfigjson"
    # ESO's own template reached git untouched (Ansible did not template it), and builds the JSON with toJson.
    dockerconfig = registry["spec"]["target"]["template"]["data"][".dockerconfigjson"]
    assert dockerconfig.startswith('{"auths":{{ dict .server (dict "username" .username') and "| toJson }}}" in dockerconfig
    assert [d["remoteRef"]["key"] for d in registry["spec"]["data"]] == ["keiko/esovh/registry"] * 3

    # Every object is accepted by the real API server (strict field validation), in namespaces that exist.
    for ns in sorted({o["metadata"]["namespace"] for o in objects if "namespace" in o["metadata"]}):
        if kubectl(kube, "get", "namespace", ns, check=False).returncode != 0:
            kubectl(kube, "create", "namespace", ns)
    stream = "\n---\n".join(yaml.safe_dump(o) for o in objects)
    proc = kubectl(kube, "apply", "--server-side", "--dry-run=server", "--validate=strict",
                   "--field-manager=keiko-test", "-f", "-", stdin=stream)
    assert proc.stdout.count("(server dry run)") == len(objects), proc.stdout

    # The check can fail: a wrong field, a wrong enum value and an unknown auth are refused.
    bad = json.loads(json.dumps(db))
    bad["spec"]["target"]["templat"] = {"type": "Opaque"}
    bad_store = json.loads(json.dumps(store))
    bad_store["spec"]["provider"]["ovh"]["auth"] = {"kubernetes": {"role": "x"}}
    bad_kind = json.loads(json.dumps(db))
    bad_kind["spec"]["secretStoreRef"]["kind"] = "VaultStore"
    for obj, needle in ((bad, "templat"), (bad_store, "kubernetes"), (bad_kind, "VaultStore")):
        proc = kubectl(kube, "apply", "--server-side", "--dry-run=server", "--validate=strict",
                       "--field-manager=keiko-test", "-f", "-", stdin=yaml.safe_dump(obj), check=False)
        assert proc.returncode != 0 and needle in proc.stderr, (needle, proc.stdout, proc.stderr)
    # Nothing was persisted by the dry runs (the role's and ours).
    assert kubectl(kube, "get", "externalsecrets.external-secrets.io", "-A", "-o", "name").stdout.strip() == ""
