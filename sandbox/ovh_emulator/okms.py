"""OVHcloud Secret Manager's HashiCorp Vault KV2-compatible API, on the OKMS domain of the sandbox.

The real API is regional (``https://eu-west-rbx.okms.ovh.net``) and puts the OKMS domain's ID in the path
(OVHcloud guide "Using the Secret Manager with the HashiCorp Vault KV2 compliant API"); ESO's ``ovh`` provider
and the collection's ``secret_manager_secret`` module authenticate with a token in ``X-Vault-Token`` (OVH's
Vault-compatible endpoint accepts token auth only). Served here, with Vault's KV v2 answer shapes:

    /api/{okmsId}/v1/secret/data/{path}        GET    the latest version ({"data": {"data", "metadata"}})
                                               POST   a new version; ``options.cas`` checked (0: must not exist)
                                               DELETE soft-deletes the latest version (204)
    /api/{okmsId}/v1/secret/metadata/{path}    GET    versions, current_version, cas_required...
                                               DELETE the secret and all its versions (204)

As strict as the real one: without a token, or with one the domain does not know, every route answers 403
``{"errors": ["permission denied"]}`` (Vault's shape); an unknown domain 404; a body that is not
``{"data": {...}, "options": {...}}`` 400; a ``cas`` that is not the current version 400 ``check-and-set
parameter did not match the current version``; a missing or soft-deleted secret 404 (``{"errors": []}``, with
the deleted version's metadata under ``data`` as Vault does). Every request is in the request log (kind
``okms``, token and secret values never logged: only the data's keys). The sandbox has one OKMS domain; its ID
and token are derived from the emulator's credentials and published in the ready file (``okms_id``,
``okms_token``, ``okms_server``). State: ``state["okms"][okmsId]["secrets"][path]``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import uuid
from typing import Any

PREFIX = "/api"
MAX_VERSIONS = 10  # the OKMS domain's default configuration (max_versions)
DENIED = {"errors": ["permission denied"]}
_ROUTE = re.compile(r"^/api/([^/]+)/v1/secret/(data|metadata)/(.*)$")


class KvAnswer:
    def __init__(self, status: int, body: Any = None):
        self.status = status
        self.body = body
        self.headers: dict = {}

    def payload(self) -> bytes:
        return b"" if self.status == 204 else json.dumps(self.body).encode("utf-8")


def domain_of(creds: dict) -> tuple[str, str]:
    """The sandbox's OKMS domain ID and its token (stable for a state directory)."""
    seed = hashlib.sha256(("okms:" + creds["application_secret"]).encode()).hexdigest()
    return str(uuid.UUID(seed[:32])), "okms-" + hashlib.sha256(("token:" + seed).encode()).hexdigest()[:40]


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _path_ok(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and all(p and p not in (".", "..") for p in parts)


def _version_meta(v: dict) -> dict:
    return {"created_time": v["created_time"], "custom_metadata": None, "deletion_time": v["deletion_time"],
            "destroyed": v["destroyed"], "version": v["version"]}


def _envelope(data: Any) -> dict:
    return {"request_id": str(uuid.uuid4()), "lease_id": "", "renewable": False, "lease_duration": 0,
            "data": data, "wrap_info": None, "warnings": None, "auth": None}


class Okms:
    def __init__(self, app) -> None:
        self.app = app
        self.okms_id, self.token = domain_of(app.creds)

    def handle(self, method: str, path: str, headers, body_text: str, entry: dict) -> KvAnswer:
        m = _ROUTE.match(path)
        if m is None:
            return KvAnswer(404, {"errors": []})
        okms_id, kind, secret_path = m.groups()
        entry["okms_path"] = secret_path
        token = headers.get("X-Vault-Token") or ""
        if token != self.token:
            entry["auth"] = "rejected"
            return KvAnswer(403, dict(DENIED))
        entry["auth"] = "token"
        if okms_id != self.okms_id:
            return KvAnswer(404, {"errors": ["OKMS domain %s not found" % okms_id]})
        if not _path_ok(secret_path):
            return KvAnswer(400, {"errors": ["invalid secret path"]})
        body: Any = None
        if body_text:
            try:
                body = json.loads(body_text)
            except ValueError:
                return KvAnswer(400, {"errors": ["failed to parse JSON input"]})
            if isinstance(body, dict):  # the keys only: never a value
                entry["body"] = {"data_keys": sorted(body["data"]) if isinstance(body.get("data"), dict) else None,
                                 "options": body.get("options")}
        handler = getattr(self, "_%s_%s" % (kind, method.lower()), None)
        if handler is None:
            return KvAnswer(405, {"errors": ["1 error occurred:\n\t* unsupported operation\n\n"]})
        with self.app.store.transaction() as st:
            secrets = st.setdefault("okms", {}).setdefault(self.okms_id, {}).setdefault("secrets", {})
            return handler(secrets, secret_path, body)

    # -- data --------------------------------------------------------------------------------------
    def _data_get(self, secrets: dict, path: str, body: Any) -> KvAnswer:
        sec = secrets.get(path)
        if sec is None:
            return KvAnswer(404, {"errors": []})
        latest = sec["versions"][str(sec["current_version"])]
        if latest["deletion_time"] or latest["destroyed"]:
            return KvAnswer(404, dict(_envelope({"data": None, "metadata": _version_meta(latest)}), errors=[]))
        return KvAnswer(200, _envelope({"data": latest["data"], "metadata": _version_meta(latest)}))

    def _data_post(self, secrets: dict, path: str, body: Any) -> KvAnswer:
        if not isinstance(body, dict) or set(body) - {"data", "options"}:
            return KvAnswer(400, {"errors": ["invalid request: expected {\"data\": {...}, \"options\": {...}}"]})
        data, options = body.get("data"), body.get("options") or {}
        if not isinstance(data, dict):
            return KvAnswer(400, {"errors": ["no data provided"]})
        if not isinstance(options, dict) or set(options) - {"cas"}:
            return KvAnswer(400, {"errors": ["invalid options"]})
        sec = secrets.get(path)
        current = sec["current_version"] if sec else 0
        cas = options.get("cas")
        if cas is not None and (isinstance(cas, bool) or not isinstance(cas, int) or cas != current):
            return KvAnswer(400, {"errors": ["check-and-set parameter did not match the current version"]})
        now = _iso(self.app.store.now())
        if sec is None:
            sec = secrets[path] = {"created_time": now, "current_version": 0, "oldest_version": 1, "versions": {}}
        version = current + 1
        sec["current_version"] = version
        sec["updated_time"] = now
        sec["versions"][str(version)] = {"version": version, "created_time": now, "deletion_time": "",
                                         "destroyed": False, "data": data}
        while len(sec["versions"]) > MAX_VERSIONS:
            oldest = min(int(k) for k in sec["versions"])
            del sec["versions"][str(oldest)]
            sec["oldest_version"] = oldest + 1
        return KvAnswer(200, _envelope(_version_meta(sec["versions"][str(version)])))

    def _data_delete(self, secrets: dict, path: str, body: Any) -> KvAnswer:
        sec = secrets.get(path)
        if sec is not None:
            latest = sec["versions"][str(sec["current_version"])]
            if not latest["deletion_time"]:
                latest["deletion_time"] = _iso(self.app.store.now())
        return KvAnswer(204)

    # -- metadata ----------------------------------------------------------------------------------
    def _metadata_get(self, secrets: dict, path: str, body: Any) -> KvAnswer:
        sec = secrets.get(path)
        if sec is None:
            return KvAnswer(404, {"errors": []})
        versions = {k: {kk: v[kk] for kk in ("created_time", "deletion_time", "destroyed")}
                    for k, v in sec["versions"].items()}
        return KvAnswer(200, _envelope({
            "cas_required": False, "created_time": sec["created_time"], "current_version": sec["current_version"],
            "custom_metadata": None, "delete_version_after": "0s", "max_versions": MAX_VERSIONS,
            "oldest_version": sec["oldest_version"], "updated_time": sec["updated_time"], "versions": versions}))

    def _metadata_delete(self, secrets: dict, path: str, body: Any) -> KvAnswer:
        secrets.pop(path, None)
        return KvAnswer(204)
