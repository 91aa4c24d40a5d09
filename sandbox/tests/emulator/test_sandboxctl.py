"""keiko-sandbox (sandboxctl) up/status/env/down (emulator only: --no-kube)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandboxctl import read_env


def ctl(*args, check=True):
    r = subprocess.run([sys.executable, "-m", "sandboxctl", *args], capture_output=True, text=True, timeout=120,
                       check=False)
    if check and r.returncode != 0:
        raise AssertionError(f"sandboxctl {args} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


@pytest.fixture
def run_dir(tmp_path):
    d = tmp_path / "sandbox"
    yield d
    ctl("down", "--dir", str(d), check=False)


def test_up_is_idempotent_and_down_cleans_up(run_dir):
    ctl("up", "--dir", str(run_dir), "--no-kube", "--transition-seconds", "0.2")
    env = read_env(run_dir / "env")
    assert set(env) >= {"OVH_ENDPOINT", "OVH_APPLICATION_KEY", "OVH_APPLICATION_SECRET", "OVH_CONSUMER_KEY",
                        "OVH_CLOUD_PROJECT_SERVICE", "OVH_OAUTH2_TOKEN_URL"}
    assert "KUBECONFIG" not in env and "OVH_CLIENT_ID" not in env  # one credential set only
    assert (run_dir / "env").stat().st_mode & 0o077 == 0
    status = json.loads(ctl("status", "--dir", str(run_dir)).stdout)
    pid = status["emulator"]["pid"]
    assert status["emulator"]["running"] and status["emulator"]["endpoint"] == env["OVH_ENDPOINT"]

    import ovh

    client = ovh.Client(endpoint="ovh-eu", application_key=env["OVH_APPLICATION_KEY"],
                        application_secret=env["OVH_APPLICATION_SECRET"], consumer_key=env["OVH_CONSUMER_KEY"])
    client._endpoint = env["OVH_ENDPOINT"]
    kube = client.post(f"/cloud/project/{env['OVH_CLOUD_PROJECT_SERVICE']}/kube", region="GRA7")

    ctl("up", "--dir", str(run_dir), "--no-kube")  # again: same process, same state
    assert json.loads(ctl("status", "--dir", str(run_dir)).stdout)["emulator"]["pid"] == pid
    assert read_env(run_dir / "env") == env
    assert client.get(f"/cloud/project/{env['OVH_CLOUD_PROJECT_SERVICE']}/kube") == [kube["id"]]
    assert ctl("env", "--dir", str(run_dir)).stdout == (run_dir / "env").read_text()

    ctl("down", "--dir", str(run_dir))
    assert not run_dir.exists()
    assert not Path(f"/proc/{pid}").exists() or b"ovh_emulator" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert ctl("status", "--dir", str(run_dir), check=False).returncode == 1


def test_up_serves_the_gitops_remote_with_its_credentials(run_dir, tmp_path):
    ctl("up", "--dir", str(run_dir), "--no-kube", "--transition-seconds", "0.2")
    env = read_env(run_dir / "env")
    url, user, password = env["KEIKO_GITOPS_URL"], env["KEIKO_GITOPS_USERNAME"], env["KEIKO_GITOPS_PASSWORD"]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/keiko-gitops.git")
    assert "KEIKO_ARGOCD_URL" not in env  # no local cluster, no Argo CD processes
    record = (run_dir / "sandbox.json").read_text()
    assert password not in record and password not in (run_dir / "git" / "server" / "gitserver.log").read_text()

    def ls_remote(secret):
        askpass = tmp_path / "askpass"
        askpass.write_text(f'#!/bin/sh\ncase "$1" in Username*) echo {user};; *) echo {secret};; esac\n')
        askpass.chmod(0o700)
        return subprocess.run(["git", "ls-remote", url], capture_output=True, text=True, timeout=60, check=False,
                              env=dict(os.environ, GIT_ASKPASS=str(askpass), GIT_TERMINAL_PROMPT="0"))

    assert ls_remote(password).returncode == 0  # the empty repository that bootstrap seeds
    assert ls_remote("wrong-password").returncode != 0
    pid = json.loads(ctl("status", "--dir", str(run_dir)).stdout)["git"]["pid"]
    ctl("up", "--dir", str(run_dir), "--no-kube")  # again: the same server and password
    assert read_env(run_dir / "env")["KEIKO_GITOPS_PASSWORD"] == password
    assert json.loads(ctl("status", "--dir", str(run_dir)).stdout)["git"]["pid"] == pid
    ctl("down", "--dir", str(run_dir))
    assert not Path(f"/proc/{pid}").exists() or b"gitserver" not in Path(f"/proc/{pid}/cmdline").read_bytes()


def test_down_only_stops_its_own_process(run_dir):
    (run_dir / "ovh").mkdir(parents=True)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run_dir / "ovh" / "emulator.pid").write_text(f"{bystander.pid}\n")
        assert ctl("status", "--dir", str(run_dir), check=False).returncode == 1
        ctl("down", "--dir", str(run_dir))
        assert bystander.poll() is None  # not ours: left alone
    finally:
        bystander.kill()
        bystander.wait()


def test_with_kube_fails_clearly_when_localkube_is_unavailable(run_dir, monkeypatch, tmp_path):
    # An empty cache: no localkube binaries, whatever this machine has built.
    monkeypatch.setenv("KEIKO_CACHE_DIR", str(tmp_path / "empty-cache"))
    import sandboxctl

    ok, dummy = sandboxctl.localkube_available()
    assert not ok
    r = ctl("up", "--dir", str(run_dir), "--with-kube", check=False)
    assert r.returncode == 1 and "--with-kube" in r.stderr
    assert os.listdir(run_dir) in ([], ["sandbox.json"]) or not (run_dir / "ovh" / "emulator.pid").exists()
