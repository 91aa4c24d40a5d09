"""Build the Argo CD and kustomize binaries of the sandbox from the Go module proxy.

Layout under ``${KEIKO_CACHE_DIR:-~/.cache/keikolatam-gitops}/localargo/``::

    <version-key>/bin/argocd                   the one Argo CD binary (it acts as the component it is
                                               named after: argv[0])
    <version-key>/bin/argocd-server, argocd-repo-server, argocd-application-controller,
        argocd-applicationset-controller       symlinks to argocd
    <version-key>/bin/kustomize                for kustomize sources (the repo-server runs it)
    <version-key>/bin/git-verify-wrapper.sh, gpg-wrapper.sh
                                               upstream's hack/ scripts that its image puts next to the
                                               binary (the repo-server runs them), made executable
    <version-key>/BUILDINFO.json               what was built, how, and how long each step took
    go/mod, go/build, go/path                  GOMODCACHE (with the Go toolchain it fetched), GOCACHE, GOPATH
    logs/build-<version-key>-<time>.log

The ``<version-key>`` directory appears only when complete (built in a temporary directory next to
it, then renamed), so a second call finds it and builds nothing.

Argo CD v3.6.1 needs Go 1.27: the go command fetches the pinned toolchain (``GOTOOLCHAIN``) from the
module proxy. Its go.mod has ``replace github.com/argoproj/argo-cd/gitops-engine/v3 => ./gitops-engine``,
a nested module that module zips do not contain, so the build works on a copy of the module with that
line dropped: the go command then uses the gitops-engine release the go.mod requires (served by the
proxy). One source patch (``PATCHES``) binds the application controller's metrics/healthz server to
127.0.0.1 instead of 0.0.0.0 (upstream has no flag for it). The version variables of ``common`` are
set with ``-ldflags -X`` (else ``argocd version`` says v99.99.99).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
from pathlib import Path

from localkube import build as kbuild
from localkube import gobuild
from localkube.build import GCFLAGS
from localkube.gobuild import BuildError, find_go

from . import versions as V

ARGOCD = "argocd"
# Symlinks to the argocd binary: each acts as the component it is named after.
COMPONENT_LINKS = ("argocd-server", "argocd-repo-server", "argocd-application-controller",
                   "argocd-applicationset-controller")
GIT_VERIFY_WRAPPER = "git-verify-wrapper.sh"
# The shell wrappers the upstream image puts next to the binary (its Dockerfile copies them to
# /usr/local/bin): the repo-server runs them from PATH.
WRAPPERS = (GIT_VERIFY_WRAPPER, "gpg-wrapper.sh")
KUSTOMIZE = "kustomize"
FILES = (ARGOCD, *COMPONENT_LINKS, KUSTOMIZE, *WRAPPERS)

ARGOCD_VERSION_PKG = f"{V.ARGOCD_MODULE}/common"
KUSTOMIZE_PROVENANCE_PKG = "sigs.k8s.io/kustomize/api/provenance"
# Source patches of the build copy, each (file, exact text, replacement), applied exactly once or the
# build fails: the application controller binds its metrics/healthz server to 0.0.0.0 with no flag
# to change it, and everything of the sandbox listens on loopback only.
PATCHES = (
    ("controller/appcontroller.go", 'metricsAddr := fmt.Sprintf("0.0.0.0:%d", metricsPort)',
     'metricsAddr := fmt.Sprintf("127.0.0.1:%d", metricsPort)'),
)
_ENGINE_REPLACE = re.compile(r"^replace\s+" + re.escape(V.GITOPS_ENGINE_MODULE) + r"\s+=>\s+\./gitops-engine\s*$\n?", re.M)


CACHE = gobuild.Cache("localargo", V.version_key, FILES, toolchain=V.GO_TOOLCHAIN)
cache_root = CACHE.root  # ${KEIKO_CACHE_DIR:-~/.cache/keikolatam-gitops}/localargo
version_dir = CACHE.version_dir  # cache_root() / <version key>
bin_dir = CACHE.bin_dir
cached_binaries = CACHE.cached  # the cached files (name -> path) if the complete set is present, else None
go_env = CACHE.go_env


# ---------------------------------------------------------------------------------------------
# the upstream module in the module cache (install manifest, git-verify-wrapper.sh)

def module_dir(echo=None) -> Path:
    """Directory of ``github.com/argoproj/argo-cd/v3@<version>`` in the module cache (downloaded
    from the proxy, checksum-verified, when it is not there)."""
    d = Path(go_env()["GOMODCACHE"]) / f"{V.ARGOCD_MODULE}@{V.ARGOCD_VERSION}"
    if (d / "go.mod").is_file():
        return d
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    log = CACHE.logger("download", echo)
    try:
        info = gobuild.mod_download(log, find_go(), go_env(), root, f"{V.ARGOCD_MODULE}@{V.ARGOCD_VERSION}")
    finally:
        log.close()
    return Path(info["Dir"])


def install_manifest(echo=None) -> Path:
    """The upstream ``manifests/install.yaml`` of the pinned release (in the module cache)."""
    return module_dir(echo) / "manifests" / "install.yaml"


def git_verify_wrapper_source(echo=None) -> Path:
    """The upstream ``hack/git-verify-wrapper.sh`` (in the module cache, not executable there)."""
    return module_dir(echo) / "hack" / GIT_VERIFY_WRAPPER


# ---------------------------------------------------------------------------------------------
# build steps

def drop_engine_replace(gomod: str) -> str:
    """go.mod text without the ``gitops-engine => ./gitops-engine`` replace (a nested module)."""
    return _ENGINE_REPLACE.sub("", gomod)


def apply_patches(src: Path) -> list[str]:
    """Apply PATCHES to the module copy in ``src``; the list of patched files."""
    done = []
    for rel, old, new in PATCHES:
        path = src / rel
        text = path.read_text(encoding="utf-8")
        if text.count(old) != 1:
            raise BuildError(f"patch of {rel}: expected the text {old!r} exactly once, found it {text.count(old)} times")
        path.write_text(text.replace(old, new), encoding="utf-8")
        done.append(f"{rel}: {old} -> {new}")
    return done


def module_version(gomod: str, module: str) -> str | None:
    """The version of ``module`` in a go.mod: its replace target's if replaced, else its require's."""
    m = re.search(r"^\s*(?:replace\s+)?" + re.escape(module) + r"\s+=>\s+" + re.escape(module) + r"\s+(v\S+)", gomod, re.M)
    if m:
        return m.group(1)
    m = re.search(r"^\s*(?:require\s+)?" + re.escape(module) + r"\s+(v\S+)", gomod, re.M)
    return m.group(1) if m else None


def argocd_ldflags(version: str, build_date: str, kubectl_version: str, module_sum: str) -> str:
    """Linker flags: no symbol table or DWARF, and the version variables of ``common`` (without
    them ``argocd version`` says v99.99.99). The commit of the release tag is not in the module zip,
    so the version reads ``v3.6.1+unknown``; extraBuildInfo names the module checksum instead."""
    pkg = ARGOCD_VERSION_PKG
    return " ".join([
        "-s", "-w",
        f"-X {pkg}.version={version.lstrip('v')}",
        f"-X {pkg}.buildDate={build_date}",
        f"-X {pkg}.gitTreeState=clean",
        f"-X {pkg}.kubectlVersion={kubectl_version}",
        f"-X {pkg}.extraBuildInfo=go-module-proxy:{module_sum}",
    ])


def _make_writable(tree: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(tree):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | stat.S_IWUSR)


def _build_argocd(log: gobuild.Logger, go: str, env, work: Path, out_bin: Path, meta: dict) -> None:
    info = gobuild.mod_download(log, go, env, work, f"{V.ARGOCD_MODULE}@{V.ARGOCD_VERSION}")
    src = work / "argo-cd"
    log.say(f"copying {info['Dir']} to the build dir")
    shutil.copytree(info["Dir"], src, symlinks=True)
    _make_writable(src)
    gomod_path = src / "go.mod"
    gomod = gomod_path.read_text(encoding="utf-8")
    fixed = drop_engine_replace(gomod)
    if fixed != gomod:
        log.say(f"dropped `replace {V.GITOPS_ENGINE_MODULE} => ./gitops-engine` (nested module, not in the zip)")
        gomod_path.write_text(fixed, encoding="utf-8")
    patches = apply_patches(src)
    for line in patches:
        log.say(f"patched {line}")
    meta["patches"] = patches
    engine = module_version(fixed, V.GITOPS_ENGINE_MODULE)
    if engine:
        # Adds the gitops-engine release's checksums to go.sum (the upstream go.sum has none: it
        # used the local directory).
        log.run([go, "mod", "download", V.GITOPS_ENGINE_MODULE], src, env)
    kubectl = module_version(fixed, "k8s.io/client-go") or "unknown"
    build_date = json.loads(Path(info["Info"]).read_text()).get("Time", kbuild.BUILD_DATE)
    meta.update(argocd_module_sum=info.get("Sum"), gitops_engine=engine, kubectl_version=kubectl,
                argocd_release_time=build_date)
    log.say(f"compiling argocd (./cmd) with gitops-engine {engine}, client-go {kubectl}")
    log.run([go, "build", "-trimpath", GCFLAGS,
             f"-ldflags={argocd_ldflags(V.ARGOCD_VERSION, build_date, kubectl, info.get('Sum', ''))}",
             "-o", str(out_bin / ARGOCD), "./cmd"], src, env)
    for name in COMPONENT_LINKS:
        (out_bin / name).symlink_to(ARGOCD)
    for name in WRAPPERS:
        shutil.copyfile(src / "hack" / name, out_bin / name)
        (out_bin / name).chmod(0o755)


def _build_kustomize(log: gobuild.Logger, go: str, env, work: Path, out_bin: Path, meta: dict) -> None:
    info = gobuild.mod_download(log, go, env, work, f"{V.KUSTOMIZE_MODULE}@{V.KUSTOMIZE_VERSION}")
    build_date = json.loads(Path(info["Info"]).read_text()).get("Time", kbuild.BUILD_DATE)
    meta.update(kustomize_module_sum=info.get("Sum"))
    ldflags = (f"-s -w -X {KUSTOMIZE_PROVENANCE_PKG}.version={V.KUSTOMIZE_VERSION}"
               f" -X {KUSTOMIZE_PROVENANCE_PKG}.buildDate={build_date}")
    log.run([go, "install", "-trimpath", GCFLAGS, f"-ldflags={ldflags}",
             f"{V.KUSTOMIZE_MODULE}@{V.KUSTOMIZE_VERSION}"], work, dict(env, GOBIN=str(out_bin)))


# ---------------------------------------------------------------------------------------------
# entry points

def ensure_binaries(echo=lambda m: print(m, file=sys.stderr), force: bool = False) -> dict[str, Path]:
    """Return the paths of the files in ``bin/``, building them first if the cache does not have them."""
    return CACHE.ensure(lambda: _build(echo), force)


def _build(echo) -> None:
    with gobuild.Build(CACHE, echo) as b:
        log = b.log
        meta: dict = {}
        go = find_go()
        env = go_env()
        b.start_clock()
        with b.step("toolchain", f" ({V.GO_TOOLCHAIN}, fetched by the go command if not cached)", quiet=True):
            gov = log.run([go, "version"], b.work, env).strip().splitlines()[-1]
        log.say(f"building {b.key} with {gov}; log {log.path}")
        for name, fn in (("argocd", _build_argocd), ("kustomize", _build_kustomize)):
            with b.step(name):
                fn(log, go, env, b.work, b.out_bin, meta)
        b.require()
        versions = {}
        for name, argv in ((ARGOCD, [str(b.out_bin / ARGOCD), "version", "--client", "--short"]),
                           (KUSTOMIZE, [str(b.out_bin / KUSTOMIZE), "version"])):
            versions[name] = log.run(argv, b.work, env).strip().splitlines()[-1]
            log.say(f"{name} version: {versions[name]}")
        dest = b.finish({
            "argocd": V.ARGOCD_VERSION, "kustomize": V.KUSTOMIZE_VERSION, "go_toolchain": V.GO_TOOLCHAIN,
            "go": gov, "source": "go module proxy", "version_output": versions, **meta,
        })
        log.say(f"built {b.key} in {b.total:.0f}s ({sum(b.cpu.values()):.0f} CPU-seconds) -> {dest / 'bin'}")


def buildinfo() -> dict | None:
    path = version_dir() / "BUILDINFO.json"
    return json.loads(path.read_text()) if path.is_file() else None
