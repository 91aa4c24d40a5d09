"""The admin API (unauthenticated, never faulted, not logged): ``/_emulator/...``.

GET  /_emulator/health                      {"ok": true, "pid": ...}
GET  /_emulator/info                        endpoint, token_url, service_name, pid, clusters_dir, next_argocd_url
GET  /_emulator/clusters                    the local control planes (--clusters-dir): name, phase, server, argocd_url
GET  /_emulator/requests[?since=N&kind=api&method=POST&writes=1]   request log
GET  /_emulator/faults      POST /_emulator/faults      {"fault_429_rate": 0.2, "seed": 1, ...}
GET  /_emulator/settings    POST /_emulator/settings    {"transition_seconds": 0.5, ...}
GET  /_emulator/state                       the persisted state, plus side-effect errors
GET  /_emulator/violations                  response-schema violations and emulator errors
GET  /_emulator/routes                      implemented (method, template) pairs
POST /_emulator/reset                       {"state": true, "log": true, "violations": true}
POST /_emulator/advance                     {"seconds": 30} moves the resource clock forward
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from .config import FAULT_KEYS, SETTING_KEYS
from .routing import REGISTRY
from .store import fresh_state

if TYPE_CHECKING:  # pragma: no cover
    from .server import Answer, Emulator


def _answer(status: int, body: Any) -> "Answer":
    from .server import Answer

    return Answer(status, body)


def _json(body_text: str) -> dict:
    if not body_text.strip():
        return {}
    data = json.loads(body_text)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


def handle(app: "Emulator", method: str, path: str, query: dict, body_text: str) -> "Answer":
    name = path[len("/_emulator"):].strip("/")
    try:
        payload = _json(body_text) if method in ("POST", "PUT") else {}
    except ValueError as exc:
        return _answer(400, {"message": f"invalid JSON: {exc}"})

    if method == "GET":
        if name in ("", "health"):
            return _answer(200, {"ok": True, "pid": os.getpid(), "endpoint": app.endpoint})
        if name == "info":
            info = app.ready_info()
            for secret in ("application_secret", "consumer_key", "client_secret"):
                info.pop(secret, None)
            info["uptime_seconds"] = round(__import__("time").time() - app.started, 3)
            return _answer(200, info)
        if name == "requests":
            try:
                since = int(query.get("since", 0))
            except ValueError:
                return _answer(400, {"message": "since must be an integer"})
            return _answer(200, app.log.entries(since=since, kind=query.get("kind"), method=query.get("method"),
                                                writes=query.get("writes") in ("1", "true", "yes")))
        if name == "faults":
            return _answer(200, app.settings.as_dict(FAULT_KEYS))
        if name == "settings":
            return _answer(200, app.settings.as_dict())
        if name == "state":
            with app.store.lock:
                data = json.loads(json.dumps(app.store.data))
            data["side_effect_errors"] = list(app.effect_errors)
            return _answer(200, data)
        if name == "clusters":
            return _answer(200, app.controlplanes.describe() if app.controlplanes else [])
        if name == "violations":
            return _answer(200, app.violations())
        if name == "routes":
            return _answer(200, [{"method": r.method, "path": r.template, "create": r.create, "module": r.module}
                                 for r in sorted(REGISTRY.routes.values(), key=lambda r: (r.template, r.method))])
        return _answer(404, {"message": f"unknown admin resource {path}"})

    if method == "POST":
        if name in ("faults", "settings"):
            allowed = FAULT_KEYS if name == "faults" else FAULT_KEYS + SETTING_KEYS
            try:
                values = app.settings.update(payload, allowed=allowed)
            except ValueError as exc:
                return _answer(400, {"message": str(exc)})
            return _answer(200, values)
        if name == "reset":
            do_state = payload.get("state", True)
            if do_state:
                for hook in REGISTRY.resetters:
                    hook(app)
                with app.store.transaction() as st:
                    tokens = st.get("oauth2_tokens", {})
                    st.clear()
                    st.update(fresh_state())
                    st["oauth2_tokens"] = tokens
                    st["projects"][app.creds["service_name"]] = app.new_project()
            if payload.get("log", True):
                app.log.clear()
            if payload.get("violations", True):
                app.clear_violations()
                app.effect_errors.clear()
            return _answer(200, {"ok": True})
        if name == "advance":
            try:
                seconds = float(payload.get("seconds", 0))
            except (TypeError, ValueError):
                return _answer(400, {"message": "seconds must be a number"})
            if seconds < 0:
                return _answer(400, {"message": "seconds must be >= 0"})
            with app.store.transaction() as st:
                st["clock_offset"] = float(st.get("clock_offset", 0.0)) + seconds
                offset = st["clock_offset"]
            return _answer(200, {"clock_offset": offset})
        return _answer(404, {"message": f"unknown admin action {path}"})

    return _answer(405, {"message": f"method {method} not allowed on {path}"})
