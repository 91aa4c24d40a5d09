"""A synthetic but well-formed kubeconfig (what ``POST .../kubeconfig`` returns without localkube)."""

from __future__ import annotations

import base64
import hashlib
import json
import textwrap


def _pem(kind: str, seed: str, size: int) -> str:
    # Deterministic pseudo-DER bytes: the armor and base64 are well formed; the content is not a
    # real certificate (no crypto in the stdlib), which a synthetic endpoint cannot use anyway.
    raw = b""
    counter = 0
    while len(raw) < size:
        raw += hashlib.sha256(f"{seed}:{kind}:{counter}".encode()).digest()
        counter += 1
    raw = b"\x30\x82" + size.to_bytes(2, "big") + raw[:size]
    body = "\n".join(textwrap.wrap(base64.b64encode(raw).decode(), 64))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def synthetic(cluster_name: str, server_url: str, seed: str) -> str:
    """YAML kubeconfig with one cluster, one user (client certificate) and one context."""
    user = json.dumps(f"kubernetes-admin-{cluster_name}")  # JSON strings are YAML scalars
    ctx = json.dumps(f"kubernetes-admin@{cluster_name}")
    cluster_name = json.dumps(cluster_name)
    ca = _b64(_pem("CERTIFICATE", seed + ":ca", 800))
    cert = _b64(_pem("CERTIFICATE", seed + ":client", 700))
    key = _b64(_pem("RSA PRIVATE KEY", seed + ":key", 1190))
    return (
        "apiVersion: v1\n"
        "clusters:\n"
        "- cluster:\n"
        f"    certificate-authority-data: {ca}\n"
        f"    server: {server_url}\n"
        f"  name: {cluster_name}\n"
        "contexts:\n"
        "- context:\n"
        f"    cluster: {cluster_name}\n"
        f"    user: {user}\n"
        f"  name: {ctx}\n"
        f"current-context: {ctx}\n"
        "kind: Config\n"
        "preferences: {}\n"
        "users:\n"
        f"- name: {user}\n"
        "  user:\n"
        f"    client-certificate-data: {cert}\n"
        f"    client-key-data: {key}\n"
    )
