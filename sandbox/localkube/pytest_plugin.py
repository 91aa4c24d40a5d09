"""pytest plugin: a session-scoped ``localkube`` fixture.

Register it with ``pytest_plugins = ["localkube.pytest_plugin"]`` in the root conftest (with
the sandbox package installed). The fixture starts a cluster in a temporary directory (building the
binaries first if the cache is cold, which takes long), yields a :class:`localkube.cluster.Cluster`
(``.kubeconfig``, ``.server``, ``.env``, ``.data_dir``) and stops it at the end of the session.

``KEIKO_LOCALKUBE_DEFAULT_NODES`` (default 2) sets the size of the default node pool.
"""

from __future__ import annotations

import os
import sys

import pytest


def _echo(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def localkube(tmp_path_factory):
    """A running localkube cluster for the whole session (``.kubeconfig``, ``.server``, ``.env``)."""
    from .cluster import down, up

    data_dir = tmp_path_factory.mktemp("localkube") / "cluster"
    # owner_pid: if this pytest process is killed before teardown, a watchdog stops the cluster.
    cluster = up(data_dir, default_nodes=int(os.environ.get("KEIKO_LOCALKUBE_DEFAULT_NODES", "2")), echo=_echo,
                 owner_pid=os.getpid())
    try:
        yield cluster
    finally:
        down(data_dir, echo=_echo)
