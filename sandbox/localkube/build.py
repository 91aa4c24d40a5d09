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

import hashlib
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from . import gobuild
from . import versions as V
from .gobuild import BuildError, find_go

BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
KUBE_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
DEFAULT_DOWNLOAD_URL = "https://dl.k8s.io/release"
# Compiler flags for every package: no DWARF (the linker strips it anyway with -w), less compile work.
GCFLAGS = "-gcflags=all=-dwarf=false"
# Fixed so that two builds of the same pins give the same version output.
BUILD_DATE = "1970-01-01T00:00:00Z"


CACHE = gobuild.Cache("localkube", V.version_key, BINARIES)
cache_root = CACHE.root  # ${KEIKO_CACHE_DIR:-~/.cache/keikolatam-gitops}/localkube
version_dir = CACHE.version_dir  # cache_root() / <version key>
bin_dir = CACHE.bin_dir
cached_binaries = CACHE.cached  # the cached binaries if the complete set is present, else None
go_env = CACHE.go_env


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


def _build_kube(log: gobuild.Logger, go: str, env, work: Path, out_bin: Path) -> None:
    mod = work / "kube"
    mod.mkdir()
    info = gobuild.mod_download(log, go, env, work, f"k8s.io/kubernetes@{V.KUBERNETES_VERSION}")
    (mod / "go.mod").write_text(kube_gomod(Path(info["GoMod"]).read_text()), encoding="utf-8")
    pkgs = [f"k8s.io/kubernetes/cmd/{c}" for c in KUBE_COMPONENTS]
    log.say("resolving k8s.io/kubernetes dependencies (go get)")
    # An explicit @version: a bare `go get pkg` means @upgrade and would move to the newest release.
    log.run([go, "get", *(f"{p}@{V.KUBERNETES_VERSION}" for p in pkgs)], mod, env)
    log.say(f"compiling {', '.join(KUBE_COMPONENTS)}")
    log.run([go, "build", "-trimpath", GCFLAGS, f"-ldflags={_kube_ldflags(V.KUBERNETES_VERSION)}",
             "-o", str(out_bin) + "/", *pkgs], mod, env)


def _build_etcd(log: gobuild.Logger, go: str, env, work: Path, out_bin: Path) -> None:
    # go.etcd.io/etcd/server/v3 has replace directives, so `go install mod@v` refuses it: build it
    # as a dependency of a throwaway module (its own requirements pin the sibling etcd modules).
    mod = work / "etcd"
    mod.mkdir()
    info = gobuild.mod_download(log, go, env, work, f"go.etcd.io/etcd/server/v3@{V.ETCD_VERSION}")
    go_version = _parse_gomod(Path(info["GoMod"]).read_text())[0]
    (mod / "go.mod").write_text(
        f"module localkube.build/etcd\n\ngo {go_version}\n\nrequire go.etcd.io/etcd/server/v3 {V.ETCD_VERSION}\n",
        encoding="utf-8",
    )
    log.run([go, "get", f"go.etcd.io/etcd/server/v3@{V.ETCD_VERSION}"], mod, env)
    log.run([go, "build", "-trimpath", GCFLAGS, "-ldflags=-s -w", "-o", str(out_bin / "etcd"), "go.etcd.io/etcd/server/v3"], mod, env)


def _build_kwok(log: gobuild.Logger, go: str, env, work: Path, out_bin: Path) -> None:
    env = dict(env, GOBIN=str(out_bin))
    ldflags = f"-s -w -X sigs.k8s.io/kwok/pkg/consts.Version={V.KWOK_VERSION}"
    log.run([go, "install", "-trimpath", GCFLAGS, f"-ldflags={ldflags}", f"sigs.k8s.io/kwok/cmd/kwok@{V.KWOK_VERSION}"], work, env)


def _download_kube(log: gobuild.Logger, out_bin: Path) -> None:
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


def ensure_binaries(echo=lambda m: print(m, file=sys.stderr), force: bool = False) -> dict[str, Path]:
    """Return the paths of the binaries, building them first if the cache does not have them."""
    return CACHE.ensure(lambda: _build(echo), force)


def _build(echo) -> None:
    download = os.environ.get("KEIKO_KUBE_DOWNLOAD") == "1"
    with gobuild.Build(CACHE, echo) as b:
        go = find_go()
        env = go_env()
        gov = subprocess.run([go, "version"], env=env, capture_output=True, text=True, check=False).stdout.strip()
        b.log.say(f"building {b.key} with {gov}; log {b.log.path}")
        plan = [("etcd", _build_etcd), ("kwok", _build_kwok)]
        if download:
            plan.insert(0, ("kube (download)", lambda *a: _download_kube(b.log, b.out_bin)))
        else:
            plan.insert(0, ("kube", _build_kube))
        b.start_clock()
        for name, fn in plan:
            with b.step(name):
                fn(b.log, go, env, b.work, b.out_bin)
        b.require()
        dest = b.finish({
            "kubernetes": V.KUBERNETES_VERSION, "etcd": V.ETCD_VERSION, "kwok": V.KWOK_VERSION,
            "go": gov, "kube_source": "dl.k8s.io" if download else "go module proxy",
        })
        b.log.say(f"built {b.key} in {b.total:.0f}s -> {dest / 'bin'}")
