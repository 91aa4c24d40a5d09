"""Fixtures for the emulator's own tests (tests/sandbox is on sys.path via tests/conftest.py)."""

import os
import sys

SANDBOX = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "sandbox"))
if SANDBOX not in sys.path:
    sys.path.insert(0, SANDBOX)

from ovh_emulator.pytest_plugin import ovh_emulator, ovh_emulator_factory, pytest_configure  # noqa: E402,F401

__all__ = ["ovh_emulator", "ovh_emulator_factory", "pytest_configure"]
