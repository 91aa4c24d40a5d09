"""Pinned versions of the localkube binaries, read from ``versions.env`` (the one place they live)."""

from __future__ import annotations

import platform
from pathlib import Path

VERSIONS_FILE = Path(__file__).with_name("versions.env")


def _load(path: Path = VERSIONS_FILE) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: malformed line {raw!r}")
        values[key.strip()] = value.strip().strip('"').strip("'")
    for key in ("KUBERNETES_VERSION", "ETCD_VERSION", "KWOK_VERSION"):
        if not values.get(key, "").startswith("v"):
            raise ValueError(f"{path}: {key} missing or not of the form vX.Y.Z")
    return values


_V = _load()
KUBERNETES_VERSION: str = _V["KUBERNETES_VERSION"]
ETCD_VERSION: str = _V["ETCD_VERSION"]
KWOK_VERSION: str = _V["KWOK_VERSION"]


def go_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def version_key() -> str:
    """Directory name of one set of binaries in the cache: changes whenever a pin changes."""
    return f"k8s-{KUBERNETES_VERSION}_etcd-{ETCD_VERSION}_kwok-{KWOK_VERSION}_linux-{go_arch()}"


def staging_version(kube_version: str = KUBERNETES_VERSION) -> str:
    """k8s.io/kubernetes v1.33.13 publishes its staging modules (k8s.io/api, ...) as v0.33.13."""
    major, dummy, rest = kube_version.lstrip("v").partition(".")
    if major != "1":
        raise ValueError(f"unexpected Kubernetes version {kube_version}")
    return f"v0.{rest}"
