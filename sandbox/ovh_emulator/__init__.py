"""OVH API emulator for the keikolatam.gitops sandbox and tests.

Run with ``ovh-emulator serve --state-dir DIR``; see
docs/ovh-emulator.md. The server uses the standard library only.
"""

__version__ = "0.1.0"
