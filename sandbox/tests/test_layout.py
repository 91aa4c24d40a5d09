"""The sandbox package is installed into the venv (``make venv``) and imported from this checkout."""

import importlib
from pathlib import Path

import pytest

SANDBOX = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["ovh_emulator", "localkube", "localargo", "gitserver", "sandboxctl"])
def test_package_comes_from_the_sandbox_folder(name):
    # pytest puts test folders on sys.path; a test folder named like a package must not hide it (the
    # editable install is a path entry, so the real package wins over such a folder).
    mod = importlib.import_module(name)
    assert mod.__file__ is not None, f"{name} is a namespace package: the sandbox is not installed (make venv)"
    assert Path(mod.__file__).resolve().is_relative_to(SANDBOX)
