"""The fakes of the module tests (tests/unit/plugins/modules/module_fakes.py) for the module_utils tests."""

import os
import sys

import pytest

MODULES_TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modules")
if MODULES_TESTS not in sys.path:
    sys.path.insert(0, MODULES_TESTS)

from module_fakes import FakeClock  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture
def clock():
    """A :class:`module_fakes.FakeClock`: waits and the rate limit run without sleeping."""
    return FakeClock()
