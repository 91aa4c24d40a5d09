"""Fixtures of the database, registry, storage and network module tests (harness: ovh_playbook.py)."""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
SANDBOX = os.path.join(os.path.dirname(os.path.dirname(HERE)), "sandbox")
if SANDBOX not in sys.path:
    sys.path.insert(0, SANDBOX)

from ovh_emulator.testing import EmulatorProcess  # noqa: E402

import ovh_playbook  # noqa: E402


@pytest.fixture
def emu(tmp_path):
    """A fresh emulator with short transitions; fails the test on a response-schema violation."""
    with EmulatorProcess(state_dir=tmp_path / "emulator", transition_seconds=ovh_playbook.TRANSITION) as emulator:
        yield emulator


@pytest.fixture
def play(emu, tmp_path):
    def run(steps, **kw):
        return ovh_playbook.run_steps(emu, tmp_path, steps, **kw)
    return run


@pytest.fixture
def pg(emu):
    """A READY PostgreSQL service created through the API (not through the module under test)."""
    client = emu.ovh_client()
    base = "/cloud/project/%s/database/postgresql" % emu.service_name
    svc = client.post(base, description="keiko-pg", plan="business", version="16",
                      nodesPattern={"flavor": "db1-7", "number": 2, "region": "GRA"})
    svc = ovh_playbook.wait_status(client, "%s/%s" % (base, svc["id"]))
    svc["path"] = "%s/%s" % (base, svc["id"])
    return svc
