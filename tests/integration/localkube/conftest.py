"""Make the ``localkube`` fixture available here even before the root conftest registers it."""

import sys
from pathlib import Path

SANDBOX = Path(__file__).resolve().parents[2] / "sandbox"
if str(SANDBOX) not in sys.path:
    sys.path.insert(0, str(SANDBOX))


def pytest_configure(config):
    if not config.pluginmanager.has_plugin("localkube.pytest_plugin"):
        config.pluginmanager.import_plugin("localkube.pytest_plugin")
