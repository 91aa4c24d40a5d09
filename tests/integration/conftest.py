"""Fixtures of the module scenarios (tests/integration/kube, tests/integration/services; harness: ovh_scenario.py)."""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
# tests/e2e for awx_job (a job of roles/awx's templates run as AWX runs it), which some integration tests use too.
for path in (HERE, os.path.join(os.path.dirname(HERE), "e2e")):
    if path not in sys.path:
        sys.path.insert(0, path)

from ovh_emulator.testing import EmulatorProcess  # noqa: E402

import ovh_scenario  # noqa: E402


@pytest.fixture
def emu(tmp_path):
    """A fresh emulator with short transitions; fails the test on a response-schema violation or on a request
    the modules sent that the official schema does not allow."""
    with EmulatorProcess(state_dir=tmp_path / "emulator", transition_seconds=ovh_scenario.TRANSITION,
                         check_requests=True) as emulator:
        yield emulator


@pytest.fixture
def play(emu, tmp_path):
    """``play(steps, verbosity=0, defaults=None, name="scenario")``: :func:`ovh_scenario.run_steps` on ``emu``."""
    def run(steps, **kw):
        return ovh_scenario.run_steps(emu, tmp_path, steps, **kw)
    return run
