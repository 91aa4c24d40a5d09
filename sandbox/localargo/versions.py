"""Pinned versions of the localargo binaries, read from ``versions.env`` (the one place they live)."""

from __future__ import annotations

import re
from pathlib import Path

from localkube.versions import go_arch

VERSIONS_FILE = Path(__file__).with_name("versions.env")
ARGOCD_MODULE = "github.com/argoproj/argo-cd/v3"
GITOPS_ENGINE_MODULE = "github.com/argoproj/argo-cd/gitops-engine/v3"
KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"


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
    for key in ("ARGOCD_VERSION", "KUSTOMIZE_VERSION"):
        if not re.fullmatch(r"v\d+\.\d+\.\d+", values.get(key, "")):
            raise ValueError(f"{path}: {key} missing or not of the form vX.Y.Z")
    if not re.fullmatch(r"go\d+\.\d+(\.\d+)?", values.get("GO_TOOLCHAIN", "")):
        raise ValueError(f"{path}: GO_TOOLCHAIN missing or not of the form go1.N.M")
    return values


_V = _load()
ARGOCD_VERSION: str = _V["ARGOCD_VERSION"]
KUSTOMIZE_VERSION: str = _V["KUSTOMIZE_VERSION"]
GO_TOOLCHAIN: str = _V["GO_TOOLCHAIN"]


def version_key() -> str:
    """Directory name of one set of binaries in the cache: changes whenever a pin changes."""
    return f"argocd-{ARGOCD_VERSION}_kustomize-{KUSTOMIZE_VERSION}_{GO_TOOLCHAIN}_linux-{go_arch()}"
