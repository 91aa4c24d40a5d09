"""The gitops_* modules through ansible-playbook against the sandbox's real git server (HTTP, basic auth).

``git_server``: one server per test module; ``remote``: a fresh bare repository on it per test, with helpers
that read it on disk (no credentials needed); ``play(steps, ...)``: the steps (``ovh_scenario.Step``) as ONE
playbook, each result registered and checked against its module's RETURN (``ovh_scenario.check_returns``).
No control plane and no OVH emulator: these tests run on any worker.
"""

import base64
import os

import pytest

from gitserver.process import GitServer

from gitops_play import Remote, run_play


@pytest.fixture(scope="module")
def git_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("gitserver")
    password = "pw-" + base64.urlsafe_b64encode(os.urandom(12)).decode()
    server = GitServer(root=base / "repos", username="keiko", password=password, state_dir=base / "state")
    with server:
        yield server


@pytest.fixture
def remote(git_server, tmp_path, request):
    name = "r-" + "".join(c if c.isalnum() else "-" for c in request.node.name)[:80].strip("-")
    return Remote(git_server, name, tmp_path)


@pytest.fixture
def play(tmp_path):
    """``play(steps, verbosity=0, env=None, name="gitops", defaults=None)``: :func:`gitops_play.run_play`."""
    def run(steps, **kw):
        return run_play(tmp_path, steps, **kw)
    return run
