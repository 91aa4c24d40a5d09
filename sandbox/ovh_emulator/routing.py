"""Route registry: route modules declare handlers with ``@route(METHOD, "/schema/template")``.

    from ovh_emulator.routing import route, advancer, project_initializer

    @route("GET", "/cloud/project/{serviceName}/kube")
    def list_clusters(ctx, serviceName):
        return sorted(ctx.project(serviceName)["kube"])

Templates must be exact paths of the official schema (checked when the server starts and by the
contract test). Handlers receive the request context and the path parameters as keyword
arguments and return the response body (``None`` for ``void``); they raise
:class:`~ovh_emulator.errors.ApiError` for API errors.

``create=True`` marks a POST that creates a resource: the "500 but created" fault applies to it.
``advancer`` functions run before each API request to move statuses with time;
``project_initializer`` functions fill a new (or reset) project with the domain's collections;
``on_start`` and ``before_reset`` hooks receive the emulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass
class Route:
    method: str
    template: str
    handler: Callable
    create: bool
    module: str


class Registry:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.advancers: list[Callable] = []
        self.initializers: list[Callable] = []
        self.startup: list[Callable] = []
        self.resetters: list[Callable] = []

    def route(self, method: str, template: str, *, create: bool = False):
        def deco(fn: Callable) -> Callable:
            key = (method.upper(), template)
            if key in self.routes and self.routes[key].handler is not fn:
                prev = self.routes[key]
                if (prev.module, prev.handler.__qualname__) != (fn.__module__, fn.__qualname__):
                    raise ValueError(f"route {method} {template} registered twice ({prev.module}, {fn.__module__})")
            self.routes[key] = Route(method.upper(), template, fn, create, fn.__module__)
            return fn
        return deco

    def advancer(self, fn: Callable) -> Callable:
        if fn not in self.advancers:
            self.advancers.append(fn)
        return fn

    def project_initializer(self, fn: Callable) -> Callable:
        if fn not in self.initializers:
            self.initializers.append(fn)
        return fn

    def on_start(self, fn: Callable) -> Callable:
        """``fn(app)`` runs once in the background after the server starts (e.g. resync localkube)."""
        if fn not in self.startup:
            self.startup.append(fn)
        return fn

    def before_reset(self, fn: Callable) -> Callable:
        """``fn(app)`` runs before ``POST /_emulator/reset`` forgets the state."""
        if fn not in self.resetters:
            self.resetters.append(fn)
        return fn


REGISTRY = Registry()
route = REGISTRY.route
advancer = REGISTRY.advancer
project_initializer = REGISTRY.project_initializer
on_start = REGISTRY.on_start
before_reset = REGISTRY.before_reset
