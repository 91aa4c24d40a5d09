"""Test-wide setup: make the checkout importable as ansible_collections.keikolatam.gitops."""

import os
import sys
from pathlib import Path

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, ".collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "keikolatam", "gitops")


def _link_checkout():
    if not os.path.islink(LINK):
        os.makedirs(os.path.dirname(LINK), exist_ok=True)
        os.symlink(REPO, LINK)


_link_checkout()
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

pytest_plugins = ["ovh_emulator.pytest_plugin"]

# pytest -n N --dist loadgroup (the test command): tests are spread one by one, except these directories, each
# of which runs on one worker, in file order:
# - provision: ordered tests sharing a module-scoped emulator;
# - localkube: the session-scoped ``localkube`` fixture (a control plane per worker that uses it: started once
#   when its tests stay together) and the lifecycle tests that start their own control planes with time limits
#   (not two control planes at once).
# A directory, not an ``xdist_group`` mark: pytest-xdist 3.8 puts a mark's group into the node id, which pytest
# 9.2 ignores (pytest-dev/pytest-xdist#1386): the marks are silently not grouped.
# - the sandbox's control-plane tests (sandbox/tests/controlplane) and the real Argo CD processes'
#   (sandbox/tests/localargo) join the localkube group: one control plane per worker;
# - e2e: the user's stories, each module on a whole sandbox of its own (emulator, control planes, git server,
#   Argo CD), in order; one group per module, so the two sandboxes' stories run side by side on two workers;
# - backup: the session-scoped PostgreSQL and S3 servers of tests/integration/backup, started once.
SERIAL_DIRS = {"provision": [Path(REPO, "tests", "integration", "provision")],
               "backup": [Path(REPO, "tests", "integration", "backup")],
               "localkube": [Path(REPO, "tests", "integration", "localkube"),
                             Path(REPO, "sandbox", "tests", "controlplane"),
                             Path(REPO, "sandbox", "tests", "localargo")],
               # The add-ons' renderings on the local control plane: beside the localkube group (a control plane
               # of their own when they land on the other worker).
               "localkube-addons": [Path(REPO, "tests", "integration", "localkube", f"test_{name}.py")
                                    for name in ("network_policies_molecule", "observability_molecule",
                                                 "postgres_backup_molecule", "external_secrets_molecule")],
               "e2e-sandbox": [Path(REPO, "tests", "e2e", "test_gitops_sandbox.py")],
               "e2e-promotion": [Path(REPO, "tests", "e2e", "test_promotion.py")]}


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """--dist loadgroup, with SERIAL_DIRS as groups."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling  # pylint: disable=import-outside-toplevel

    # A directory's tests: "<dir>/..."; a module's: "<file>::...".
    serial = [(name, Path(os.path.relpath(path, config.rootpath)).as_posix() + ("::" if path.suffix == ".py" else "/"))
              for name, paths in SERIAL_DIRS.items() for path in paths]
    serial.sort(key=lambda item: not item[1].endswith("::"))  # a module's group before its directory's

    class SerialDirsScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid):
            for name, prefix in serial:
                if nodeid.startswith(prefix):
                    return name
            return super()._split_scope(nodeid)

    return SerialDirsScheduling(config, log)
