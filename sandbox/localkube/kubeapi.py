"""A very small Kubernetes REST client on the standard library (plus PyYAML for kubeconfig files).

Import time matters here: the OVH API emulator calls ``localkube.nodes`` on every node-pool change,
and importing the ``kubernetes`` client package alone takes about a second. This client reads a
kubeconfig (client certificate/key as files or data, bearer token, CA as file or data), keeps one
keep-alive HTTPS connection, and speaks JSON.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

import yaml


class KubeError(RuntimeError):
    def __init__(self, status: int, method: str, path: str, body: str) -> None:
        self.status = status
        self.body = body
        try:
            detail = json.loads(body)
        except ValueError:
            detail = {}
        self.reason = detail.get("reason", "")
        self.message = detail.get("message", body[:500])
        super().__init__(f"{method} {path}: HTTP {status} {self.reason}: {self.message}")


def _material(entry: dict, key: str, base: Path, tmp: Path) -> str | None:
    """Path of a kubeconfig ``key`` (file) or ``key-data`` (base64) entry, written to tmp if data."""
    if entry.get(f"{key}-data"):
        path = tmp / key
        path.write_bytes(base64.b64decode(entry[f"{key}-data"]))
        return str(path)
    if entry.get(key):
        p = Path(os.path.expanduser(entry[key]))
        return str(p if p.is_absolute() else base / p)
    return None


class KubeClient:
    def __init__(self, kubeconfig: str | os.PathLike, context: str | None = None, timeout: float = 30.0) -> None:
        path = Path(kubeconfig)
        cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        ctx_name = context or cfg.get("current-context")
        ctx = next((c["context"] for c in cfg.get("contexts", []) if c["name"] == ctx_name), None)
        if ctx is None:
            raise ValueError(f"{path}: context {ctx_name!r} not found")
        cluster = next(c["cluster"] for c in cfg.get("clusters", []) if c["name"] == ctx["cluster"])
        user = next((u["user"] for u in cfg.get("users", []) if u["name"] == ctx.get("user")), {}) or {}
        url = urllib.parse.urlsplit(cluster["server"])
        if url.scheme != "https":
            raise ValueError(f"{path}: only https servers are supported, got {cluster['server']}")
        self.host = url.hostname
        self.port = url.port or 443
        self.prefix = url.path.rstrip("/")
        self.timeout = timeout
        self.token = user.get("token")
        with tempfile.TemporaryDirectory(prefix="localkube-kc-") as tmpd:
            tmp = Path(tmpd)
            ca = _material(cluster, "certificate-authority", path.parent, tmp)
            ctxssl = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
            if cluster.get("insecure-skip-tls-verify"):
                ctxssl.check_hostname = False
                ctxssl.verify_mode = ssl.CERT_NONE
            cert = _material(user, "client-certificate", path.parent, tmp)
            key = _material(user, "client-key", path.parent, tmp)
            if cert and key:
                ctxssl.load_cert_chain(cert, key)
        self.ssl = ctxssl
        self._conn: http.client.HTTPSConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "KubeClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _connection(self) -> http.client.HTTPSConnection:
        if self._conn is None:
            self._conn = http.client.HTTPSConnection(self.host, self.port, context=self.ssl, timeout=self.timeout)
        return self._conn

    def request(self, method: str, path: str, body: Any = None, query: dict | None = None,
                content_type: str = "application/json", raw: bool = False) -> Any:
        full = self.prefix + path
        if query:
            full += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if isinstance(data, str):
                data = data.encode()
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in (1, 2):  # one retry when a kept-alive connection was closed by the server
            conn = self._connection()
            try:
                conn.request(method, full, body=data, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.CannotSendRequest):
                self.close()
                if attempt == 2:
                    raise
        text = payload.decode("utf-8", "replace")
        if resp.status >= 400:
            raise KubeError(resp.status, method, full, text)
        if raw:
            return text
        return json.loads(text) if text.strip().startswith(("{", "[")) else text

    # Convenience wrappers -------------------------------------------------------------------
    def get(self, path: str, **query) -> Any:
        return self.request("GET", path, query=query or None)

    def get_or_none(self, path: str) -> Any:
        try:
            return self.get(path)
        except KubeError as err:
            if err.status == 404:
                return None
            raise

    def create(self, path: str, obj: dict) -> Any:
        return self.request("POST", path, obj)

    def delete(self, path: str, missing_ok: bool = True, **query) -> Any:
        try:
            return self.request("DELETE", path, query=query or None)
        except KubeError as err:
            if missing_ok and err.status == 404:
                return None
            raise

    def merge_patch(self, path: str, patch: dict) -> Any:
        return self.request("PATCH", path, patch, content_type="application/merge-patch+json")

    def apply(self, path: str, obj: dict, field_manager: str = "localkube", force: bool = True) -> Any:
        """Server-side apply of ``obj`` at its object path (``.../<resource>/<name>``)."""
        query = {"fieldManager": field_manager, "force": "true" if force else None}
        return self.request("PATCH", path, obj, query=query, content_type="application/apply-patch+yaml")
