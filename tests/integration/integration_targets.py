"""The integration targets (tests/integration/targets/) under ``ansible-test integration``, on an OVH API emulator.

    python tests/integration/integration_targets.py [TARGET ...] [-- ANSIBLE_TEST_ARGS ...]
    make integration-targets [TARGETS="ovh_private_network ovh_s3_bucket"]

ansible-test runs targets from a copy of the collection (``ansible_collections/keikolatam/gitops``) with an
environment of its own: no ``OVH_*`` variable reaches the modules. What it passes on is
``tests/integration/integration_config.yml``, as play variables. So this script starts an emulator, copies the
tracked tree under a temporary ``ansible_collections/keikolatam/gitops``, writes the emulator's endpoint, credentials
and admin URL into that file of the copy (:func:`integration_config`: ``ovh_emulator_auth``, the
``group/keikolatam.gitops.ovh`` defaults of every target, and ``ovh_emulator_admin_url``, the request log that
``setup_emulator`` reads), runs ``ansible-test integration --local`` and stops the emulator. It fails when a request
the modules sent does not conform to the OVH API schema.

``test_targets.py`` runs each target with ansible-playbook on the same variables (one fresh emulator per target,
coverage of the modules); its ``test_ansible_test_runs_a_target`` runs this script's :func:`run_ansible_test`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ovh_emulator.testing import EmulatorProcess

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CONFIG = Path("tests", "integration", "integration_config.yml")


def integration_config(emu: EmulatorProcess) -> dict:
    """The variables of every target: the emulator's endpoint, signature credentials and admin URL."""
    info = emu.info
    return {
        "ovh_emulator_admin_url": emu.base_url,
        "ovh_emulator_auth": {
            "endpoint": emu.endpoint,
            "application_key": info["application_key"],
            "application_secret": info["application_secret"],
            "consumer_key": info["consumer_key"],
            "service_name": info["service_name"],
        },
    }


def write_config(emu: EmulatorProcess, path: str | Path) -> Path:
    """Write :func:`integration_config` (JSON, which is YAML) to ``path``, readable by its owner only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(integration_config(emu), fh, indent=1)
    return path


def copy_collection(root: str | Path) -> Path:
    """The tracked (and untracked, not ignored) files of the checkout under ``root/ansible_collections/keikolatam/gitops``."""
    dest = Path(root, "ansible_collections", "keikolatam", "gitops")
    dest.mkdir(parents=True, exist_ok=True)
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.split(b"\0")
    files = b"\0".join(f for f in listed if f and os.path.lexists(os.path.join(os.fsencode(REPO), f)))
    pack = subprocess.run(["tar", "--null", "-T", "-", "-cf", "-"], cwd=REPO, input=files, capture_output=True,
                          check=True).stdout
    subprocess.run(["tar", "-C", str(dest), "-xf", "-"], input=pack, check=True)
    return dest


def run_ansible_test(emu: EmulatorProcess, targets: list[str] | tuple[str, ...], workdir: str | Path,
                     args: list[str] | tuple[str, ...] = (), **kw) -> subprocess.CompletedProcess:
    """``ansible-test integration --local TARGET...`` in a copy of the collection under ``workdir``, on ``emu``.

    ``kw`` goes to :func:`subprocess.run` (for example ``capture_output=True, text=True``)."""
    collection = copy_collection(workdir)
    write_config(emu, collection / CONFIG)
    # ansible-test builds the environment of the targets itself; PATH finds this venv's ansible-playbook.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OVH_", "ANSIBLE_"))}
    env["PATH"] = str(BIN) + os.pathsep + env.get("PATH", "")
    return subprocess.run([str(BIN / "ansible-test"), "integration", "--local", "--color", "no", *args, *targets],
                          cwd=collection, env=env, check=False, **kw)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="integration_targets.py", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("targets", nargs="*", help="targets (default: every one); after --, more ansible-test args")
    parser.add_argument("--transition-seconds", type=float, default=0.3,
                        help="time a resource spends in a transitional status (default 0.3)")
    opts = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="keiko-integration-") as tmp:
        with EmulatorProcess(state_dir=Path(tmp, "emulator"), transition_seconds=opts.transition_seconds,
                             check_requests=True) as emu:
            proc = run_ansible_test(emu, opts.targets, Path(tmp, "collection"), extra)
            if proc.returncode:
                return proc.returncode
    print("integration targets: every request conformed to the OVH API schema", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
