"""What the sandbox's two Go-built components (``localkube``, ``localargo``) share: their pins file
``versions.env``, the build of their binaries into the cache (lock, re-check, temporary directory,
timed steps, ``BUILDINFO.json``, atomic rename), the lock of a data dir, and bits of their CLIs.

Each component keeps its own cache directory, version key, log prefix and build steps; this module
only holds the skeleton, so both build and lay out their caches the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class BuildError(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------------
# versions.env

def load_versions(path: Path, pins: dict[str, tuple[str, str]]) -> dict[str, str]:
    """The ``KEY=value`` lines of ``path`` (blank lines and ``#`` comments skipped, quotes stripped).

    ``pins`` maps each key that must be there to (regular expression its whole value must match,
    the form an error names), checked in that order."""
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: malformed line {raw!r}")
        values[key.strip()] = value.strip().strip('"').strip("'")
    for key, (pattern, form) in pins.items():
        if not re.fullmatch(pattern, values.get(key, ""), re.S):
            raise ValueError(f"{path}: {key} missing or not of the form {form}")
    return values


# ---------------------------------------------------------------------------------------------
# go command, log, locks

def find_go() -> str:
    for cand in (os.environ.get("GO"), shutil.which("go"), "/usr/local/go/bin/go"):
        if cand and Path(cand).is_file():
            return cand
    raise BuildError("no Go toolchain found (set GO=/path/to/go or put go on PATH)")


def go_env(root: Path, toolchain: str = "local") -> dict[str, str]:
    """Environment of the go commands of a component whose cache is ``root``."""
    env = dict(os.environ)
    env.update(
        GOMODCACHE=str(root / "go" / "mod"),
        GOCACHE=str(root / "go" / "build"),
        GOPATH=str(root / "go" / "path"),
        # Writable module cache: the cache dir can be removed with a plain rm -rf.
        GOFLAGS="-modcacherw -buildvcs=false",
        GOTOOLCHAIN=toolchain,
        CGO_ENABLED="0",
        GOWORK="off",
        GO111MODULE="on",
    )
    env.pop("GOBIN", None)
    return env


class Logger:
    """A build log; ``say`` also echoes, prefixed with ``[<prefix> HH:MM:SS]``."""

    def __init__(self, path: Path, echo, prefix: str) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(path, "a", encoding="utf-8")
        self.echo = echo
        self.prefix = prefix

    def say(self, msg: str) -> None:
        line = f"[{self.prefix} {time.strftime('%H:%M:%S')}] {msg}"
        self.fh.write(line + "\n")
        self.fh.flush()
        if self.echo:
            self.echo(line)

    def run(self, argv: list[str], cwd: Path, env: dict[str, str]) -> str:
        self.fh.write(f"$ (cd {cwd} && {' '.join(argv)})\n")
        self.fh.flush()
        proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        self.fh.write(proc.stdout)
        self.fh.flush()
        if proc.returncode != 0:
            tail = "\n".join(proc.stdout.splitlines()[-30:])
            raise BuildError(f"{' '.join(argv)} failed (exit {proc.returncode}); log: {self.path}\n{tail}")
        return proc.stdout

    def close(self) -> None:
        self.fh.close()


def mod_download(log: Logger, go: str, env, cwd: Path, mod: str) -> dict:
    out = log.run([go, "mod", "download", "-json", mod], cwd, env)
    info = json.loads(out[out.index("{"):])
    if info.get("Error"):
        raise BuildError(f"go mod download {mod}: {info['Error']}")
    return info


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


@contextlib.contextmanager
def lock(path: Path):
    """An exclusive flock on ``path`` (created, with its directory, if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def dir_lock(cache: Path, data_dir: Path):
    """Serialise up/down on one data dir (lock file in the cache, keyed by the dir's path)."""
    key = hashlib.sha256(str(data_dir).encode()).hexdigest()[:24]
    return lock(cache / "locks" / f"run-{key}.lock")


# ---------------------------------------------------------------------------------------------
# the build of a component's binaries into its cache

class Cache:
    """The cache of one component, ``${KEIKO_CACHE_DIR:-~/.cache/keikolatam-gitops}/<name>/``: one
    directory of binaries per version key (``<key>/bin/<files>``, complete or absent), the go
    command's caches in ``go/`` and the logs in ``logs/``. ``version_key`` is a function (the key of
    the pins), ``files`` the names ``bin/`` holds when complete."""

    def __init__(self, name: str, version_key, files: tuple[str, ...], toolchain: str = "local") -> None:
        self.name = name
        self.version_key = version_key
        self.files = files
        self.toolchain = toolchain

    def root(self) -> Path:
        base = os.environ.get("KEIKO_CACHE_DIR") or str(Path.home() / ".cache" / "keikolatam-gitops")
        return Path(base).expanduser().resolve() / self.name

    def version_dir(self) -> Path:
        return self.root() / self.version_key()

    def bin_dir(self) -> Path:
        return self.version_dir() / "bin"

    def cached(self) -> dict[str, Path] | None:
        """The cached files (name -> path) if the complete set is present, else None."""
        bdir = self.bin_dir()
        paths = {name: bdir / name for name in self.files}
        if all(p.is_file() and os.access(p, os.X_OK) for p in paths.values()):
            return paths
        return None

    def go_env(self) -> dict[str, str]:
        return go_env(self.root(), self.toolchain)

    def logger(self, what: str, echo) -> Logger:
        """A new log ``logs/<what>-<version key>-<time>.log``, its lines prefixed ``[<name> build HH:MM:SS]``."""
        path = self.root() / "logs" / f"{what}-{self.version_key()}-{time.strftime('%Y%m%dT%H%M%S')}.log"
        return Logger(path, echo, f"{self.name} build")

    def ensure(self, build, force: bool = False) -> dict[str, Path]:
        """The cached files; if the set is not complete (or ``force``), ``build()`` first, under a
        lock (unless another process built them while we waited)."""
        found = self.cached()
        if found and not force:
            return found
        with lock(self.root() / f".lock-{self.version_key()}"):
            found = self.cached()  # another process may have built them while we waited
            if found and not force:
                return found
            build()
        found = self.cached()
        if not found:
            raise BuildError(f"binaries missing in {self.bin_dir()} after build")
        return found


class Build:
    """One build: a log, a temporary directory ``work`` next to the cached sets (removed at the
    end) with the future set in ``out`` (binaries in ``out_bin``), wall and CPU seconds of each
    step. ``finish`` writes ``BUILDINFO.json`` and renames ``out`` to the set's directory."""

    def __init__(self, cache: Cache, echo) -> None:
        self.cache = cache
        self.key = key = cache.version_key()
        self.log = cache.logger("build", echo)
        self.work = Path(tempfile.mkdtemp(prefix=f".build-{key}-", dir=cache.root()))
        self.out = self.work / "out"
        self.out_bin = self.out / "bin"
        self.out_bin.mkdir(parents=True)
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.t_all = time.monotonic()
        self.total = 0.0

    def __enter__(self) -> Build:
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        self.log.close()

    def start_clock(self) -> None:
        """The total time counts from now."""
        self.t_all = time.monotonic()

    @contextlib.contextmanager
    def step(self, name: str, note: str = "", quiet: bool = False):
        """Time the step ``name``: its start (with ``note``) and, unless ``quiet``, its end are logged."""
        t0, c0 = time.monotonic(), children_cpu()
        self.log.say(f"step {name}: start{note}")
        yield
        self.seconds[name] = round(time.monotonic() - t0, 1)
        self.cpu[name] = round(children_cpu() - c0, 1)
        if not quiet:
            self.log.say(f"step {name}: done in {self.seconds[name]:.0f}s ({self.cpu[name]:.0f} CPU-seconds)")

    def require(self) -> None:
        missing = [f for f in self.cache.files if not (self.out_bin / f).is_file()]
        if missing:
            raise BuildError(f"build finished but {missing} missing")

    def finish(self, info: dict) -> Path:
        """Write BUILDINFO.json (``info`` and the timings), move the set to its directory in the
        cache and return that directory; ``total`` is then the total seconds."""
        self.total = total = round(time.monotonic() - self.t_all, 1)
        (self.out / "BUILDINFO.json").write_text(json.dumps({
            "version_key": self.key, **info,
            "seconds": self.seconds, "total_seconds": total,
            # CPU time of the go commands: wall time on an idle machine is about this / cores.
            "cpu_seconds": self.cpu, "total_cpu_seconds": round(sum(self.cpu.values()), 1), "cores": os.cpu_count(),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }, indent=2) + "\n", encoding="utf-8")
        dest = self.cache.version_dir()
        if dest.exists():  # leftover without a complete bin/ (or --force): replace it
            shutil.rmtree(dest)
        os.rename(self.out, dest)
        return dest


# ---------------------------------------------------------------------------------------------
# CLI

def cli_parser(prog: str, description: str, build_help: str, **kwargs):
    """The parser of a component's CLI and its subcommands, with ``build [--force]``."""
    parser = argparse.ArgumentParser(prog=prog, description=description, **kwargs)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help=build_help).add_argument("--force", action="store_true", help="rebuild even if cached")
    return parser, sub


def echo(msg: str) -> None:
    """Progress and errors of the CLIs: to stderr, at once."""
    print(msg, file=sys.stderr, flush=True)


def down_or_status(cmd: str, component, data_dir: Path) -> int | None:
    """The exit code of the ``down`` and ``status`` commands of a component (a module with
    ``down(data_dir, echo=)`` and ``status(data_dir)``); None for any other command. ``status``
    prints the status as JSON and exits 0 if up, else 1."""
    if cmd == "down":
        component.down(data_dir, echo=echo)
        return 0
    if cmd == "status":
        status = component.status(data_dir)
        print(json.dumps(status, indent=2))
        return 0 if status["up"] else 1
    return None
