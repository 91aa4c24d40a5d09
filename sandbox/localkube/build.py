"""Build the localkube binaries from the Go module proxy (or, opt-in, download official releases).

Layout under ``${KEIKO_CACHE_DIR:-~/.cache/keikolatam-gitops}/localkube/``::

    <version-key>/bin/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler,kwok}
    <version-key>/BUILDINFO.json     what was built, how, and how long each step took
    go/mod, go/build, go/path        GOMODCACHE, GOCACHE, GOPATH (so a cold run is repeatable)
    logs/build-<version-key>-<time>.log

The ``<version-key>`` directory appears only when complete (built in a temporary directory next to
it, then renamed), so a second call finds it and builds nothing.
"""

from __future__ import annotations

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
import urllib.request
from pathlib import Path

from . import versions as V

BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
KUBE_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
DEFAULT_DOWNLOAD_URL = "https://dl.k8s.io/release"
# Compiler flags for every package: no DWARF (the linker strips it anyway with -w), less compile work.
GCFLAGS = "-gcflags=all=-dwarf=false"
# Fixed so that two builds of the same pins give the same version output.
BUILD_DATE = "1970-01-01T00:00:00Z"


class BuildError(RuntimeError):
    pass


def cache_root() -> Path:
    base = os.environ.get("KEIKO_CACHE_DIR") or str(Path.home() / ".cache" / "keikolatam-gitops")
    return Path(base).expanduser().resolve() / "localkube"


def version_dir() -> Path:
    return cache_root() / V.version_key()


def bin_dir() -> Path:
    return version_dir() / "bin"


def cached_binaries() -> dict[str, Path] | None:
    """The cached binaries if the complete set is present, else None."""
    bdir = bin_dir()
    paths = {name: bdir / name for name in BINARIES}
    if all(p.is_file() and os.access(p, os.X_OK) for p in paths.values()):
        return paths
    return None


def find_go() -> str:
    for cand in (os.environ.get("GO"), shutil.which("go"), "/usr/local/go/bin/go"):
        if cand and Path(cand).is_file():
            return cand
    raise BuildError("no Go toolchain found (set GO=/path/to/go or put go on PATH)")


def go_env() -> dict[str, str]:
    root = cache_root()
    env = dict(os.environ)
    env.update(
        GOMODCACHE=str(root / "go" / "mod"),
        GOCACHE=str(root / "go" / "build"),
        GOPATH=str(root / "go" / "path"),
        # Writable module cache: the cache dir can be removed with a plain rm -rf.
        GOFLAGS="-modcacherw -buildvcs=false",
        GOTOOLCHAIN="local",
        CGO_ENABLED="0",
        GOWORK="off",
        GO111MODULE="on",
    )
    env.pop("GOBIN", None)
    return env


class _Logger:
    def __init__(self, path: Path, echo) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(path, "a", encoding="utf-8")
        self.echo = echo

    def say(self, msg: str) -> None:
        line = f"[localkube build {time.strftime('%H:%M:%S')}] {msg}"
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


def _mod_download(log: _Logger, go: str, env, cwd: Path, mod: str) -> dict:
    out = log.run([go, "mod", "download", "-json", mod], cwd, env)
    info = json.loads(out[out.index("{"):])
    if info.get("Error"):
        raise BuildError(f"go mod download {mod}: {info['Error']}")
    return info


def _parse_gomod(text: str) -> tuple[str, list[str]]:
    go_line = re.search(r"^go\s+(\S+)", text, re.M)
    godebug = re.findall(r"^godebug\s+.+$", text, re.M)
    return (go_line.group(1) if go_line else "1.24"), godebug


def kube_gomod(kube_gomod_text: str, kube_version: str = V.KUBERNETES_VERSION) -> str:
    """go.mod of a throwaway module that builds k8s.io/kubernetes commands from the module proxy.

    k8s.io/kubernetes requires its staging modules at v0.0.0 with ``replace => ./staging/...``; a
    dependent module must replace each with the published version (k8s.io/api v0.33.13, ...).
    """
    go_version, godebug = _parse_gomod(kube_gomod_text)
    staging = sorted(set(re.findall(r"^\s*(k8s\.io/[\w.\-/]+)\s+=>\s+\./staging/", kube_gomod_text, re.M)))
    if not staging:
        raise BuildError("no staging replace directives found in k8s.io/kubernetes go.mod")
    sv = V.staging_version(kube_version)
    lines = ["module localkube.build/kube", "", f"go {go_version}", ""]
    lines += godebug + ([""] if godebug else [])
    lines += [f"require k8s.io/kubernetes {kube_version}", "", "replace ("]
    lines += [f"\t{m} => {m} {sv}" for m in staging]
    lines += [")", ""]
    return "\n".join(lines)


def _kube_ldflags(kube_version: str) -> str:
    major, minor = kube_version.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={kube_version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate={BUILD_DATE}",
        ]
    return " ".join(flags)


def _build_kube(log: _Logger, go: str, env, work: Path, out_bin: Path) -> None:
    mod = work / "kube"
    mod.mkdir()
    info = _mod_download(log, go, env, work, f"k8s.io/kubernetes@{V.KUBERNETES_VERSION}")
    (mod / "go.mod").write_text(kube_gomod(Path(info["GoMod"]).read_text()), encoding="utf-8")
    pkgs = [f"k8s.io/kubernetes/cmd/{c}" for c in KUBE_COMPONENTS]
    log.say("resolving k8s.io/kubernetes dependencies (go get)")
    # An explicit @version: a bare `go get pkg` means @upgrade and would move to the newest release.
    log.run([go, "get", *(f"{p}@{V.KUBERNETES_VERSION}" for p in pkgs)], mod, env)
    log.say(f"compiling {', '.join(KUBE_COMPONENTS)}")
    log.run([go, "build", "-trimpath", GCFLAGS, f"-ldflags={_kube_ldflags(V.KUBERNETES_VERSION)}",
             "-o", str(out_bin) + "/", *pkgs], mod, env)


def _build_etcd(log: _Logger, go: str, env, work: Path, out_bin: Path) -> None:
    # go.etcd.io/etcd/server/v3 has replace directives, so `go install mod@v` refuses it: build it
    # as a dependency of a throwaway module (its own requirements pin the sibling etcd modules).
    mod = work / "etcd"
    mod.mkdir()
    info = _mod_download(log, go, env, work, f"go.etcd.io/etcd/server/v3@{V.ETCD_VERSION}")
    go_version = _parse_gomod(Path(info["GoMod"]).read_text())[0]
    (mod / "go.mod").write_text(
        f"module localkube.build/etcd\n\ngo {go_version}\n\nrequire go.etcd.io/etcd/server/v3 {V.ETCD_VERSION}\n",
        encoding="utf-8",
    )
    log.run([go, "get", f"go.etcd.io/etcd/server/v3@{V.ETCD_VERSION}"], mod, env)
    log.run([go, "build", "-trimpath", GCFLAGS, "-ldflags=-s -w", "-o", str(out_bin / "etcd"), "go.etcd.io/etcd/server/v3"], mod, env)


def _build_kwok(log: _Logger, go: str, env, work: Path, out_bin: Path) -> None:
    env = dict(env, GOBIN=str(out_bin))
    ldflags = f"-s -w -X sigs.k8s.io/kwok/pkg/consts.Version={V.KWOK_VERSION}"
    log.run([go, "install", "-trimpath", GCFLAGS, f"-ldflags={ldflags}", f"sigs.k8s.io/kwok/cmd/kwok@{V.KWOK_VERSION}"], work, env)


def _download_kube(log: _Logger, out_bin: Path) -> None:
    """Official release binaries, sha256-checked. Only with KEIKO_KUBE_DOWNLOAD=1."""
    base = os.environ.get("KEIKO_KUBE_DOWNLOAD_URL", DEFAULT_DOWNLOAD_URL).rstrip("/")
    for name in KUBE_COMPONENTS:
        url = f"{base}/{V.KUBERNETES_VERSION}/bin/linux/{V.go_arch()}/{name}"
        log.say(f"downloading {url}")
        with urllib.request.urlopen(url + ".sha256", timeout=60) as resp:
            want = resp.read().decode().split()[0].strip().lower()
        dest = out_bin / name
        digest = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=600) as resp, open(dest, "wb") as fh:
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                digest.update(chunk)
                fh.write(chunk)
        if digest.hexdigest() != want:
            raise BuildError(f"sha256 mismatch for {url}: got {digest.hexdigest()}, want {want}")
        dest.chmod(0o755)


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


@contextlib.contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_binaries(echo=lambda m: print(m, file=sys.stderr), force: bool = False) -> dict[str, Path]:
    """Return the paths of the binaries, building them first if the cache does not have them."""
    found = cached_binaries()
    if found and not force:
        return found
    root = cache_root()
    with _lock(root / f".lock-{V.version_key()}"):
        found = cached_binaries()  # another process may have built them while we waited
        if found and not force:
            return found
        return _build(echo)


def _build(echo) -> dict[str, Path]:
    root = cache_root()
    key = V.version_key()
    log = _Logger(root / "logs" / f"build-{key}-{time.strftime('%Y%m%dT%H%M%S')}.log", echo)
    work = Path(tempfile.mkdtemp(prefix=f".build-{key}-", dir=root))
    out = work / "out"
    out_bin = out / "bin"
    out_bin.mkdir(parents=True)
    steps: dict[str, float] = {}
    download = os.environ.get("KEIKO_KUBE_DOWNLOAD") == "1"
    try:
        go = find_go()
        env = go_env()
        gov = subprocess.run([go, "version"], env=env, capture_output=True, text=True, check=False).stdout.strip()
        log.say(f"building {key} with {gov}; log {log.path}")
        plan = [("etcd", _build_etcd), ("kwok", _build_kwok)]
        if download:
            plan.insert(0, ("kube (download)", lambda *a: _download_kube(log, out_bin)))
        else:
            plan.insert(0, ("kube", _build_kube))
        t_all = time.monotonic()
        cpu: dict[str, float] = {}
        for name, fn in plan:
            t0, c0 = time.monotonic(), _children_cpu()
            log.say(f"step {name}: start")
            fn(log, go, env, work, out_bin)
            steps[name] = round(time.monotonic() - t0, 1)
            cpu[name] = round(_children_cpu() - c0, 1)
            log.say(f"step {name}: done in {steps[name]:.0f}s ({cpu[name]:.0f} CPU-seconds)")
        missing = [b for b in BINARIES if not (out_bin / b).is_file()]
        if missing:
            raise BuildError(f"build finished but {missing} missing")
        total = round(time.monotonic() - t_all, 1)
        (out / "BUILDINFO.json").write_text(json.dumps({
            "version_key": key,
            "kubernetes": V.KUBERNETES_VERSION, "etcd": V.ETCD_VERSION, "kwok": V.KWOK_VERSION,
            "go": gov, "kube_source": "dl.k8s.io" if download else "go module proxy",
            "seconds": steps, "total_seconds": total,
            # CPU time of the go commands: wall time on an idle machine is about this / cores.
            "cpu_seconds": cpu, "total_cpu_seconds": round(sum(cpu.values()), 1), "cores": os.cpu_count(), "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }, indent=2) + "\n", encoding="utf-8")
        dest = version_dir()
        if dest.exists():  # leftover without a complete bin/ (or --force): replace it
            shutil.rmtree(dest)
        os.rename(out, dest)
        log.say(f"built {key} in {total:.0f}s -> {dest / 'bin'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        log.close()
    found = cached_binaries()
    if not found:
        raise BuildError(f"binaries missing in {bin_dir()} after build")
    return found
