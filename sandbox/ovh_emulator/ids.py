"""Identifier generators (seedable for deterministic runs)."""

from __future__ import annotations

import random
import threading
import time
import uuid as _uuid


class Ids:
    def __init__(self, seed: int | None = None):
        self._lock = threading.Lock()
        self.reseed(seed)

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._rng = random.Random(None if seed is None else seed * 7919 + 17)

    def uuid(self) -> str:
        with self._lock:
            return str(_uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def hex(self, nchars: int = 32) -> str:
        with self._lock:
            return "".join(self._rng.choice("0123456789abcdef") for _i in range(nchars))

    def token(self, nchars: int = 32) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        with self._lock:
            return "".join(self._rng.choice(alphabet) for _i in range(nchars))

    def lower(self, nchars: int = 6) -> str:
        with self._lock:
            return "".join(self._rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _i in range(nchars))

    def randint(self, a: int, b: int) -> int:
        with self._lock:
            return self._rng.randint(a, b)

    def query_id(self, seq: int) -> str:
        """``EU.ext-4.6895cea2.3584024.bec678a10a40faba71e5ca4d17a2ba07``-like X-Ovh-Queryid."""
        with self._lock:
            node = self._rng.randint(1, 5)
            tail = "".join(self._rng.choice("0123456789abcdef") for _i in range(32))
        return f"EU.ext-{node}.{int(time.time()):08x}.{seq}.{tail}"
