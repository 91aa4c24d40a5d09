"""Make the ``localkube`` fixture available here even before the root conftest registers it."""


def pytest_configure(config):
    if not config.pluginmanager.has_plugin("localkube.pytest_plugin"):
        config.pluginmanager.import_plugin("localkube.pytest_plugin")
