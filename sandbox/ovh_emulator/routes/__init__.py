"""The one table of route modules. Add a domain by writing ``routes/<domain>.py`` (see
docs/ovh-emulator.md) and adding its name here; nothing else changes."""

from __future__ import annotations

import importlib

ROUTE_MODULES = (
    "auth",
    "project",
    "kube",
    "network",
    "database",
    "registry",
    "users",
    "storage",
)

_loaded = False


def load() -> None:
    global _loaded
    if _loaded:
        return
    for name in ROUTE_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    _loaded = True
