"""Pinned versions of the localargo binaries, read from ``versions.env`` (the one place they live)."""

from __future__ import annotations

from pathlib import Path

from localkube.gobuild import load_versions
from localkube.versions import go_arch

VERSIONS_FILE = Path(__file__).with_name("versions.env")
ARGOCD_MODULE = "github.com/argoproj/argo-cd/v3"
GITOPS_ENGINE_MODULE = "github.com/argoproj/argo-cd/gitops-engine/v3"
KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"
# Each pin: the regular expression its whole value must match, and the form an error names.
PINS = {
    "ARGOCD_VERSION": (r"v\d+\.\d+\.\d+", "vX.Y.Z"),
    "KUSTOMIZE_VERSION": (r"v\d+\.\d+\.\d+", "vX.Y.Z"),
    "GO_TOOLCHAIN": (r"go\d+\.\d+(\.\d+)?", "go1.N.M"),
}

_V = load_versions(VERSIONS_FILE, PINS)
ARGOCD_VERSION: str = _V["ARGOCD_VERSION"]
KUSTOMIZE_VERSION: str = _V["KUSTOMIZE_VERSION"]
GO_TOOLCHAIN: str = _V["GO_TOOLCHAIN"]


def version_key() -> str:
    """Directory name of one set of binaries in the cache: changes whenever a pin changes."""
    return f"argocd-{ARGOCD_VERSION}_kustomize-{KUSTOMIZE_VERSION}_{GO_TOOLCHAIN}_linux-{go_arch()}"
