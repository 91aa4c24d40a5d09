"""Switchable faults on ``/cloud`` requests: 429 bursts, 5xx answers, latency, "500 but created".

Decisions come from one seeded generator (``seed``), so a run with the same seed and the same
request sequence injects the same faults. ``/auth/*``, the OAuth2 token endpoint and ``/_emulator``
are never faulted.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass


@dataclass
class Fault:
    kind: str  # "429" | "5xx"
    status: int
    body: dict


BODY_500 = {"message": "Internal server error"}
BODIES_5XX = {
    500: BODY_500,
    502: {"message": "Bad Gateway"},
    503: {"class": "Server::ServiceUnavailable", "message": "Service temporarily unavailable"},
}
BODY_429 = {"class": "Client::TooManyRequests", "message": "Too many requests"}


def faultable(api_path: str) -> bool:
    """Only the cloud API is faulted (paths relative to /1.0)."""
    return api_path == "/cloud" or api_path.startswith("/cloud/")


class FaultInjector:
    def __init__(self, settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._rng = random.Random(settings.seed)
        settings.on_change(self._changed)

    def _changed(self, changed: dict) -> None:
        if "seed" in changed:
            with self._lock:
                self._rng = random.Random(changed["seed"])

    def _draw(self) -> float:
        with self._lock:
            return self._rng.random()

    def latency_seconds(self) -> float:
        return float(self.settings.latency_ms) / 1000.0

    def before(self) -> Fault | None:
        """Decide whether this /cloud request is answered by a fault instead of being served."""
        r429 = float(self.settings.fault_429_rate)
        r5xx = float(self.settings.fault_5xx_rate)
        if r429 <= 0 and r5xx <= 0:
            return None
        x = self._draw()
        if x < r429:
            return Fault("429", 429, dict(BODY_429))
        if x < r429 + r5xx:
            with self._lock:
                status = self._rng.choice((500, 502, 503))
            return Fault("5xx", status, dict(BODIES_5XX[status]))
        return None

    def created_500(self) -> bool:
        """For a create POST that was applied: answer 500 anyway?"""
        rate = float(self.settings.fault_500_created_rate)
        return rate > 0 and self._draw() < rate
