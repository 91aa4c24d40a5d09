"""Log of every request the emulator answered (except the admin API itself).

Kept in memory for ``GET /_emulator/requests`` and appended to ``<state-dir>/requests.jsonl``.
Request bodies are stored with password/secret-looking fields redacted.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

SECRET_KEY_RE = re.compile(
    r"(pass(word|wd)?|secret|token|private.?key|consumer.?key|application.?key|credential|api.?key|"
    r"client.?secret|content|signature|certificate|authorization)",
    re.IGNORECASE,
)
REDACTED = "**REDACTED**"


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and SECRET_KEY_RE.search(k) and v is not None else redact(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


class RequestLog:
    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()
        self._entries: list[dict] = []
        self._seq = 0
        if path is not None and path.exists():
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        self._seq = max(self._seq, int(json.loads(line).get("seq", 0)))
                    except (ValueError, AttributeError):
                        continue

    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def append(self, entry: dict) -> None:
        line = json.dumps(entry, sort_keys=True)
        with self._lock:
            self._entries.append(entry)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")

    def entries(self, since: int = 0, kind: str | None = None, method: str | None = None,
                writes: bool = False) -> list[dict]:
        with self._lock:
            out = [e for e in self._entries if e["seq"] > since]
        if kind:
            out = [e for e in out if e.get("kind") == kind]
        if method:
            out = [e for e in out if e.get("method") == method.upper()]
        if writes:
            out = [e for e in out if e.get("kind") == "api" and e.get("method") != "GET"]
        return out

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            if self.path is not None:
                self.path.write_text("", encoding="utf-8")
