"""Upstream CustomResourceDefinitions from the read-only mirror (never copied into the repository).

The mirror is ``${KEIKO_UPSTREAM_MIRROR:-<repo>/../shared/upstream}``; CRDs live in its ``crds/``.
They are server-side applied: several exceed the 262,144-byte annotation limit of client-side apply.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Iterable

import yaml

from .kubeapi import KubeClient

REPO_ROOT = Path(__file__).resolve().parents[2]
HASH_ANNOTATION = "localkube.keikolatam.dev/applied-sha256"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def mirror_dir() -> Path:
    return Path(os.environ.get("KEIKO_UPSTREAM_MIRROR") or REPO_ROOT.parent / "shared" / "upstream")


def crd_dir() -> Path:
    return mirror_dir() / "crds"


def _parse(path: Path) -> list[dict]:
    """YAML documents of ``path``; parsing MBs of YAML is slow, so the result is kept as JSON in the
    localkube cache, keyed by path, size and mtime (the mirror is read-only)."""
    from .build import cache_root

    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:32]
    cached = cache_root() / "crd-json" / f"{key}.json"
    try:
        return json.loads(cached.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    docs = [d for d in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_Loader) if d]
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(docs), encoding="utf-8")
        os.replace(tmp, cached)
    except OSError:
        pass
    return docs


def load_crds(names: Iterable[str] | None = None) -> list[dict]:
    """CRD documents from the mirror. ``names`` selects by file stem (``eso-externalsecrets``), file
    name, or CRD name (``externalsecrets.external-secrets.io``); None means all of them."""
    directory = crd_dir()
    files = sorted(p for p in directory.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    if not files:
        raise FileNotFoundError(f"no CRD files in {directory} (set KEIKO_UPSTREAM_MIRROR)")
    wanted = set(names) if names is not None else None
    if wanted is not None and wanted <= {p.stem for p in files} | {p.name for p in files}:
        files = [p for p in files if p.stem in wanted or p.name in wanted]  # skip parsing the rest
    found: set[str] = set()
    out: list[dict] = []
    for path in files:
        for doc in _parse(path):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            crd_name = doc["metadata"]["name"]
            keys = {path.stem, path.name, crd_name}
            if wanted is None or keys & wanted:
                found |= keys & (wanted or set())
                out.append(doc)
    if wanted is not None and wanted - found:
        raise KeyError(f"CRDs not found in {directory}: {sorted(wanted - found)}")
    return out


def _established(crd: dict) -> bool:
    conds = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conds)


def apply_crds(kubeconfig: str | os.PathLike, names: Iterable[str] | None = None, timeout: float = 60.0) -> list[str]:
    """Server-side apply CRDs from the mirror and wait until each is Established.

    Returns the applied CRD names. Raises TimeoutError if they are not Established in time.
    """
    docs = load_crds(names)
    with KubeClient(kubeconfig, timeout=max(30.0, timeout)) as client:
        applied = []
        for doc in docs:
            name = doc["metadata"]["name"]
            doc = {k: v for k, v in doc.items() if k != "status"}
            digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
            current = client.get_or_none(f"{CRD_PATH}/{name}")
            annotations = ((current or {}).get("metadata") or {}).get("annotations") or {}
            # Re-applying a multi-megabyte CRD costs the API server many seconds of CPU (structured
            # merge diff); skip it when the same document was applied before.
            if annotations.get(HASH_ANNOTATION) != digest:
                meta = dict(doc.get("metadata") or {})
                meta["annotations"] = {**(meta.get("annotations") or {}), HASH_ANNOTATION: digest}
                client.apply(f"{CRD_PATH}/{name}", {**doc, "metadata": meta}, field_manager="localkube")
            applied.append(name)
        deadline = time.monotonic() + timeout
        pending = list(applied)
        while pending:
            pending = [n for n in pending if not _established(client.get(f"{CRD_PATH}/{n}"))]
            if not pending:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRDs not Established after {timeout}s: {pending}")
            time.sleep(0.2)
    return applied
