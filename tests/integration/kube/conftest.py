"""Fixtures of the ovh_kube_* module scenarios (harness: tests/integration/ovh_scenario.py)."""

import pytest
from ovh_scenario import wait_status


@pytest.fixture
def cluster(emu):
    """A READY cluster created directly through the API (not through the module under test)."""
    client = emu.ovh_client()
    base = "/cloud/project/%s/kube" % emu.service_name
    created = client.post(base, region="GRA11", name="keiko-test", version="1.31")
    cluster = wait_status(client, "%s/%s" % (base, created["id"]))
    cluster["path"] = "%s/%s" % (base, created["id"])
    return cluster
