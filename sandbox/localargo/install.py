"""Server-side apply of the upstream Argo CD install manifest (for tests and a sandbox without the
``argocd`` role): the namespace, then every object of the manifest, CRDs first and Established.

The manifest's namespaced objects carry no namespace (upstream applies it with ``-n argocd``); its
ClusterRoleBindings name ServiceAccounts in ``argocd``, so another namespace is refused.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import yaml

from localkube.crds import mirror_dir
from localkube.kubeapi import KubeClient, KubeError

from . import build
from . import versions as V

FIELD_MANAGER = "localargo"


def mirror_manifest() -> Path:
    """``$KEIKO_UPSTREAM_MIRROR/argocd/install-<version>.yaml`` (default /work/shared/upstream)."""
    return mirror_dir() / "argocd" / f"install-{V.ARGOCD_VERSION}.yaml"


def default_manifest() -> Path:
    """The mirror copy if there is one, else the copy in the Go module of the release."""
    m = mirror_manifest()
    return m if m.is_file() else build.install_manifest()


class _Resources:
    """kind -> (API path prefix, plural, namespaced) from discovery."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self.cache: dict[str, dict] = {}

    def lookup(self, api_version: str, kind: str) -> tuple[str, str, bool]:
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if prefix not in self.cache:
            self.cache[prefix] = self.client.get(prefix)
        for r in self.cache[prefix].get("resources", []):
            if r["kind"] == kind and "/" not in r["name"]:
                return prefix, r["name"], r["namespaced"]
        raise KeyError(f"{api_version} {kind} not served")


def _wait_established(client: KubeClient, name: str, timeout: float) -> None:
    end = time.monotonic() + timeout
    while True:
        obj = client.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        conds = {c["type"]: c["status"] for c in ((obj.get("status") or {}).get("conditions") or [])}
        if conds.get("Established") == "True":
            return
        if time.monotonic() > end:
            raise TimeoutError(f"CRD {name} not Established after {timeout}s")
        time.sleep(0.1)


def apply_install(kubeconfig: str | os.PathLike, manifest: str | os.PathLike | None = None,
                  namespace: str = "argocd", field_manager: str = FIELD_MANAGER, timeout: float = 60.0) -> list[str]:
    """Apply the manifest server-side; returns ``Kind/name`` of every applied object."""
    if namespace != "argocd":
        raise ValueError("the upstream install manifest binds ServiceAccounts of namespace argocd only")
    path = Path(manifest) if manifest else default_manifest()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as fh:
        docs = [d for d in yaml.load_all(fh, Loader=loader) if d]
    docs.sort(key=lambda d: d["kind"] != "CustomResourceDefinition")
    applied = []
    with KubeClient(kubeconfig, timeout=60) as client:
        client.apply(f"/api/v1/namespaces/{namespace}",
                     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}, field_manager)
        res = _Resources(client)
        crds_done = False
        for doc in docs:
            if doc["kind"] != "CustomResourceDefinition" and not crds_done:
                for d in docs:
                    if d["kind"] == "CustomResourceDefinition":
                        _wait_established(client, d["metadata"]["name"], timeout)
                crds_done = True
            prefix, plural, namespaced = res.lookup(doc["apiVersion"], doc["kind"])
            name = doc["metadata"]["name"]
            if namespaced:
                doc = {**doc, "metadata": {**doc["metadata"], "namespace": namespace}}
                url = f"{prefix}/namespaces/{namespace}/{plural}/{name}"
            else:
                url = f"{prefix}/{plural}/{name}"
            try:
                client.apply(url, doc, field_manager)
            except KubeError as err:
                raise KubeError(err.status, "PATCH", url, err.body) from None
            applied.append(f"{doc['kind']}/{name}")
    return applied
