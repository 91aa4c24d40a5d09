"""The sandbox's own tests: the emulator, localkube, the Argo CD processes and the git server.

The sandbox package is installed into the venv (``make venv``: ``pip install -e sandbox``), so its
modules import without any path set-up.
"""

pytest_plugins = ["ovh_emulator.pytest_plugin", "localkube.pytest_plugin"]
