"""The official OVH API schema ("apis + models" format), as reusable functions.

Read from the upstream mirror (``KEIKO_UPSTREAM_MIRROR``, default ``<repo>/../shared/upstream``); the
files are never copied into the repository.

    from ovh_emulator import schema
    s = schema.load_schema()                       # cloud.json + auth.json, cached
    m = s.match("POST", "/cloud/project/abc/kube")  # -> Match(operation, params)
    issues = s.validate_request_body(m.operation, {"region": "GRA7"})
    issues = s.validate_response(m.operation, {...})

An *issue* is an :class:`Issue` (kind, path, message). Request issues carry the message the real
API answers with (``Client::BadRequest``); response issues are violations of the emulator itself.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import unquote

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SCHEMA_FILES = ("cloud.json", "auth.json")

# Wording of the real API's 400 answers to malformed input (see docs/ovh-emulator.md for sources).
MSG_UNKNOWN = "Unknown body parameter {path}"
MSG_BAD_FORMAT = "Body parameter {path} isn't formated correctly"
MSG_MISSING = "Missing body parameter {path}"
MSG_BAD_JSON = "The input that you provided isn't valid JSON or not well formatted"
MSG_BAD_PARAM = "Parameter {path} isn't formated correctly"
MSG_MISSING_PARAM = "Missing parameter {path}"

PRIMITIVES = {
    "string", "password", "text", "long", "int", "double", "float", "boolean", "uuid", "datetime",
    "date", "time", "duration", "ip", "ipv4", "ipv6", "ipBlock", "ipv4Block", "ipv6Block", "void",
}

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DURATION_RE = re.compile(
    r"^-?P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$"
)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME_RE = re.compile(r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def mirror_dir() -> Path:
    """Directory holding ``ovh-api/cloud.json`` (``KEIKO_UPSTREAM_MIRROR`` or ``<repo>/../shared/upstream``)."""
    env = os.environ.get("KEIKO_UPSTREAM_MIRROR")
    if env:
        return Path(env).expanduser().resolve()
    return (REPO_ROOT.parent / "shared" / "upstream").resolve()


@dataclass(frozen=True)
class Issue:
    kind: str  # unknown | missing | type | enum | null | json | param
    path: str
    message: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "path": self.path, "message": self.message}


@dataclass
class Param:
    name: str
    type: str
    param_type: str  # path | query | body
    required: bool


@dataclass
class Operation:
    method: str
    path: str  # template, e.g. /cloud/project/{serviceName}/kube
    response_type: str
    no_auth: bool
    api_status: str
    description: str
    path_params: dict[str, Param] = field(default_factory=dict)
    query_params: dict[str, Param] = field(default_factory=dict)
    body_type: str | None = None  # model of the whole body (modern format)
    body_required: bool = False
    body_fields: dict[str, Param] = field(default_factory=dict)  # named body params (old format)

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)


@dataclass
class Match:
    operation: Operation
    params: dict[str, str]  # path parameters, URL-decoded


class Schema:
    """Models and operations of one or more schema files, with matching and validation."""

    def __init__(self, documents: Iterable[dict], enum_overrides: dict[str, list[str]] | None = None):
        self.models: dict[str, dict] = {}
        self.operations: dict[tuple[str, str], Operation] = {}
        self.enum_overrides = dict(enum_overrides or {})
        self._templates: list[tuple[list[str], str]] = []
        for doc in documents:
            self._add_document(doc)
        # Longest templates first, literal segments preferred over parameters.
        self._by_len: dict[int, list[tuple[list[str], str]]] = {}
        for segs, tpl in self._templates:
            self._by_len.setdefault(len(segs), []).append((segs, tpl))

    # -- loading ------------------------------------------------------------------------------
    def _add_document(self, doc: dict) -> None:
        self.models.update(doc.get("models", {}))
        for api in doc.get("apis", []):
            tpl = api["path"]
            if not any(t == tpl for _segs, t in self._templates):
                self._templates.append((tpl.strip("/").split("/"), tpl))
            for op in api.get("operations", []):
                o = Operation(
                    method=op["httpMethod"].upper(),
                    path=tpl,
                    response_type=op.get("responseType", "void"),
                    no_auth=bool(op.get("noAuthentication")),
                    api_status=(op.get("apiStatus") or {}).get("value", ""),
                    description=op.get("description", ""),
                )
                for p in op.get("parameters", []):
                    prm = Param(p.get("name") or "", p.get("fullType") or p["dataType"], p["paramType"],
                                bool(p.get("required")))
                    if prm.param_type == "path":
                        o.path_params[prm.name] = prm
                    elif prm.param_type == "query":
                        o.query_params[prm.name] = prm
                    elif prm.param_type == "body":
                        if prm.name:
                            o.body_fields[prm.name] = prm
                        else:
                            o.body_type = prm.type
                            o.body_required = prm.required
                self.operations[o.key] = o

    # -- matching -----------------------------------------------------------------------------
    def templates_for(self, path: str) -> list[tuple[str, dict[str, str]]]:
        """Templates matching a concrete path (best first), with their decoded path parameters."""
        segs = path.split("?", 1)[0].strip("/").split("/")
        found = []
        for tsegs, tpl in self._by_len.get(len(segs), []):
            params: dict[str, str] = {}
            literal = 0
            ok = True
            for t, s in zip(tsegs, segs):
                if t.startswith("{") and t.endswith("}"):
                    if s == "":
                        ok = False
                        break
                    params[t[1:-1]] = unquote(s)
                elif t == s:
                    literal += 1
                else:
                    ok = False
                    break
            if ok:
                found.append((literal, tpl, params))
        found.sort(key=lambda x: -x[0])
        return [(tpl, params) for _literal, tpl, params in found]

    def match(self, method: str, path: str) -> Match | None:
        """The operation serving ``method path`` (path without the ``/1.0`` prefix), or None."""
        method = method.upper()
        for tpl, params in self.templates_for(path):
            op = self.operations.get((method, tpl))
            if op is not None:
                return Match(op, params)
        return None

    def operation(self, method: str, template: str) -> Operation | None:
        return self.operations.get((method.upper(), template))

    # -- type helpers -------------------------------------------------------------------------
    def _model(self, name: str) -> tuple[dict | None, dict[str, str]]:
        """Model definition and generic bindings for a (possibly generic) model name."""
        if name in self.models:
            model = self.models[name]
            binding: dict[str, str] = {}
            m = re.match(r"^(.*)<(.*)>$", name)
            if m and model.get("generics"):
                args = [a.strip() for a in m.group(2).split(",")]
                binding = dict(zip(model["generics"], args))
            return model, binding
        return None, {}

    def enum_values(self, name: str) -> list | None:
        if name in self.enum_overrides:
            return list(self.enum_overrides[name])
        model = self.models.get(name)
        if model is not None and "enum" in model:
            return list(model["enum"])
        return None

    # -- validation ---------------------------------------------------------------------------
    def validate_value(self, type_name: str, value: Any, path: str, *, mode: str,
                       binding: dict[str, str] | None = None) -> list[Issue]:
        """Check ``value`` against ``type_name``. ``mode`` is ``request`` or ``response``."""
        issues: list[Issue] = []
        self._check(type_name.strip(), value, path, mode, binding or {}, issues)
        return issues

    def _bad(self, issues: list[Issue], kind: str, path: str, mode: str, detail: str = "") -> None:
        if mode == "request":
            msg = {"unknown": MSG_UNKNOWN, "missing": MSG_MISSING}.get(kind, MSG_BAD_FORMAT)
            issues.append(Issue(kind, path, msg.format(path=path)))
        else:
            issues.append(Issue(kind, path, f"{path or '<body>'}: {detail or kind}"))

    def _check(self, t: str, v: Any, path: str, mode: str, binding: dict[str, str],
               issues: list[Issue]) -> None:
        if t in binding:
            t = binding[t]
        if t.endswith("[]"):
            if not isinstance(v, list):
                self._bad(issues, "type", path, mode, f"expected a list ({t}), got {type(v).__name__}")
                return
            for i, item in enumerate(v):
                if item is None:
                    self._bad(issues, "null", f"{path}[{i}]", mode, "null item in a list")
                    continue
                self._check(t[:-2], item, f"{path}[{i}]", mode, binding, issues)
            return
        m = re.match(r"^map\[(.*?)\](.*)$", t)
        if m:
            if not isinstance(v, dict):
                self._bad(issues, "type", path, mode, f"expected an object ({t}), got {type(v).__name__}")
                return
            for k, item in v.items():
                sub = f"{path}.{k}" if path else k
                if item is None:
                    self._bad(issues, "null", sub, mode, "null value in a map")
                    continue
                self._check(m.group(2), item, sub, mode, binding, issues)
            return
        if t in PRIMITIVES:
            if not _primitive_ok(t, v):
                self._bad(issues, "type", path, mode, f"{v!r} is not a valid {t}")
            return
        enum = self.enum_values(t)
        if enum is not None:
            if not isinstance(v, str) or v not in enum:
                self._bad(issues, "enum", path, mode, f"{v!r} is not one of {t} {enum}")
            return
        model, mbind = self._model(t)
        if model is None:
            self._bad(issues, "type", path, mode, f"unknown type {t}")
            return
        if not isinstance(v, dict):
            self._bad(issues, "type", path, mode, f"expected an object ({t}), got {type(v).__name__}")
            return
        props = model.get("properties", {})
        for k in v:
            if k not in props:
                self._bad(issues, "unknown", f"{path}.{k}" if path else k, mode, f"property not in {t}")
        for name, spec in props.items():
            sub = f"{path}.{name}" if path else name
            ptype = spec.get("fullType") or spec["type"]
            if name not in v:
                if mode == "request" and spec.get("required"):
                    self._bad(issues, "missing", sub, mode)
                elif mode == "response":
                    self._bad(issues, "missing", sub, mode, f"property missing from {t}")
                continue
            val = v[name]
            if val is None:
                if not spec.get("canBeNull"):
                    self._bad(issues, "null", sub, mode, f"null but {t}.{name} cannot be null")
                continue
            self._check(ptype, val, sub, mode, mbind or binding, issues)

    def validate_request_body(self, operation: Operation, body: Any) -> list[Issue]:
        """Issues in a parsed request body (``None`` means no body was sent)."""
        if operation.body_type:
            if body is None:
                body = {}  # an empty body is read as an empty object; required fields still apply
            if not isinstance(body, dict) and self._model(operation.body_type)[0] is not None \
                    and "enum" not in self._model(operation.body_type)[0]:
                return [Issue("json", "", MSG_BAD_JSON)]
            return self.validate_value(operation.body_type, body, "", mode="request")
        if operation.body_fields:
            if body is None:
                body = {}
            if not isinstance(body, dict):
                return [Issue("type", "", MSG_BAD_JSON)]
            issues: list[Issue] = []
            for k in body:
                if k not in operation.body_fields:
                    issues.append(Issue("unknown", k, MSG_UNKNOWN.format(path=k)))
            for name, prm in operation.body_fields.items():
                if name not in body:
                    if prm.required:
                        issues.append(Issue("missing", name, MSG_MISSING.format(path=name)))
                    continue
                if body[name] is None:
                    continue
                issues += self.validate_value(prm.type, body[name], name, mode="request")
            return issues
        if body not in (None, {}):
            if isinstance(body, dict):
                return [Issue("unknown", k, MSG_UNKNOWN.format(path=k)) for k in body]
            return [Issue("type", "", MSG_BAD_JSON)]
        return []

    def validate_params(self, operation: Operation, path_params: dict[str, str],
                        query: dict[str, str]) -> list[Issue]:
        """Issues in path and query parameters (values as strings, URL-decoded)."""
        issues: list[Issue] = []
        for name, prm in operation.path_params.items():
            if name in path_params and not _param_ok(self, prm.type, path_params[name]):
                issues.append(Issue("param", name, MSG_BAD_PARAM.format(path=name)))
        for name, prm in operation.query_params.items():
            if name not in query:
                if prm.required:
                    issues.append(Issue("param", name, MSG_MISSING_PARAM.format(path=name)))
                continue
            if not _param_ok(self, prm.type, query[name]):
                issues.append(Issue("param", name, MSG_BAD_PARAM.format(path=name)))
        return issues

    def validate_response(self, operation: Operation, value: Any) -> list[Issue]:
        """Violations of the operation's ``responseType`` by a response body."""
        t = operation.response_type
        if t == "void":
            return [] if value is None else [Issue("type", "", "void operation returned a body")]
        if value is None:
            return [Issue("null", "", f"null body but the operation returns {t}")]
        return self.validate_value(t, value, "", mode="response")


def _primitive_ok(t: str, v: Any) -> bool:
    if t in ("string", "password", "text"):
        return isinstance(v, str)
    if t in ("long", "int"):
        return isinstance(v, int) and not isinstance(v, bool)
    if t in ("double", "float"):
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "boolean":
        return isinstance(v, bool)
    if not isinstance(v, str):
        return False
    try:
        if t == "uuid":
            return bool(_UUID_RE.match(v))
        if t == "datetime":
            _dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
            return "T" in v
        if t == "date":
            return bool(_DATE_RE.match(v)) and bool(_dt.date.fromisoformat(v))
        if t == "time":
            return bool(_TIME_RE.match(v))
        if t == "duration":
            return bool(_DURATION_RE.match(v))
        if t == "ip":
            ipaddress.ip_address(v)
        elif t == "ipv4":
            ipaddress.IPv4Address(v)
        elif t == "ipv6":
            ipaddress.IPv6Address(v)
        elif t == "ipBlock":
            ipaddress.ip_network(v, strict=False)
        elif t == "ipv4Block":
            ipaddress.IPv4Network(v, strict=False)
        elif t == "ipv6Block":
            ipaddress.IPv6Network(v, strict=False)
        elif t == "void":
            return False
        return True
    except ValueError:
        return False


def _param_ok(s: Schema, t: str, raw: str) -> bool:
    """Path/query parameters arrive as strings; coerce them like the API does before checking."""
    if t in ("long", "int"):
        return bool(re.match(r"^-?\d+$", raw))
    if t in ("double", "float"):
        try:
            float(raw)
            return True
        except ValueError:
            return False
    if t == "boolean":
        return raw in ("true", "false")
    if t.endswith("[]"):
        return all(_param_ok(s, t[:-2], part) for part in raw.split(",") if part)
    if t in PRIMITIVES:
        return _primitive_ok(t, raw)
    enum = s.enum_values(t)
    if enum is not None:
        return raw in enum
    return True  # complex query types (maps of tag filters) are not checked


_CACHE: dict[tuple, Schema] = {}
_CACHE_LOCK = threading.Lock()


def load_documents(files: Iterable[str] = DEFAULT_SCHEMA_FILES, mirror: Path | None = None) -> list[dict]:
    base = (mirror or mirror_dir()) / "ovh-api"
    docs = []
    for f in files:
        p = base / f
        if not p.is_file():
            raise FileNotFoundError(
                f"OVH API schema {p} not found; set KEIKO_UPSTREAM_MIRROR to the upstream mirror directory"
            )
        with p.open(encoding="utf-8") as fh:
            docs.append(json.load(fh))
    return docs


def load_schema(files: Iterable[str] = DEFAULT_SCHEMA_FILES, mirror: Path | None = None,
                enum_overrides: dict[str, list[str]] | None = None) -> Schema:
    """The schema of ``files`` (cached per mirror, file list and overrides)."""
    files = tuple(files)
    key = (str(mirror or mirror_dir()), files, json.dumps(enum_overrides or {}, sort_keys=True))
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = Schema(load_documents(files, mirror), enum_overrides)
        return _CACHE[key]


def match_operation(method: str, path: str, schema: Schema | None = None) -> Match | None:
    return (schema or load_schema()).match(method, path)


def validate_request_body(method: str, path: str, body: Any, schema: Schema | None = None) -> list[Issue]:
    s = schema or load_schema()
    m = s.match(method, path)
    if m is None:
        raise KeyError(f"no operation {method} {path} in the schema")
    return s.validate_request_body(m.operation, body)


def validate_response_body(method: str, path: str, body: Any, schema: Schema | None = None) -> list[Issue]:
    s = schema or load_schema()
    m = s.match(method, path)
    if m is None:
        raise KeyError(f"no operation {method} {path} in the schema")
    return s.validate_response(m.operation, body)
