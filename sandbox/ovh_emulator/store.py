"""Persistent state: one JSON document in ``<state-dir>/state.json``, rewritten atomically after
every change, so a stopped emulator resumes with its resources.

All access goes through :meth:`Store.transaction` (one re-entrant lock: requests are serialised,
which is what a small emulator wants). Route modules keep their resources under
``state["projects"][serviceName][<domain>]``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

STATE_VERSION = 1


def atomic_write_json(path: Path, data: Any, mode: int = 0o600) -> str:
    """Write ``data`` as JSON to ``path`` atomically (temp file + fsync + rename). Returns the text."""
    text = json.dumps(data, indent=1, sort_keys=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return text


def fresh_state() -> dict:
    return {
        "version": STATE_VERSION,
        "clock_offset": 0.0,
        "projects": {},
        "oauth2_tokens": {},
        "counters": {},
        "localkube": {"bound_kube_id": None},
    }


class Store:
    def __init__(self, state_dir: Path):
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "state.json"
        self.lock = threading.RLock()
        self._saved_text = ""
        if self.path.exists():
            with self.path.open(encoding="utf-8") as fh:
                self.data = json.load(fh)
            self._saved_text = json.dumps(self.data, indent=1, sort_keys=True)
            if self.data.get("version") != STATE_VERSION:
                raise RuntimeError(f"{self.path}: unsupported state version {self.data.get('version')}")
            for k, v in fresh_state().items():
                self.data.setdefault(k, v)
        else:
            self.data = fresh_state()
            self.save()

    def save(self) -> None:
        with self.lock:
            text = json.dumps(self.data, indent=1, sort_keys=True)
            if text != self._saved_text:
                atomic_write_json(self.path, self.data)
                self._saved_text = text

    @contextlib.contextmanager
    def transaction(self) -> Iterator[dict]:
        """Hold the lock; persist whatever changed on exit (also when the body raised)."""
        with self.lock:
            try:
                yield self.data
            finally:
                self.save()

    def now(self) -> float:
        """Clock of resource lifecycles: the machine clock plus the /_emulator/advance offset."""
        return time.time() + float(self.data.get("clock_offset", 0.0))

    def counter(self, name: str, start: int = 0) -> int:
        with self.lock:
            c = self.data.setdefault("counters", {})
            c[name] = int(c.get(name, start)) + 1
            return c[name]
