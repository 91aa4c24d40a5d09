"""ovh_kube_capabilities_info where the endpoint does not serve its schema (the rest is in the integration targets)."""

from conftest import TRANSITION, Step, run_steps

from ovh_emulator.testing import EmulatorProcess


def test_versions_without_a_served_schema_are_null_with_a_warning(tmp_path):
    # The emulator does not serve /1.0/cloud.json (the real API does): that GET is its only
    # request outside the schema, so this emulator does not check the requests' conformance.
    with EmulatorProcess(state_dir=tmp_path / "emulator", transition_seconds=TRANSITION) as emu:
        run = run_steps(emu, tmp_path, [Step("caps", "ovh_kube_capabilities_info", {})])
    assert run["caps"]["versions"] is None and any("cloud.json" in w for w in run["caps"]["warnings"])
    assert [e["path"] for e in run.requests["caps"]][-1] == "/1.0/cloud.json"
