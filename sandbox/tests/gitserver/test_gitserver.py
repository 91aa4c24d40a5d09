"""The git server: clone, push, a second clone sees the commit; wrong or missing credentials are
refused; start/stop leave no process; the password never reaches the log or the state file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from gitserver import process
from gitserver.process import GitServer, GitServerError

GIT_ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": "",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def git(*args, cwd=None, check=True):
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=check)


def with_creds(url: str, user: str, password: str) -> str:
    return url.replace("http://", f"http://{user}:{password}@", 1)


@pytest.fixture
def server(tmp_path):
    gs = GitServer(root=tmp_path / "repos", username="keiko", password="correct-horse-1",
                   state_dir=tmp_path / "state")
    gs.init_bare("gitops")
    with gs:
        yield gs
    assert not process.status(gs.state_dir)["running"]


def test_clone_push_and_second_clone_sees_the_commit(server, tmp_path):
    url = with_creds(server.repo_url("gitops"), "keiko", server.password)
    git("clone", "-q", url, str(tmp_path / "one"))
    (tmp_path / "one" / "deploy.yaml").write_text("kind: Deployment\n")
    git("add", "deploy.yaml", cwd=tmp_path / "one")
    git("commit", "-qm", "add a deployment", cwd=tmp_path / "one")
    git("push", "-q", "origin", "HEAD:main", cwd=tmp_path / "one")
    pushed = git("rev-parse", "HEAD", cwd=tmp_path / "one").stdout.strip()

    git("clone", "-q", url, str(tmp_path / "two"))
    assert git("rev-parse", "HEAD", cwd=tmp_path / "two").stdout.strip() == pushed
    assert (tmp_path / "two" / "deploy.yaml").read_text() == "kind: Deployment\n"
    # the commit is in the bare repository on disk
    assert git("rev-parse", "refs/heads/main", cwd=server.root / "gitops.git").stdout.strip() == pushed


def test_a_push_larger_than_the_post_buffer(server, tmp_path):
    """git sends a pack over http.postBuffer (1 MiB) with chunked transfer encoding."""
    url = with_creds(server.repo_url("gitops"), "keiko", server.password)
    git("clone", "-q", url, str(tmp_path / "big"))
    blob = os.urandom(3 * 1024 * 1024)
    (tmp_path / "big" / "blob.bin").write_bytes(blob)
    git("add", "blob.bin", cwd=tmp_path / "big")
    git("commit", "-qm", "a large file", cwd=tmp_path / "big")
    git("push", "-q", "origin", "HEAD:main", cwd=tmp_path / "big")
    git("clone", "-q", url, str(tmp_path / "again"))
    assert (tmp_path / "again" / "blob.bin").read_bytes() == blob


def test_wrong_or_missing_credentials_are_refused(server, tmp_path):
    bad = git("clone", "-q", with_creds(server.repo_url("gitops"), "keiko", "wrong"), str(tmp_path / "x"), check=False)
    assert bad.returncode != 0 and "Authentication failed" in bad.stderr
    other_user = git("clone", "-q", with_creds(server.repo_url("gitops"), "mallory", server.password),
                     str(tmp_path / "y"), check=False)
    assert other_user.returncode != 0
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(server.repo_url("gitops") + "/info/refs?service=git-upload-pack", timeout=10)
    assert err.value.code == 401
    assert err.value.headers["WWW-Authenticate"].startswith("Basic ")
    # a push with a wrong password changes nothing
    assert git("for-each-ref", cwd=server.root / "gitops.git").stdout == ""


def test_password_not_in_log_state_or_command_line(server, tmp_path):
    git("clone", "-q", with_creds(server.repo_url("gitops"), "keiko", server.password), str(tmp_path / "c"))
    state_text = (server.state_dir / process.STATE).read_text()
    log_text = (server.state_dir / process.LOG).read_text()
    cmdline = open(f"/proc/{server.state['pid']}/cmdline", "rb").read().decode()
    environ = open(f"/proc/{server.state['pid']}/environ", "rb").read().decode(errors="replace")
    assert "info/refs" in log_text  # requests are logged ...
    for text in (state_text, log_text, cmdline, environ):  # ... the password nowhere
        assert server.password not in text


def test_start_is_idempotent_and_stop_leaves_no_process(tmp_path):
    gs = GitServer(root=tmp_path / "repos", username="keiko", password="pw-1", state_dir=tmp_path / "st")
    first = gs.start().state
    again = process.start(gs.state_dir, gs.root, "keiko", "pw-1")
    assert again["pid"] == first["pid"] and again["port"] == first["port"]
    # other credentials: the old server is replaced by one that knows them
    moved = process.start(gs.state_dir, gs.root, "keiko", "pw-2")
    assert moved["pid"] != first["pid"]
    assert not os.path.exists(f"/proc/{first['pid']}")
    assert process.stop(gs.state_dir) is True
    assert not os.path.exists(f"/proc/{moved['pid']}")
    assert process.stop(gs.state_dir) is False
    assert process.status(gs.state_dir) == {"running": False, "state_dir": str(gs.state_dir.resolve())}


def test_cli_start_status_stop(tmp_path):
    env = {**os.environ, "GITSERVER_PASSWORD": "pw-cli"}
    base = [sys.executable, "-m", "gitserver"]
    sd, root = str(tmp_path / "st"), str(tmp_path / "repos")
    assert subprocess.run([*base, "init", "--root", root, "demo"], check=True, capture_output=True,
                          text=True).stdout.strip() == str(tmp_path / "repos" / "demo.git")
    no_pw = subprocess.run([*base, "start", "--state-dir", sd, "--root", root, "--username", "u"],
                           env={k: v for k, v in env.items() if k != "GITSERVER_PASSWORD"}, capture_output=True, text=True,
                           check=False)
    assert no_pw.returncode == 2 and "GITSERVER_PASSWORD" in no_pw.stderr
    started = json.loads(subprocess.run([*base, "start", "--state-dir", sd, "--root", root, "--username", "u"],
                                        env=env, check=True, capture_output=True, text=True).stdout)
    try:
        st = subprocess.run([*base, "status", "--state-dir", sd], capture_output=True, text=True, check=False)
        assert st.returncode == 0 and json.loads(st.stdout)["url"] == started["url"]
        ls = git("ls-remote", with_creds(started["url"] + "/demo.git", "u", "pw-cli"))
        assert ls.returncode == 0
    finally:
        subprocess.run([*base, "stop", "--state-dir", sd], check=True, capture_output=True)
    assert subprocess.run([*base, "status", "--state-dir", sd], capture_output=True, check=False).returncode == 1
    assert not os.path.exists(f"/proc/{started['pid']}")


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(GitServerError, match="password"):
        process.start(tmp_path / "st", tmp_path / "r", "keiko", "")
    with pytest.raises(GitServerError, match="username"):
        process.start(tmp_path / "st", tmp_path / "r", "ke:iko", "pw")
    with pytest.raises(GitServerError, match="bad repository name"):
        process.init_bare(tmp_path / "r", "../escape")
    assert not (tmp_path / "st" / process.STATE).exists()
