"""module_utils/_git.py without a remote: trailers, the input checks, scrubbing, author parsing."""

import os
import stat
import subprocess

import pytest

from ansible_collections.keikolatam.gitops.plugins.module_utils import _git


def test_build_message_appends_trailers_in_order_and_leaves_out_null_values():
    trailers = {"Keiko-Action": "deploy", "Keiko-Source-Revision": None, "Keiko-Actor": "ci <ci@x.io>"}
    msg = _git.build_message("deploy dev: identity 0.1.0 -> 0.2.0\n\n", trailers)
    assert msg == "deploy dev: identity 0.1.0 -> 0.2.0\n\nKeiko-Action: deploy\nKeiko-Actor: ci <ci@x.io>\n"
    assert _git.build_message("subject only", {}) == "subject only\n"


def test_parse_trailers_reads_the_last_paragraph_only_when_it_is_all_trailers():
    msg = "promote staging: identity 0.1.0 -> 0.2.0\n\nA body line: not a trailer? it is a paragraph\nmore\n\n" \
          "Keiko-Action: promote\nKeiko-Source-Environment: dev\nKeiko-Actor: Ana <ana@x.io>\n"
    assert _git.parse_trailers(msg) == {"Keiko-Action": "promote", "Keiko-Source-Environment": "dev",
                                        "Keiko-Actor": "Ana <ana@x.io>"}
    assert _git.parse_trailers("Keiko-Action: deploy\n") == {}  # a subject is never a trailer
    assert _git.parse_trailers("subject\n\nsome text\nKeiko-Action: deploy\n") == {}
    assert _git.parse_trailers("s\n\nKeiko-Reverts: abc\n  def\n") == {"Keiko-Reverts": "abc def"}
    assert _git.parse_trailers("s\n\nA: 1\nA: 2\n") == {"A": "2"}
    round_trip = _git.build_message("s", {"Keiko-Action": "rollback", "Keiko-Reverts": "0" * 40})
    assert _git.parse_trailers(round_trip) == {"Keiko-Action": "rollback", "Keiko-Reverts": "0" * 40}


@pytest.mark.parametrize("trailers,words", [
    ({"Bad Key": "x"}, "trailer key"),
    ({"Key:": "x"}, "trailer key"),
    ({"Key": "two\nlines"}, "several lines"),
])
def test_check_trailers_refuses_what_git_would_not_keep(trailers, words):
    assert words in _git.check_trailers(trailers)
    assert _git.check_trailers({"Keiko-Action": "deploy", "Empty": None}) is None


@pytest.mark.parametrize("url,words", [
    ("", "empty"),
    ("git.example.com/x.git", "not a URL"),
    ("ssh://git.example.com/x.git", "scheme"),
    ("ftp://git.example.com/x.git", "scheme"),
    ("https://user:pw@git.example.com/x.git", "carries credentials"),
    ("https://token@git.example.com/x.git", "carries credentials"),
    ("https:///x.git", "no host"),
    ("https://git.example.com/a b.git", "white space"),
])
def test_check_repo_url_refuses_bad_urls_without_showing_credentials(url, words):
    err = _git.check_repo_url(url)
    assert err and words in err
    assert "pw@" not in err and "token@" not in err


def test_check_repo_url_accepts_http_https_and_file():
    for url in ("https://git.example.com/keiko/gitops.git", "http://127.0.0.1:8080/gitops.git", "file:///srv/g.git"):
        assert _git.check_repo_url(url) is None


@pytest.mark.parametrize("branch", ["", "-x", "a..b", "a b", "a:b", "a~1", "a^", "a/", "/a", "a//b", "a.lock",
                                    "a/.b", "a@{1}", "@", "a*", "a?", "a[b", "a\\b", "end."])
def test_check_branch_refuses_what_git_refuses(branch):
    assert _git.check_branch(branch)


def test_check_branch_accepts_usual_names():
    for name in ("main", "envs/production", "release-1.2", "feature_x"):
        assert _git.check_branch(name) is None


@pytest.mark.parametrize("path,words", [
    ("/etc/passwd", "absolute"),
    ("../x", "'..'"),
    ("a/../../x", "'..'"),
    ("a//b", "empty"),
    ("./a", "'.'"),
    (".git/config", ".git"),
    ("a/.GIT/hooks/x", ".git"),
    ("", "empty"),
    ("a\\b", "backslash"),
])
def test_check_path_refuses_paths_outside_the_working_copy(path, words):
    err = _git.check_path(path)
    assert err and words in err


def test_scrub_removes_userinfo_and_the_password():
    text = "fatal: unable to access 'https://keiko:s3cr3t@git.example.com/x.git/': s3cr3t refused"
    out = _git.scrub(text, ("s3cr3t",))
    assert "s3cr3t" not in out and "keiko" not in out
    assert "https://git.example.com/x.git/" in out


def test_parse_author():
    assert _git.parse_author("Keiko CI <ci@keikolatam.example>") == ("Keiko CI", "ci@keikolatam.example")
    for bad in ("Keiko CI", "<ci@x.io>", "Keiko <not-an-email>", "A <a@b> extra", None):
        with pytest.raises(ValueError):
            _git.parse_author(bad)


def test_working_copy_keeps_credentials_in_0600_files_and_removes_them(monkeypatch):
    monkeypatch.setenv("GIT_ASKPASS", "/somewhere/else")
    wc = _git.WorkingCopy("https://git.example.com/x.git", "main", "keiko", "s3cr3t", 5, "A <a@b.io>")
    with wc:
        tmp = wc.tmp
        assert stat.S_IMODE(os.stat(tmp).st_mode) == 0o700
        for name in ("username", "password"):
            assert stat.S_IMODE(os.stat(os.path.join(tmp, name)).st_mode) == 0o600
        with open(os.path.join(tmp, "password")) as handle:
            assert handle.read() == "s3cr3t"
        assert wc.env["GIT_ASKPASS"] == os.path.join(tmp, "askpass.sh")
        assert all("s3cr3t" not in value for value in wc.env.values())
        assert wc.env["GIT_TERMINAL_PROMPT"] == "0"
    assert not os.path.exists(tmp)


def test_a_git_failure_is_scrubbed_and_a_timeout_is_reported(tmp_path):
    url = "file://%s/missing.git" % tmp_path
    with _git.WorkingCopy(url, "main", "keiko", "s3cr3t", 5) as wc:
        with pytest.raises(_git.GitError) as err:
            wc.checkout()
        assert "s3cr3t" not in err.value.msg
    bare = tmp_path / "empty.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    with _git.WorkingCopy("file://%s" % bare, "main", timeout=5) as wc:
        with pytest.raises(_git.GitError) as err:
            wc.checkout()
        assert "the branch main does not exist" in err.value.msg


def test_every_git_command_has_a_timeout(tmp_path, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "git").write_text("#!/bin/sh\nexec sleep 30\n")
    (fake / "git").chmod(0o755)
    monkeypatch.setenv("PATH", "%s%s%s" % (fake, os.pathsep, os.environ["PATH"]))
    with _git.WorkingCopy("https://keiko@git.example.com/x.git", "main", "keiko", "s3cr3t", 1) as wc:
        with pytest.raises(_git.GitError) as err:
            wc.checkout()
    assert "timed out after 1 seconds" in err.value.msg
    assert "keiko@" not in err.value.msg
