"""Pinned versions of the localkube binaries, read from ``versions.env`` (the one place they live)."""

from __future__ import annotations

import platform
from pathlib import Path

from .gobuild import load_versions

VERSIONS_FILE = Path(__file__).with_name("versions.env")
# Each pin: the regular expression its whole value must match, and the form an error names.
PINS = {key: (r"v.*", "vX.Y.Z") for key in ("KUBERNETES_VERSION", "ETCD_VERSION", "KWOK_VERSION")}

_V = load_versions(VERSIONS_FILE, PINS)
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
