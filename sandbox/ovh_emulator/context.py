"""The per-request context handed to route handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from . import lifecycle
from .errors import NotFound

if TYPE_CHECKING:  # pragma: no cover
    from .server import Emulator


class Ctx:
    def __init__(self, app: "Emulator", state: dict, method: str, path: str, template: str,
                 params: dict, query: dict, body: Any, request_id: str):
        self.app = app
        self.state = state
        self.settings = app.settings
        self.ids = app.ids
        self.method = method
        self.path = path
        self.template = template
        self.params = params
        self.query = query
        self.body = body
        self.request_id = request_id  # the "(request ID: ...)" of MKS-style messages
        self.now = app.store.now()
        self.touched: list[str] = []
        self._effects: list[Callable[[], None]] = []

    # -- helpers for handlers ----------------------------------------------------------------
    def project(self, service_name: str) -> dict:
        """The project's state (404 ``This service does not exist`` for an unknown service)."""
        proj = self.state["projects"].get(service_name)
        if proj is None:
            raise NotFound("This service does not exist")
        return proj

    def lookup(self, items: dict, key: str, message: str, *, hide_fresh: bool = False) -> dict:
        """``items[key]``, touched; 404 ``message`` when it is absent (or, with ``hide_fresh``, inside its
        "404 right after create" window)."""
        obj = items.get(key)
        if obj is None or (hide_fresh and self.recently_created(obj)):
            raise NotFound(message)
        self.touch(key)
        return obj

    def touch(self, *ids: str) -> None:
        for i in ids:
            if i and i not in self.touched:
                self.touched.append(i)

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` after the state is saved and the lock released (slow side effects)."""
        self._effects.append(fn)

    def iso(self, ts: float | None = None) -> str:
        return lifecycle.iso(self.now if ts is None else ts)

    @property
    def transition(self) -> float:
        return float(self.settings.transition_seconds)

    def recently_created(self, obj: dict) -> bool:
        """True while the opt-in "404 right after create" window of ``obj`` is open."""
        window = float(self.settings.not_found_after_create_seconds)
        created = obj.get("_created_ts")
        return window > 0 and created is not None and self.now - float(created) < window
