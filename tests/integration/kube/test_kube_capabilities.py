"""ovh_kube_capabilities_info reads the installable versions from the API's own schema (the rest is in the
integration targets)."""

from ovh_scenario import TRANSITION, Step, run_steps

from ovh_emulator.testing import EmulatorProcess


def test_versions_come_from_the_schema_the_endpoint_serves(tmp_path):
    # The emulator serves GET /1.0/cloud.json as the API does, with the versions it accepts.
    with EmulatorProcess(state_dir=tmp_path / "emulator", transition_seconds=TRANSITION,
                         check_requests=True) as emu:
        run = run_steps(emu, tmp_path, [Step("caps", "ovh_kube_capabilities_info", {"region": "GRA11"})])
    assert run["caps"]["versions"] == ["1.30", "1.31", "1.32", "1.33"]
    assert not [w for w in run["caps"].get("warnings", []) if "cloud.json" in w]
