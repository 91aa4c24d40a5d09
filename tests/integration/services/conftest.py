"""Fixtures of the database, registry, storage and network module scenarios (harness:
tests/integration/ovh_scenario.py)."""

import pytest
from ovh_scenario import wait_status


@pytest.fixture
def pg(emu):
    """A READY PostgreSQL service created through the API (not through the module under test)."""
    client = emu.ovh_client()
    base = "/cloud/project/%s/database/postgresql" % emu.service_name
    svc = client.post(base, description="keiko-pg", plan="business", version="16",
                      nodesPattern={"flavor": "db1-7", "number": 2, "region": "GRA"})
    svc = wait_status(client, "%s/%s" % (base, svc["id"]))
    svc["path"] = "%s/%s" % (base, svc["id"])
    return svc
