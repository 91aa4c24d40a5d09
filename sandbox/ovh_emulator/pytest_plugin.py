"""pytest fixtures for the OVH API emulator.

Enable with ``pytest_plugins = ["ovh_emulator.pytest_plugin"]`` in the root conftest (with
the sandbox package installed), or import the fixtures into a conftest.

- ``ovh_emulator``: a fresh emulator per test (temp state dir, transition 0.2 s unless the test is
  marked ``@pytest.mark.ovh_emulator(transition_seconds=..., fault_429_rate=..., ...)``); at teardown
  it asserts that the emulator recorded no response-schema violation.
- ``ovh_emulator_factory``: ``start(**kwargs)`` for tests that need several emulators or custom flags
  (same teardown check).
"""

from __future__ import annotations

import pytest

from .testing import EmulatorProcess

DEFAULT_TRANSITION = 0.2


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "ovh_emulator(**settings): settings for the ovh_emulator fixture (transition_seconds, faults...)")


@pytest.fixture
def ovh_emulator_factory(tmp_path):
    started: list[EmulatorProcess] = []

    def start(**kwargs) -> EmulatorProcess:
        kwargs.setdefault("state_dir", tmp_path / f"ovh-emulator-{len(started)}")
        kwargs.setdefault("transition_seconds", DEFAULT_TRANSITION)
        emu = EmulatorProcess(**kwargs)
        started.append(emu)
        return emu.start()

    yield start
    errors = []
    for emu in started:
        try:
            if emu.proc is not None and emu.check_violations:
                emu.assert_no_violations()
        except AssertionError as exc:
            errors.append(str(exc))
        finally:
            emu.stop()
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


@pytest.fixture
def ovh_emulator(request, ovh_emulator_factory):
    marker = request.node.get_closest_marker("ovh_emulator")
    kwargs = dict(marker.kwargs) if marker else {}
    return ovh_emulator_factory(**kwargs)
