"""Simulated nodes: kwok-managed Node objects grouped in OVH-style node pools.

The OVH API emulator calls :func:`sync_pool_nodes` whenever it creates or scales a node pool and
:func:`delete_pool_nodes` when it deletes one. One call is a couple of HTTP requests on one
keep-alive connection (no ``kubernetes`` client import, no kubectl), well under a second.

kwok (started by ``localkube up`` with ``--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake``)
then keeps the nodes Ready and their leases fresh, and plays the kubelet for pods bound to them.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from typing import Mapping

from .kubeapi import KubeClient, KubeError
from .versions import KUBERNETES_VERSION

POOL_LABEL = "nodepool"
OVH_POOL_LABEL = "node.k8s.ovh.net/nodepool"
FLAVOR_LABEL = "node.kubernetes.io/instance-type"
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_ANNOTATION_VALUE = "fake"

# vCPU and RAM (GiB) of the common OVHcloud Public Cloud flavors; others fall back to _capacity().
FLAVORS: dict[str, tuple[int, int]] = {
    "b2-7": (2, 7), "b2-15": (4, 15), "b2-30": (8, 30), "b2-60": (16, 60), "b2-120": (32, 120),
    "b3-8": (2, 8), "b3-16": (4, 16), "b3-32": (8, 32), "b3-64": (16, 64), "b3-128": (32, 128),
    "c2-7": (2, 7), "c2-15": (4, 15), "c2-30": (8, 30), "c2-60": (16, 60), "c2-120": (32, 120),
    "c3-4": (2, 4), "c3-8": (4, 8), "c3-16": (8, 16), "c3-32": (16, 32), "c3-64": (32, 64),
    "d2-2": (1, 2), "d2-4": (2, 4), "d2-8": (4, 8),
    "r2-15": (2, 15), "r2-30": (2, 30), "r2-60": (4, 60), "r2-120": (8, 120),
    "r3-16": (2, 16), "r3-32": (4, 32), "r3-64": (8, 64), "r3-128": (16, 128),
}

_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def _capacity(flavor: str) -> tuple[int, int]:
    if flavor in FLAVORS:
        return FLAVORS[flavor]
    m = re.match(r"^[a-z]+\d*-(\d+)", flavor or "")
    ram = int(m.group(1)) if m else 8
    return max(1, min(64, ram // 4 or 1)), ram


def _node_ip(name: str) -> str:
    """A stable, distinct-looking private address per node (10.240.0.0/16, like a vRack subnet)."""
    h = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
    return f"10.240.{(h >> 8) % 256}.{h % 254 + 1}"


def _node_name_prefix(pool_name: str) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", pool_name.lower()).strip("-") or "pool"
    return f"{base[:200]}-node-"


def _pool_selector(pool_name: str) -> str:
    return f"{POOL_LABEL}={pool_name}"


def _check(pool_name: str, flavor: str, count: int) -> None:
    if not pool_name or not _LABEL_VALUE.match(pool_name):
        raise ValueError(f"pool name {pool_name!r} is not a valid label value")
    if not flavor or not _LABEL_VALUE.match(flavor):
        raise ValueError(f"flavor {flavor!r} is not a valid label value")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValueError(f"count must be an integer >= 0, got {count!r}")


def pool_labels(pool_name: str, flavor: str, node_name: str, labels: Mapping[str, str] | None = None) -> dict[str, str]:
    out = {
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "type": "kwok",
    }
    out.update(labels or {})
    out.update({
        POOL_LABEL: pool_name,
        OVH_POOL_LABEL: pool_name,
        FLAVOR_LABEL: flavor,
        "beta.kubernetes.io/instance-type": flavor,
        "kubernetes.io/hostname": node_name,
    })
    return out


def node_manifest(name: str, pool_name: str, flavor: str, labels: Mapping[str, str] | None = None) -> dict:
    cpu, ram = _capacity(flavor)
    resources = {"cpu": str(cpu), "memory": f"{ram}Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": pool_labels(pool_name, flavor, name, labels),
            "annotations": {KWOK_ANNOTATION: KWOK_ANNOTATION_VALUE, "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": KUBERNETES_VERSION,
                "kubeProxyVersion": KUBERNETES_VERSION,
                "containerRuntimeVersion": "kwok",
                "osImage": "kwok simulated node",
                "kernelVersion": "",
                "machineID": "", "systemUUID": "", "bootID": "",
            },
            "addresses": [{"type": "InternalIP", "address": _node_ip(name)}, {"type": "Hostname", "address": name}],
            "phase": "Running",
        },
    }


def _client(kubeconfig) -> KubeClient:
    return kubeconfig if isinstance(kubeconfig, KubeClient) else KubeClient(kubeconfig)


def list_pool_nodes(kubeconfig, pool_name: str) -> list[dict]:
    """Node objects of a pool, oldest first."""
    client = _client(kubeconfig)
    items = client.get("/api/v1/nodes", labelSelector=_pool_selector(pool_name))["items"]
    return sorted(items, key=lambda n: (n["metadata"].get("creationTimestamp", ""), n["metadata"]["name"]))


def sync_pool_nodes(kubeconfig: str | os.PathLike, pool_name: str, flavor: str, count: int,
                    labels: Mapping[str, str] | None = None) -> list[str]:
    """Create or delete kwok nodes so that exactly ``count`` nodes carry ``nodepool=<pool_name>``.

    New nodes are named ``<pool>-node-<6 hex>`` (like OVH's) and carry ``nodepool``,
    ``node.k8s.ovh.net/nodepool``, ``node.kubernetes.io/instance-type=<flavor>``,
    ``kubernetes.io/hostname`` and any extra ``labels``, plus the ``kwok.x-k8s.io/node=fake``
    annotation. Existing nodes whose labels differ (flavor or extra labels changed) are patched.
    On scale-down the newest nodes go first. Returns the pool's node names, sorted.
    Does not wait for kwok to mark new nodes Ready (see :func:`wait_pool_ready`).
    """
    _check(pool_name, flavor, count)
    client = _client(kubeconfig)
    try:
        current = list_pool_nodes(client, pool_name)
        keep, extra = current[:count], current[count:]
        for node in reversed(extra):
            client.delete(f"/api/v1/nodes/{node['metadata']['name']}")
        names = []
        for node in keep:
            name = node["metadata"]["name"]
            want = pool_labels(pool_name, flavor, name, labels)
            have = node["metadata"].get("labels") or {}
            if any(have.get(k) != v for k, v in want.items()):
                client.merge_patch(f"/api/v1/nodes/{name}", {"metadata": {"labels": want}})
            names.append(name)
        prefix = _node_name_prefix(pool_name)
        while len(names) < count:
            name = prefix + secrets.token_hex(3)
            try:
                client.create("/api/v1/nodes", node_manifest(name, pool_name, flavor, labels))
            except KubeError as err:
                if err.status == 409:  # name collision: draw another suffix
                    continue
                raise
            names.append(name)
        return sorted(names)
    finally:
        if client is not kubeconfig:
            client.close()


def delete_pool_nodes(kubeconfig: str | os.PathLike, pool_name: str) -> list[str]:
    """Delete every node labelled ``nodepool=<pool_name>``; returns the names deleted, sorted."""
    _check(pool_name, "x", 0)
    client = _client(kubeconfig)
    try:
        names = sorted(n["metadata"]["name"] for n in list_pool_nodes(client, pool_name))
        for name in names:
            client.delete(f"/api/v1/nodes/{name}")
        return names
    finally:
        if client is not kubeconfig:
            client.close()


def _ready(node: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def wait_pool_ready(kubeconfig: str | os.PathLike, pool_name: str, count: int | None = None,
                    timeout: float = 30.0) -> list[str]:
    """Wait until the pool has ``count`` nodes (default: however many it has) and all are Ready."""
    client = _client(kubeconfig)
    deadline = time.monotonic() + timeout
    try:
        while True:
            nodes = list_pool_nodes(client, pool_name)
            ready = [n["metadata"]["name"] for n in nodes if _ready(n)]
            if (count is None or len(nodes) == count) and len(ready) == len(nodes):
                return sorted(ready)
            if time.monotonic() > deadline:
                raise TimeoutError(f"pool {pool_name}: {len(ready)}/{len(nodes)} nodes Ready "
                                   f"(want {count if count is not None else len(nodes)}) after {timeout}s")
            time.sleep(0.2)
    finally:
        if client is not kubeconfig:
            client.close()
