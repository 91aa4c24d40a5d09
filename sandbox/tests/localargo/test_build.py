"""The build recipe of localargo, checked against the real module of the pinned release (in the
module cache after the build; downloaded from the proxy otherwise) and the cached binaries."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from localargo import build
from localargo import versions as V


@pytest.fixture(scope="module")
def bins():
    return build.ensure_binaries()


def test_versions_file_is_the_one_source():
    text = V.VERSIONS_FILE.read_text()
    for value in (V.ARGOCD_VERSION, V.KUSTOMIZE_VERSION, V.GO_TOOLCHAIN):
        assert f"={value}\n" in text
        assert value in V.version_key()


def test_gomod_without_the_nested_gitops_engine_replace():
    gomod = (build.module_dir() / "go.mod").read_text()
    assert "=> ./gitops-engine" in gomod
    fixed = build.drop_engine_replace(gomod)
    assert "=> ./gitops-engine" not in fixed
    assert fixed.count("\n") == gomod.count("\n") - 1
    # still required, at the release's own version (which the proxy serves)
    assert build.module_version(fixed, V.GITOPS_ENGINE_MODULE) == V.ARGOCD_VERSION
    # a replace target wins over the require line
    assert build.module_version(fixed, "k8s.io/client-go") == build.module_version(gomod, "k8s.io/client-go")
    assert build.module_version("require (\n\tfoo/bar v1.2.3\n)\n", "foo/bar") == "v1.2.3"


def test_patches_apply_exactly_once(tmp_path):
    src = build.module_dir()
    for rel, old, new in build.PATCHES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text((src / rel).read_text())
    build.apply_patches(tmp_path)
    for rel, old, new in build.PATCHES:
        text = (tmp_path / rel).read_text()
        assert old not in text and new in text
    with pytest.raises(build.BuildError, match="exactly once"):
        build.apply_patches(tmp_path)  # already applied: the text is gone


def test_binaries_are_cached_complete_and_report_their_versions(bins):
    assert set(bins) == set(build.FILES)
    for name in build.COMPONENT_LINKS:
        assert os.readlink(bins[name]) == "argocd"
    out = subprocess.run([str(bins["argocd"]), "version", "--client", "-o", "json"], capture_output=True,
                         text=True, check=True).stdout
    client = json.loads(out)["client"]
    assert client["Version"].startswith(V.ARGOCD_VERSION + "+")  # not v99.99.99
    assert client["GoVersion"] == V.GO_TOOLCHAIN
    assert client["KubectlVersion"] == build.module_version(
        build.drop_engine_replace((build.module_dir() / "go.mod").read_text()), "k8s.io/client-go")
    # the binary acts as the component it is named after
    help_text = subprocess.run([str(bins["argocd-repo-server"]), "--help"], capture_output=True, text=True,
                               check=False).stdout
    assert "argocd-repo-server" in help_text and "--disable-tls" in help_text
    kz = subprocess.run([str(bins["kustomize"]), "version"], capture_output=True, text=True, check=True).stdout
    assert kz.strip() == V.KUSTOMIZE_VERSION
    assert bins["git-verify-wrapper.sh"].read_text() == build.git_verify_wrapper_source().read_text()
    for name in build.WRAPPERS:
        assert bins[name].read_text() == (build.module_dir() / "hack" / name).read_text()
        assert os.access(bins[name], os.X_OK)


def test_buildinfo_records_versions_and_timings(bins):
    info = build.buildinfo()
    assert info["version_key"] == V.version_key()
    assert info["argocd"] == V.ARGOCD_VERSION and info["kustomize"] == V.KUSTOMIZE_VERSION
    assert set(info["seconds"]) == set(info["cpu_seconds"]) == {"toolchain", "argocd", "kustomize"}
    assert info["total_seconds"] > 0 and info["total_cpu_seconds"] > 0
    assert info["patches"] and info["gitops_engine"] == V.ARGOCD_VERSION
    # a second call builds nothing
    assert build.ensure_binaries() == bins


def test_install_manifest_is_the_release_one():
    manifest = build.install_manifest()
    text = manifest.read_text()
    assert f"quay.io/argoproj/argocd:{V.ARGOCD_VERSION}" in text
    assert "kind: CustomResourceDefinition" in text
