"""The molecule scenario of the external_secrets role (extensions/molecule/external_secrets), in one
``molecule test -s external_secrets --destroy never`` on the session's control plane (``addon_molecule``) and a
file:// GitOps remote, for two environments at once: ``molecule`` (ovh provider, token auth, one ClusterSecretStore,
branch main) and ``molecule-vault`` (Vault with Kubernetes auth, a SecretStore in each of two namespaces, branch
vault), with the upstream ESO v2.9.0 and Application CRDs of ``$KEIKO_UPSTREAM_MIRROR/crds`` loaded.

Check mode (with diff) commits nothing; converge makes one commit per environment after the role's server-side dry
run; idempotence changes nothing; verify has the API server accept every committed object (strict field validation),
refuse a wrong field, a wrong enum value and an unknown ovh auth, persist none, and the role refuse bad input (an
unknown store kind, a namespace that is not a DNS label, an unknown auth) with every problem in one message, in check
mode and for real, before the clone. Here: what the branches hold, and a provisioning secret among the host's
variables in no file and no output.
"""

from __future__ import annotations

import base64
import os

import yaml

from conftest import recap

OKMS_ID = "734b9b45-8b1a-469c-b140-b10bd6540017"
HOSTS = ("localkube", "localkube-vault")


def commit_task(out: str, host: str) -> str:
    """What the role's commit task reported for ``host``: changed, ok or skipping."""
    section = out.split("TASK [keikolatam.gitops.external_secrets : Commit and push")[1].split("TASK [")[0]
    for state in ("changed", "ok", "skipping"):
        if f"{state}: [{host}]" in section:
            return state
    raise AssertionError(section)


def branch_files(run, branch):
    names = run.git("ls-tree", "-r", "--name-only", branch).split()
    return {n: run.git("show", f"{branch}:{n}") for n in names}


def test_external_secrets_scenario(addon_molecule):
    secret = "s3cr3t-" + base64.urlsafe_b64encode(os.urandom(12)).decode()
    run = addon_molecule("external_secrets", MOLECULE_PROVISIONING_SECRET=secret)
    check, converge, idempotence, verify = (run.step(s) for s in ("check", "converge", "idempotence", "verify"))
    # check mode predicts each commit and shows the files (--diff); converge still has them to make: check made none
    assert all(commit_task(check, h) == "changed" for h in HOSTS) and "platform-external-secrets.yaml" in check
    assert all(commit_task(converge, h) == "changed" for h in HOSTS)
    assert "Server-side dry run of the add-on" in converge
    assert all(commit_task(idempotence, h) == "skipping" for h in HOSTS)
    assert all(recap(idempotence)[h]["changed"] == 0 for h in HOSTS), idempotence[-3000:]
    for done in ("The API server accepts every store, ExternalSecret and ServiceAccount",
                 "The API server refuses a wrong field", "The role applied none",
                 "Refused by the input check, every problem in one message"):
        assert done in verify, done
    assert secret not in run.out

    ovh, vault = branch_files(run, "main"), branch_files(run, "vault")
    assert set(ovh) == {
        "argocd/molecule/platform-external-secrets.yaml", "argocd/molecule/platform-external-secrets-operator.yaml",
        "k8s/platform/external-secrets/molecule/kustomization.yaml",
        "k8s/platform/external-secrets/molecule/cluster_clustersecretstore_keiko-secrets.yaml",
        "k8s/platform/external-secrets/molecule/keiko-eso_externalsecret_identity-db.yaml",
        "k8s/platform/external-secrets/molecule/keiko-eso_externalsecret_learning-db.yaml",
        "k8s/platform/external-secrets/molecule/keiko-eso_externalsecret_keiko-registry.yaml",
    }, sorted(ovh)
    # The gateway has no database unless it says so.
    assert "k8s/platform/external-secrets/molecule-vault/keiko-esvault-b_externalsecret_gateway-db.yaml" in vault
    assert "k8s/platform/external-secrets/molecule-vault/keiko-esvault-a_secretstore_keiko-secrets.yaml" in vault

    objects = []
    for files in (ovh, vault):
        for path, text in files.items():
            assert secret not in text, path
            objects.extend(d for d in yaml.safe_load_all(text) if d and d.get("kind") != "Kustomization")
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
    db = next(o for o in objects if o["kind"] == "ExternalSecret" and o["metadata"]["name"] == "identity-db"
              and o["metadata"]["namespace"] == "keiko-eso")
    assert [d["secretKey"] for d in db["spec"]["data"]] == ["user", "password", "host", "port", "database", "sslmode"]
    assert {d["remoteRef"]["key"] for d in db["spec"]["data"]} == {"keiko/molecule/identity/database"}
    registry = next(o for o in objects if o["metadata"]["name"] == "keiko-registry"
                    and o["metadata"]["namespace"] == "keiko-eso")
    assert registry["spec"]["target"]["template"]["type"] == "kubernetes.io/dockerconfigjson"
    # ESO's own template reached git untouched (Ansible did not template it), and builds the JSON with toJson.
    dockerconfig = registry["spec"]["target"]["template"]["data"][".dockerconfigjson"]
    assert dockerconfig.startswith('{"auths":{{ dict .server (dict "username" .username') and "| toJson }}}" in dockerconfig
    assert [d["remoteRef"]["key"] for d in registry["spec"]["data"]] == ["keiko/molecule/registry"] * 3
