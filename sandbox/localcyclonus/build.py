"""Build cyclonus (``github.com/mattfenwick/cyclonus``) from the Go module proxy into the cache.

Layout, as the other Go-built tools of the sandbox (``localkube.gobuild.Cache``)::

    ${KEIKO_CACHE_DIR:-~/.cache/keikolatam-gitops}/cyclonus/<version>/bin/cyclonus
    ${KEIKO_CACHE_DIR:-~/.cache/keikolatam-gitops}/cyclonus/<version>/BUILDINFO.json   wall and CPU seconds
    ${KEIKO_CACHE_DIR:-~/.cache/keikolatam-gitops}/cyclonus/go/{mod,build,path}        the go command's caches

The version directory appears only when complete, so a second call builds nothing. ``go install
module@version`` builds the module as released (its own go.mod and go.sum, checksums verified).
"""

from __future__ import annotations

import sys
from pathlib import Path

from localkube import gobuild
from localkube.gobuild import find_go

VERSIONS_FILE = Path(__file__).with_name("versions.env")
MODULE = "github.com/mattfenwick/cyclonus"
PINS = {"CYCLONUS_VERSION": (r"v\d+\.\d+\.\d+", "vX.Y.Z"), "GO_TOOLCHAIN": (r"local|go\d+\.\d+(\.\d+)?", "local or go1.N.M")}
_V = gobuild.load_versions(VERSIONS_FILE, PINS)
VERSION: str = _V["CYCLONUS_VERSION"]
GO_TOOLCHAIN: str = _V["GO_TOOLCHAIN"]
CYCLONUS = "cyclonus"

CACHE = gobuild.Cache("cyclonus", lambda: VERSION, (CYCLONUS,), toolchain=GO_TOOLCHAIN)


def ensure_binary(echo=lambda m: print(m, file=sys.stderr), force: bool = False) -> Path:
    """The path of the cyclonus binary, built first when the cache does not have it."""
    return CACHE.ensure(lambda: _build(echo), force)[CYCLONUS]


def _build(echo) -> None:
    with gobuild.Build(CACHE, echo) as b:
        go = find_go()
        env = dict(CACHE.go_env(), GOBIN=str(b.out_bin), GOFLAGS="-modcacherw -buildvcs=false -mod=mod")
        b.start_clock()
        gov = b.log.run([go, "version"], b.work, env).strip().splitlines()[-1]
        b.log.say(f"building {MODULE}@{VERSION} with {gov}; log {b.log.path}")
        with b.step("cyclonus"):
            info = gobuild.mod_download(b.log, go, env, b.work, f"{MODULE}@{VERSION}")
            b.log.run([go, "install", "-trimpath", "-ldflags=-s -w", f"{MODULE}/cmd/cyclonus@{VERSION}"], b.work, env)
        b.require()
        dest = b.finish({"cyclonus": VERSION, "module_sum": info.get("Sum"), "go": gov, "source": "go module proxy"})
        b.log.say(f"built cyclonus {VERSION} in {b.total:.0f}s ({sum(b.cpu.values()):.0f} CPU-seconds) -> {dest / 'bin'}")
