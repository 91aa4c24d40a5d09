"""The request contract check that module tests rely on: it must catch a request the schema rejects."""

import pytest

from ovh_emulator.testing import EmulatorProcess


def test_conforming_requests_pass_and_nonconforming_ones_are_reported(tmp_path):
    with EmulatorProcess(state_dir=tmp_path / "emu", transition_seconds=0.1) as emu:
        client = emu.ovh_client()
        base = "/cloud/project/%s" % emu.service_name
        client.get(base + "/kube")
        emu.assert_requests_conform()
        with pytest.raises(Exception):
            client.post(base + "/kube", region="GRA11", name="x", notAField=True)
        with pytest.raises(Exception):
            client.get(base + "/no/such/route")
        bad = emu.nonconforming_requests()
        assert [(b["method"], b["status"]) for b in bad] == [("POST", 400), ("GET", 404)]
        with pytest.raises(AssertionError):
            emu.assert_requests_conform()


def test_the_api_serves_its_schema_with_the_emulated_kubernetes_versions(tmp_path):
    with EmulatorProcess(state_dir=tmp_path / "emu", transition_seconds=0.1) as emu:
        schema = emu.ovh_client().get("/cloud.json", _need_auth=False)
        assert "/cloud/project/{serviceName}/kube" in [a["path"] for a in schema["apis"]]
        assert schema["models"]["cloud.kube.VersionEnum"]["enum"] == ["1.30", "1.31", "1.32", "1.33"]
