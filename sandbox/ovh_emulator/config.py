"""Run-time settings of the emulator: defaults < environment (``OVH_EMULATOR_*``) < CLI flags < admin API.

Every key maps to an environment variable: ``OVH_EMULATOR_`` + the key in upper case, for example
``fault_429_rate`` <-> ``OVH_EMULATOR_FAULT_429_RATE``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Callable

ENV_PREFIX = "OVH_EMULATOR_"


def _rate(v: Any) -> float:
    f = float(v)
    if not 0.0 <= f <= 1.0:
        raise ValueError("must be a fraction between 0 and 1")
    return f


def _nonneg(v: Any) -> float:
    f = float(v)
    if f < 0:
        raise ValueError("must be >= 0")
    return f


def _seed(v: Any) -> int | None:
    if v is None or v == "":
        return None
    return int(v)


def _float(v: Any) -> float:
    return float(v)


def _positive_int(v: Any) -> int:
    i = int(v)
    if i < 1 or i != float(v):
        raise ValueError("must be a whole number >= 1")
    return i


@dataclass(frozen=True)
class Key:
    name: str
    default: Any
    parse: Callable[[Any], Any]
    fault: bool
    help: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


KEYS: tuple[Key, ...] = (
    Key("transition_seconds", 2.0, _nonneg, False,
        "seconds a resource spends in a transitional status (INSTALLING, UPSCALING, ...)"),
    Key("not_found_after_create_seconds", 0.0, _nonneg, False,
        "a cluster or node pool answers 404 for this long after the POST that created it"),
    Key("time_tolerance_seconds", 180.0, _nonneg, False,
        "largest accepted distance between X-Ovh-Timestamp and the server clock (QUERY_TIME_OUT beyond)"),
    Key("clock_offset_seconds", 0.0, _float, False,
        "offset of the emulated server clock (/auth/time) from the machine clock"),
    Key("token_ttl_seconds", 3600.0, _nonneg, False, "lifetime of OAuth2 access tokens (expires_in)"),
    Key("max_clusters", 4, _positive_int, False,
        "with --clusters-dir: Kubernetes clusters (each a local control plane) that may exist at once"),
    Key("fault_429_rate", 0.0, _rate, True, "fraction of /cloud requests answered 429 without effect"),
    Key("fault_5xx_rate", 0.0, _rate, True, "fraction of /cloud requests answered 500/502/503 without effect"),
    Key("fault_500_created_rate", 0.0, _rate, True,
        "fraction of create POSTs that are applied but answered 500 {\"message\": \"Internal server error\"}"),
    Key("latency_ms", 0.0, _nonneg, True, "added latency of every /cloud answer, in milliseconds"),
    Key("seed", None, _seed, True, "seed of the fault and id generators (determinism)"),
)
KEY_BY_NAME = {k.name: k for k in KEYS}
FAULT_KEYS = tuple(k.name for k in KEYS if k.fault)
SETTING_KEYS = tuple(k.name for k in KEYS if not k.fault)


class Settings:
    """Thread-safe bag of the current values, with change listeners (the fault injector re-seeds)."""

    def __init__(self, values: dict[str, Any] | None = None):
        self._lock = threading.Lock()
        self._values = {k.name: k.default for k in KEYS}
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        if values:
            self.update(values)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        environ = os.environ if environ is None else environ
        vals = {k.name: environ[k.env] for k in KEYS if environ.get(k.env, "") != ""}
        return cls(vals)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            with self._lock:
                return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def get(self, name: str) -> Any:
        with self._lock:
            return self._values[name]

    def update(self, values: dict[str, Any], allowed: tuple[str, ...] | None = None) -> dict[str, Any]:
        """Parse and apply ``values``; raises ValueError naming the bad key. Returns the new values."""
        parsed = {}
        for name, raw in values.items():
            key = KEY_BY_NAME.get(name)
            if key is None or (allowed is not None and name not in allowed):
                raise ValueError(f"unknown setting {name!r} (known: {', '.join(allowed or KEY_BY_NAME)})")
            try:
                parsed[name] = key.parse(raw)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{name}: {exc}") from None
        with self._lock:
            self._values.update(parsed)
            snapshot = dict(self._values)
        for cb in list(self._listeners):
            cb(parsed)
        return snapshot

    def on_change(self, cb: Callable[[dict[str, Any]], None]) -> None:
        self._listeners.append(cb)

    def as_dict(self, names: tuple[str, ...] | None = None) -> dict[str, Any]:
        with self._lock:
            return {k: v for k, v in self._values.items() if names is None or k in names}
