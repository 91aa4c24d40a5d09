"""The HTTP server: one pipeline for every request.

``/1.0/...`` (and the ``/v1/...`` alias) is the OVH API: route matching against the official
schema, authentication, faults, parameter and body validation, the route handler under the state
lock, response validation against ``responseType``, the request log. ``/auth/oauth2/token`` is the
OAuth2 token endpoint; ``/openstack/...`` the project's Keystone and Neutron (``openstack.py``);
``/_emulator/...`` is the unauthenticated admin API (see ``admin.py``).
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import admin, catalog, okms, openstack, routes
from .auth import Authenticator, load_or_create_credentials
from .config import Settings
from .context import Ctx
from .errors import ApiError, AuthError
from .faults import BODY_500, FaultInjector, faultable
from .ids import Ids
from .localkube_bridge import ControlPlanes
from .reqlog import RequestLog, redact
from .routing import REGISTRY
from .schema import MSG_BAD_JSON, Schema, load_documents, load_schema
from .store import Store, atomic_write_json

API_PREFIXES = ("/1.0", "/v1")
TOKEN_PATH = "/auth/oauth2/token"
INVALID_URL = {"class": "Client::NotFound", "message": "Got an invalid (or empty) URL"}


class Answer:
    def __init__(self, status: int, body: Any = None, *, raw: bytes | None = None,
                 content_type: str = "application/json; charset=utf-8"):
        self.status = status
        self.body = body
        self.raw = raw
        self.content_type = content_type

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return json.dumps(self.body).encode("utf-8")


class Emulator:
    def __init__(self, state_dir: str | Path, settings: Settings | None = None, host: str = "127.0.0.1",
                 port: int = 0, clusters_dir: str | Path | None = None, argocd: bool = False,
                 own_clusters: bool = False, mirror: Path | None = None, verbose: bool = False):
        self.state_dir = Path(state_dir).resolve()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.settings = settings or Settings.from_env()
        self.verbose = verbose
        self.store = Store(self.state_dir)
        self.creds = load_or_create_credentials(self.state_dir)
        self.ids = Ids(self.settings.seed)
        self.settings.on_change(lambda ch: self.ids.reseed(ch["seed"]) if "seed" in ch else None)
        self.faults = FaultInjector(self.settings)
        self.schema: Schema = load_schema(
            mirror=mirror, enum_overrides={"cloud.kube.VersionEnum": list(catalog.KUBE_VERSIONS)})
        self.mirror = mirror
        self._schema_payload: bytes | None = None
        self.log = RequestLog(self.state_dir / "requests.jsonl")
        self.auth = Authenticator(self.creds, self.settings, self.store)
        self.openstack = openstack.OpenStack(self)
        self.okms = okms.Okms(self)
        # --clusters-dir: a local control plane (and, with argocd, an Argo CD supervisor) per OVH cluster
        self.controlplanes = ControlPlanes(clusters_dir, argocd=argocd, owned=own_clusters) if clusters_dir else None
        self._violations: list[dict] = []
        self._vlock = threading.Lock()
        self._effect_lock = threading.Lock()
        self.effect_errors: list[dict] = []
        self.started = time.time()
        routes.load()
        self._check_routes()
        with self.store.transaction() as st:
            if self.creds["service_name"] not in st["projects"]:
                st["projects"][self.creds["service_name"]] = self.new_project()
            for proj in st["projects"].values():  # domains added since the state was written
                for init in REGISTRY.initializers:
                    init(proj, self)
        self.httpd = ThreadingHTTPServer((host, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.app = self  # type: ignore[attr-defined]
        self.host = host
        self.port = self.httpd.server_address[1]

    # -- identity ----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def endpoint(self) -> str:
        return self.base_url + "/1.0"

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def openstack_auth_url(self) -> str:
        """Keystone v3 of the project's Public Cloud users (OVHcloud: https://auth.cloud.ovh.net/v3)."""
        return self.base_url + openstack.IDENTITY + "/v3"

    def ready_info(self) -> dict:
        info = {"endpoint": self.endpoint, "port": self.port, "host": self.host, "pid": _pid(),
                "token_url": self.token_url, "openstack_auth_url": self.openstack_auth_url, "state_dir": str(self.state_dir),
                "clusters_dir": str(self.controlplanes.root) if self.controlplanes else None,
                "argocd": bool(self.controlplanes and self.controlplanes.argocd),
                "next_argocd_url": self.controlplanes.next_argocd_url if self.controlplanes else None}
        for k in ("application_key", "application_secret", "consumer_key", "client_id", "client_secret",
                  "service_name"):
            info[k] = self.creds[k]
        info.update(okms_id=self.okms.okms_id, okms_token=self.okms.token, okms_server=self.base_url)
        return info

    def new_project(self) -> dict:
        now = self.store.now()
        proj = {"_created_ts": now, "description": "Keiko sandbox project",
                "regions": list(catalog.DEFAULT_PROJECT_REGIONS)}
        for init in REGISTRY.initializers:
            init(proj, self)
        return proj

    def _check_routes(self) -> None:
        missing = [k for k in REGISTRY.routes if k not in self.schema.operations]
        if missing:
            raise RuntimeError("routes not in the official schema: " + ", ".join(f"{m} {p}" for m, p in missing))

    # -- lifecycle ---------------------------------------------------------------------------
    def serve_forever(self) -> None:
        self._stop = threading.Event()
        self._bg = threading.Thread(target=self._background, name="ovh-emulator-bg", daemon=True)
        self._bg.start()
        self.httpd.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        if getattr(self, "_stop", None) is not None:
            self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        if self.controlplanes is not None:
            self.controlplanes.close()

    def _background(self) -> None:
        """Startup hooks, then (only with control planes) a 1 s tick so that clusters and node pools
        move on (and reach the control planes) without waiting for a client to poll."""
        for hook in REGISTRY.startup:
            try:
                hook(self)
            except Exception as exc:  # noqa: BLE001
                self.effect_errors.append({"time": time.time(), "effect": getattr(hook, "__name__", "hook"),
                                           "error": f"{type(exc).__name__}: {exc}"})
        while self.controlplanes is not None and not self._stop.wait(1.0):
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001
                self.effect_errors.append({"time": time.time(), "effect": "tick",
                                           "error": f"{type(exc).__name__}: {exc}"})

    def tick(self) -> None:
        """Apply the transitions that are over (what every API request does first)."""
        with self.store.transaction() as st:
            ctx = Ctx(self, st, "TICK", "", "", {}, {}, None, self.ids.uuid())
            for adv in REGISTRY.advancers:
                adv(ctx)
            effects = ctx._effects
        self._run_effects(effects)

    def write_ready_file(self, path: str | Path) -> None:
        atomic_write_json(Path(path), self.ready_info(), mode=0o600)

    # -- violations --------------------------------------------------------------------------
    def add_violation(self, v: dict) -> None:
        with self._vlock:
            self._violations.append(v)
        if self.verbose:
            print(f"ovh-emulator: VIOLATION {v}", file=sys.stderr, flush=True)

    def violations(self) -> list[dict]:
        with self._vlock:
            return list(self._violations)

    def clear_violations(self) -> None:
        with self._vlock:
            self._violations.clear()

    # -- the pipeline ------------------------------------------------------------------------
    def dispatch(self, h: "_Handler") -> None:
        t0 = time.monotonic()
        wall = time.time()
        method = h.command.upper()
        split = urlsplit(h.path)
        path = split.path
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        length = int(h.headers.get("Content-Length") or 0)
        raw_body = h.rfile.read(length) if length > 0 else b""
        body_text = raw_body.decode("utf-8", errors="replace")

        if method in ("GET", "HEAD") and path in ("/1.0/cloud.json", "/v1/cloud.json"):
            # The API serves its own schema, unauthenticated (clients read enums such as the
            # installable Kubernetes versions from it); the emulator's enum overrides apply.
            self._send(h, Answer(200, raw=self.schema_payload()), self.ids.query_id(0))
            return

        if path == "/_emulator" or path.startswith("/_emulator/"):
            try:
                ans = admin.handle(self, method, path, query, body_text)
            except Exception as exc:  # pragma: no cover - defensive
                ans = Answer(500, {"message": f"admin error: {exc}"})
            self._send(h, ans, self.ids.query_id(0))
            return

        seq = self.log.next_seq()
        qid = self.ids.query_id(seq)
        entry: dict[str, Any] = {
            "seq": seq, "monotonic": t0, "time": wall, "method": method, "path": path, "query": query,
            "query_id": qid, "fault": None, "resources": [], "operation": None, "auth": None,
        }
        try:
            if path == TOKEN_PATH and method == "POST":
                entry["kind"] = "token"
                entry["body"] = redact({k: v[0] for k, v in parse_qs(body_text).items()})
                status, body = self.auth.issue_token(h.headers, body_text)
                ans = Answer(status, body)
            elif path == openstack.PREFIX or path.startswith(openstack.PREFIX + "/"):
                entry["kind"] = "openstack"
                base = "http://" + (h.headers.get("Host") or f"{self.host}:{self.port}")
                os_ans = self.openstack.handle(method, path, split.query, h.headers, body_text, base, entry)
                entry["status"] = os_ans.status
                entry["duration_ms"] = round((time.monotonic() - t0) * 1000.0, 3)
                self.log.append(entry)
                self._send_openstack(h, os_ans)
                return
            elif path.startswith(okms.PREFIX + "/"):
                entry["kind"] = "okms"
                kv_ans = self.okms.handle(method, path, h.headers, body_text, entry)
                entry["status"] = kv_ans.status
                entry["duration_ms"] = round((time.monotonic() - t0) * 1000.0, 3)
                self.log.append(entry)
                self._send_openstack(h, kv_ans)
                return
            elif any(path == p or path.startswith(p + "/") for p in API_PREFIXES):
                prefix = next(p for p in API_PREFIXES if path == p or path.startswith(p + "/"))
                api_path = path[len(prefix):] or "/"
                entry["kind"] = "auth" if api_path.startswith("/auth/") else "api"
                ans = self._api(h, method, prefix, api_path, query, body_text, entry)
            else:
                entry["kind"] = "other"
                ans = Answer(404, dict(INVALID_URL))
        except Exception as exc:  # an emulator bug: answer like the API's 500, and record it
            tb = traceback.format_exc()
            self.add_violation({"kind": "emulator_exception", "seq": seq, "method": method, "path": path,
                                "message": f"{type(exc).__name__}: {exc}", "traceback": tb})
            if self.verbose:
                print(tb, file=sys.stderr, flush=True)
            ans = Answer(500, dict(BODY_500))
        entry["status"] = ans.status
        entry["duration_ms"] = round((time.monotonic() - t0) * 1000.0, 3)
        # Logged before the answer is sent: a client that reads the log right after its answer sees it.
        self.log.append(entry)
        self._send(h, ans, qid)

    def _api(self, h, method: str, prefix: str, api_path: str, query: dict, body_text: str,
             entry: dict) -> Answer:
        if body_text:
            try:
                entry["body"] = redact(json.loads(body_text))
            except ValueError:
                entry["body"] = "<invalid JSON>"
        match = self.schema.match(method, api_path)
        if match is None:
            if self.schema.templates_for(api_path):
                return Answer(405, {"class": "Client::MethodNotAllowed",
                                    "message": f"Method {method} is not allowed on this URL"})
            return Answer(404, dict(INVALID_URL))
        op = match.operation
        entry["operation"] = op.path

        if not op.no_auth:
            full_url = "http://" + (h.headers.get("Host") or f"{self.host}:{self.port}") + h.path
            try:
                info = self.auth.check(method, full_url, h.headers, body_text)
            except AuthError as err:
                entry["auth"] = "rejected"
                return Answer(err.status, err.body())
            entry["auth"] = info.mode

        if faultable(api_path):
            lat = self.faults.latency_seconds()
            if lat > 0:
                time.sleep(lat)
                entry["latency_ms"] = lat * 1000.0
            fault = self.faults.before()
            if fault is not None:
                entry["fault"] = fault.kind
                return Answer(fault.status, fault.body)

        route = REGISTRY.routes.get(op.key)
        if route is None:
            self.add_violation({"kind": "unimplemented", "seq": entry["seq"], "method": method,
                                "path": api_path, "operation": op.path,
                                "message": f"the emulator does not implement {method} {op.path}"})
            return Answer(501, {"class": "Server::NotImplemented",
                                "message": f"The OVH API emulator does not implement {method} {op.path}"})

        body: Any = None
        if body_text.strip():
            try:
                body = json.loads(body_text)
            except ValueError:
                return Answer(400, {"class": "Client::BadRequest", "message": MSG_BAD_JSON})
        issues = self.schema.validate_params(op, match.params, query) + \
            self.schema.validate_request_body(op, body)
        if issues:
            entry["validation"] = [i.as_dict() for i in issues]
            return Answer(400, {"class": "Client::BadRequest", "message": issues[0].message})

        if body is None and (op.body_type or op.body_fields):
            body = {}  # handlers of operations with a body always get a dict
        request_id = self.ids.uuid()
        with self.store.transaction() as st:
            ctx = Ctx(self, st, method, api_path, op.path, match.params, query, body, request_id)
            try:
                for adv in REGISTRY.advancers:
                    adv(ctx)
                result = route.handler(ctx, **match.params)
            except ApiError as err:
                entry["resources"] = ctx.touched
                effects = ctx._effects
                ans = Answer(err.status, err.body())
                result = None
            else:
                ans = None
                entry["resources"] = ctx.touched
                effects = ctx._effects
        self._run_effects(effects)
        if ans is not None:
            return ans

        for issue in self.schema.validate_response(op, result):
            self.add_violation({"kind": "response_schema", "seq": entry["seq"], "method": method,
                                "path": api_path, "operation": op.path, "type": op.response_type,
                                "where": issue.path, "message": issue.message})
        if route.create and method == "POST" and faultable(api_path) and self.faults.created_500():
            entry["fault"] = "500_created"
            return Answer(500, dict(BODY_500))
        return Answer(200, result)

    def _run_effects(self, effects) -> None:
        if not effects:
            return
        with self._effect_lock:
            for fn in effects:
                try:
                    fn()
                except Exception as exc:
                    rec = {"time": time.time(), "effect": getattr(fn, "__name__", repr(fn)),
                           "error": f"{type(exc).__name__}: {exc}"}
                    self.effect_errors.append(rec)
                    print(f"ovh-emulator: side effect failed: {rec}", file=sys.stderr, flush=True)

    def schema_payload(self) -> bytes:
        if self._schema_payload is None:
            doc = load_documents(("cloud.json",), self.mirror)[0]
            models = dict(doc.get("models", {}))
            for name, values in self.schema.enum_overrides.items():
                if name in models:
                    models[name] = dict(models[name], enum=list(values))
            self._schema_payload = json.dumps(dict(doc, models=models)).encode("utf-8")
        return self._schema_payload

    def _send(self, h: "_Handler", ans: Answer, qid: str) -> None:
        data = ans.payload()
        try:
            h.send_response(ans.status)
            h.send_header("Content-Type", ans.content_type)
            h.send_header("Content-Length", str(len(data)))
            h.send_header("X-Ovh-Queryid", qid)
            h.send_header("Cache-Control", "no-cache")
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    @staticmethod
    def _send_openstack(h: "_Handler", ans) -> None:
        data = ans.payload()
        try:
            h.send_response(ans.status)
            if ans.status != 204:
                h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            for k, v in ans.headers.items():
                h.send_header(k, v)
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ovh-api-emulator"
    sys_version = ""

    def _go(self) -> None:
        self.server.app.dispatch(self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _go

    def log_message(self, fmt: str, *args) -> None:  # noqa: D401 - quiet unless verbose
        if getattr(self.server, "app", None) is not None and self.server.app.verbose:  # type: ignore[attr-defined]
            sys.stderr.write("ovh-emulator: %s - %s\n" % (self.address_string(), fmt % args))


def _pid() -> int:
    import os

    return os.getpid()
