"""Statuses that move with time, computed lazily from stored timestamps.

A resource in a transitional status carries ``_pending = {"until": t, "then": FINAL, "action": ...}``.
Before serving each API request the server calls every registered advancer (see
``routing.advancer``); advancers call :func:`due` and :func:`finish` to apply the transitions that
are over. Because only timestamps are stored, a stopped emulator resumes where the clock says.
Keys starting with ``_`` are internal and never sent to clients.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any


def iso(ts: float) -> str:
    """OVH datetime format: ``2024-06-01T12:00:00Z``."""
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def begin(obj: dict, status: str, then: str, now: float, seconds: float, action: str | None = None,
          field: str = "status", **data: Any) -> dict:
    """Put ``obj`` in transitional ``status`` until ``now + seconds``, then ``then``."""
    obj[field] = status
    obj["_pending"] = {"until": now + seconds, "then": then, "action": action, "field": field,
                       "since": now, **data}
    return obj["_pending"]


def pending(obj: dict) -> dict | None:
    return obj.get("_pending")


def due(obj: dict, now: float) -> bool:
    p = obj.get("_pending")
    return bool(p) and now >= float(p["until"])


def finish(obj: dict) -> dict:
    """End the transition: set the final status and return the pending record (action, data)."""
    p = obj.pop("_pending")
    obj[p.get("field", "status")] = p["then"]
    return p


def public(obj: dict) -> dict:
    """A copy without the internal ``_``-prefixed keys."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}
