"""The skeleton localkube and localargo share (localkube.gobuild), without Go: a fake build."""

from __future__ import annotations

import json
import os

import pytest

from localargo import versions as AV
from localkube import gobuild
from localkube import versions as KV


def _cache(monkeypatch, tmp_path) -> gobuild.Cache:
    monkeypatch.setenv("KEIKO_CACHE_DIR", str(tmp_path))
    return gobuild.Cache("comp", lambda: "key-1", ("a", "b"))


def _fake_build(cache: gobuild.Cache, calls: list[str], missing: str = ""):
    def build():
        calls.append("build")
        with gobuild.Build(cache, None) as b:
            for name in cache.files:
                with b.step(name):
                    if name != missing:
                        (b.out_bin / name).write_text("#!/bin/sh\n")
                        (b.out_bin / name).chmod(0o755)
            b.require()
            b.finish({"what": "fake"})
    return build


def test_ensure_builds_once_then_finds_the_cache(monkeypatch, tmp_path):
    cache = _cache(monkeypatch, tmp_path)
    calls: list[str] = []
    first = cache.ensure(_fake_build(cache, calls))
    assert first == {n: tmp_path / "comp" / "key-1" / "bin" / n for n in ("a", "b")}
    assert cache.ensure(_fake_build(cache, calls)) == first
    assert calls == ["build"]
    info = json.loads((tmp_path / "comp" / "key-1" / "BUILDINFO.json").read_text())
    assert info["version_key"] == "key-1" and info["what"] == "fake"
    assert set(info["seconds"]) == set(info["cpu_seconds"]) == {"a", "b"}
    # the temporary build dir is gone; only the set, its lock and the log are left
    assert sorted(p.name for p in (tmp_path / "comp").iterdir()) == [".lock-key-1", "key-1", "logs"]
    log = next((tmp_path / "comp" / "logs").iterdir())
    assert log.name.startswith("build-key-1-") and "[comp build " in log.read_text()
    cache.ensure(_fake_build(cache, calls), force=True)
    assert calls == ["build", "build"]


def test_an_incomplete_build_leaves_no_set(monkeypatch, tmp_path):
    cache = _cache(monkeypatch, tmp_path)
    with pytest.raises(gobuild.BuildError, match=r"build finished but \['b'\] missing"):
        cache.ensure(_fake_build(cache, [], missing="b"))
    assert not (tmp_path / "comp" / "key-1").exists()
    assert not [p for p in (tmp_path / "comp").iterdir() if p.name.startswith(".build-")]
    assert cache.cached() is None


def test_a_set_without_executables_is_not_cached(monkeypatch, tmp_path):
    cache = _cache(monkeypatch, tmp_path)
    cache.bin_dir().mkdir(parents=True)
    for name in cache.files:
        (cache.bin_dir() / name).write_text("")
    assert cache.cached() is None
    os.chmod(cache.bin_dir() / "a", 0o755)
    os.chmod(cache.bin_dir() / "b", 0o755)
    assert cache.cached() == {n: cache.bin_dir() / n for n in cache.files}


def test_versions_file_errors_name_the_key_and_form(tmp_path):
    path = tmp_path / "versions.env"
    path.write_text('# pins\nKUBERNETES_VERSION="v1.2.3"\nETCD_VERSION=v3\n\nKWOK_VERSION=0.7.0\n')
    with pytest.raises(ValueError, match="KWOK_VERSION missing or not of the form vX.Y.Z"):
        gobuild.load_versions(path, KV.PINS)
    path.write_text("ARGOCD_VERSION=v3.6.1\nKUSTOMIZE_VERSION='v5.8.2'\nGO_TOOLCHAIN=go1.27\n")
    assert gobuild.load_versions(path, AV.PINS)["KUSTOMIZE_VERSION"] == "v5.8.2"
    path.write_text("ARGOCD_VERSION=v3.6\nKUSTOMIZE_VERSION=v5.8.2\nGO_TOOLCHAIN=go1.27\n")
    with pytest.raises(ValueError, match="ARGOCD_VERSION missing or not of the form vX.Y.Z"):
        gobuild.load_versions(path, AV.PINS)
    path.write_text("ARGOCD_VERSION=v3.6.1\nKUSTOMIZE_VERSION=v5.8.2\nGO_TOOLCHAIN=1.27\n")
    with pytest.raises(ValueError, match="GO_TOOLCHAIN missing or not of the form go1.N.M"):
        gobuild.load_versions(path, AV.PINS)
    path.write_text("ARGOCD_VERSION v3.6.1\n")
    with pytest.raises(ValueError, match="malformed line"):
        gobuild.load_versions(path, AV.PINS)


def test_the_two_components_keep_their_cache_layout(monkeypatch, tmp_path):
    from localargo import build as abuild
    from localkube import build as kbuild
    monkeypatch.setenv("KEIKO_CACHE_DIR", str(tmp_path))
    assert kbuild.cache_root() == tmp_path / "localkube"
    assert abuild.cache_root() == tmp_path / "localargo"
    assert kbuild.bin_dir() == tmp_path / "localkube" / KV.version_key() / "bin"
    assert abuild.bin_dir() == tmp_path / "localargo" / AV.version_key() / "bin"
    assert kbuild.go_env()["GOTOOLCHAIN"] == "local"
    assert abuild.go_env()["GOTOOLCHAIN"] == AV.GO_TOOLCHAIN
    assert abuild.go_env()["GOMODCACHE"] == str(tmp_path / "localargo" / "go" / "mod")
