"""Test-wide setup: make the checkout importable as ansible_collections.keikolatam.gitops."""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, ".collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "keikolatam", "gitops")


def _link_checkout():
    if not os.path.islink(LINK):
        os.makedirs(os.path.dirname(LINK), exist_ok=True)
        os.symlink(REPO, LINK)


_link_checkout()
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
SANDBOX = os.path.join(REPO, "tests", "sandbox")
if SANDBOX not in sys.path:
    sys.path.insert(0, SANDBOX)

pytest_plugins = ["ovh_emulator.pytest_plugin"]
