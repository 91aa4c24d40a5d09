"""localargo's pieces that need no cluster: the environment read from the install manifest, the
process matching of `down`, bad input refused before anything starts."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from localargo import build, run


class FakeConfigMaps:
    def __init__(self, data):
        self.data = data
        self.asked = []

    def get_or_none(self, path):
        self.asked.append(path)
        name = path.rsplit("/", 1)[1]
        return {"data": self.data[name]} if name in self.data else None


def test_environment_of_each_component_comes_from_its_workload(tmp_path):
    spec = run._workload_env(build.install_manifest())
    assert set(spec) == set(run.COMPONENTS)
    client = FakeConfigMaps({"argocd-cmd-params-cm": {"controller.log.level": "debug", "reposerver.log.level": "warn"},
                             "argocd-cm": {"timeout.reconciliation": "60s"}})
    env = run._resolve_env(spec[run.CONTROLLER], client, "argocd", tmp_path)
    assert env["ARGOCD_APPLICATION_CONTROLLER_LOGLEVEL"] == "debug"
    assert env["ARGOCD_RECONCILIATION_TIMEOUT"] == "60s"
    assert env["ARGOCD_CONTROLLER_REPLICAS"] == "1"
    # pod paths are mapped into the data dir; secret references are not read
    assert env["KUBECACHEDIR"] == str(tmp_path / "tmp" / "kubecache")
    assert "REDIS_PASSWORD" not in env
    assert "ARGOCD_REPO_SERVER_LOGLEVEL" not in env  # a key of another component
    # each ConfigMap is read once per start
    assert sorted(client.asked) == ["/api/v1/namespaces/argocd/configmaps/argocd-cm",
                                    "/api/v1/namespaces/argocd/configmaps/argocd-cmd-params-cm"]
    repo = run._resolve_env(spec[run.REPO_SERVER], FakeConfigMaps({}), "argocd", tmp_path)
    assert repo["HELM_CACHE_HOME"] == str(tmp_path / "helm")
    assert not any(v.startswith("/app/") for v in repo.values())


def test_down_matches_processes_by_path_component(tmp_path):
    d = tmp_path / "argo"
    d.mkdir()
    procs = [subprocess.Popen(["sh", "-c", "sleep 30", arg]) for arg in
             (str(d / "x"), f"--dir={d}", f"--dir={d}2/x", str(d) + "-other")]
    try:
        time.sleep(0.2)
        found = {e["pid"] for e in run._strays(d)}
        assert [p.pid in found for p in procs] == [True, True, False, False]
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_bad_input_is_refused_before_anything_starts(tmp_path):
    kc = tmp_path / "kubeconfig"
    with pytest.raises(run.LocalargoError, match="not found"):
        run.up(tmp_path / "a", kc)
    kc.write_text("{}")
    with pytest.raises(run.LocalargoError, match="unknown components"):
        run.up(tmp_path / "a", kc, components=("argocd-dex",))
    other = tmp_path / "not-ours"
    other.mkdir()
    (other / "precious").write_text("x")
    with pytest.raises(run.LocalargoError, match="not a localargo data dir"):
        run.down(other)
    assert (other / "precious").exists()
    assert not (tmp_path / "a").exists()
    assert run.status(tmp_path / "a") == {"data_dir": str(tmp_path / "a"), "up": False}


def test_env_vars_hold_no_secret_and_need_a_running_instance(tmp_path):
    with pytest.raises(run.LocalargoError, match="no localargo"):
        run.env_vars(tmp_path)
    d = tmp_path / "argo"
    d.mkdir()
    (d / run.CONFIG).write_text('{"api_url": "http://127.0.0.1:1234", "namespace": "argocd"}')
    assert run.env_vars(d) == {"ARGOCD_SERVER": "127.0.0.1:1234", "ARGOCD_OPTS": "--plaintext",
                               "KEIKO_ARGOCD_API_URL": "http://127.0.0.1:1234", "KEIKO_ARGOCD_NAMESPACE": "argocd",
                               "KEIKO_ARGOCD_ADMIN_SECRET": "argocd-initial-admin-secret"}


def test_sockets_move_to_a_short_directory_when_the_data_dir_is_too_deep(tmp_path):
    """gpg-agent's sockets live in the GnuPG home: a Unix socket path has at most 107 bytes."""
    # a short data dir keeps its sockets (pytest's tmp_path under xdist is already near the limit: not that one)
    with tempfile.TemporaryDirectory(prefix="la", dir="/tmp") as base:
        short = Path(base) / "a"
        assert run.socket_dir(short) == short
    deep = tmp_path / ("d" * 60) / "clusters" / "keikolatam-staging" / "localargo"
    moved = run.socket_dir(deep)
    assert moved != deep and moved == run.socket_dir(deep) and str(moved).startswith("/tmp/localargo-")
    assert len(str(moved / "gnupg" / "S.gpg-agent.browser")) < run.SOCKET_PATH_MAX
    env = run._base_env({"data_dir": str(deep)}, tmp_path)
    assert env["ARGOCD_GNUPGHOME"] == str(moved / "gnupg")
    assert env["ARGOCD_ASK_PASS_SOCK"] == str(moved / "run" / "askpass.sock")
