"""gitops_lock against a real API server (the session's localkube control plane): the Lease is the lock.

What a user relies on: of two runs that take the lock at once exactly one gets it and the other is refused with a
message naming the holder; a lock left by a killed run is taken over once it expired; only its holder releases
it; check mode writes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
NAMESPACE = "default"


def run_module(kubeconfig, check=False, **args) -> subprocess.Popen:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1", NO_COLOR="1")
    params = dict({"kubeconfig": kubeconfig, "namespace": NAMESPACE}, **args)
    cmd = [str(BIN / "ansible"), "localhost", "-c", "local", "-i", "localhost,", "-e",
           f"ansible_python_interpreter={sys.executable}", "-m", "keikolatam.gitops.gitops_lock",
           "-a", json.dumps(params)] + (["--check"] if check else [])
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result_of(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=120)
    try:
        doc = json.loads(out)
    except ValueError as exc:
        raise AssertionError(out + err) from exc
    return doc["plays"][0]["tasks"][0]["hosts"]["localhost"]


def lock(kubeconfig, check=False, **args) -> dict:
    return result_of(run_module(kubeconfig, check=check, **args))


def lease(kubeconfig, name) -> dict | None:
    proc = subprocess.run([KUBECTL, f"--kubeconfig={kubeconfig}", "-n", NAMESPACE, "get", "lease", name, "-o",
                           "json"], capture_output=True, text=True, timeout=60, check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


@pytest.fixture(scope="module")
def kubeconfig(localkube):
    return str(localkube.kubeconfig)


def test_of_two_runs_at_once_one_takes_the_lock_and_the_other_is_told_who_holds_it(kubeconfig):
    procs = {holder: run_module(kubeconfig, name="promote-at-once", holder=holder, duration=300)
             for holder in ("run-a", "run-b")}
    results = {holder: result_of(proc) for holder, proc in procs.items()}
    winners = [h for h, r in results.items() if not r.get("failed")]
    assert len(winners) == 1, results
    loser = "run-b" if winners == ["run-a"] else "run-a"
    assert results[winners[0]]["outcome"] == "acquired"
    assert f"Lock default/promote-at-once is held by {winners[0]}" in results[loser]["msg"]
    assert "expires at" in results[loser]["msg"]
    live = lease(kubeconfig, "promote-at-once")
    assert live["spec"]["holderIdentity"] == winners[0] and live["spec"]["leaseDurationSeconds"] == 300

    # Only the holder releases it.
    refused = lock(kubeconfig, name="promote-at-once", holder=loser, state="absent")
    assert refused.get("failed") and "only its holder releases it" in refused["msg"]
    assert lease(kubeconfig, "promote-at-once")["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]

    # Check mode predicts the release and writes nothing; then the holder releases, and again changes nothing.
    predicted = lock(kubeconfig, check=True, name="promote-at-once", holder=winners[0], state="absent")
    assert predicted["changed"] and predicted["outcome"] == "released"
    assert lease(kubeconfig, "promote-at-once") is not None
    released = lock(kubeconfig, name="promote-at-once", holder=winners[0], state="absent")
    assert released["changed"] and released["outcome"] == "released"
    assert lease(kubeconfig, "promote-at-once") is None
    again = lock(kubeconfig, name="promote-at-once", holder=winners[0], state="absent")
    assert not again["changed"] and again["outcome"] == "none"

    # Free again: the other run takes it now.
    assert lock(kubeconfig, name="promote-at-once", holder=loser)["outcome"] == "acquired"
    lock(kubeconfig, name="promote-at-once", holder=loser, state="absent")


def test_a_lock_left_by_a_killed_run_is_taken_over_once_it_expired(kubeconfig):
    left = lock(kubeconfig, name="promote-killed", holder="killed-run", duration=2)
    assert left["outcome"] == "acquired"
    # A run that waits (no sleep here: the module waits for the expiry with its waiter).
    taken = lock(kubeconfig, name="promote-killed", holder="next-run", duration=300, wait_timeout=60, wait_sleep=0.5)
    assert not taken.get("failed"), taken
    assert taken["outcome"] == "taken_over" and taken["previous_holder"] == "killed-run"
    assert taken["waited"] > 0
    live = lease(kubeconfig, "promote-killed")
    assert live["spec"]["holderIdentity"] == "next-run" and live["spec"]["leaseTransitions"] == 1
    # The new holder renews it: same acquireTime, later renewTime.
    renewed = lock(kubeconfig, name="promote-killed", holder="next-run", duration=300)
    assert renewed["outcome"] == "renewed" and renewed["lease"]["acquired_at"] == taken["lease"]["acquired_at"]
    lock(kubeconfig, name="promote-killed", holder="next-run", state="absent")


def test_check_mode_writes_nothing_and_bad_input_is_refused(kubeconfig):
    predicted = lock(kubeconfig, check=True, name="promote-check", holder="run-a")
    assert predicted["changed"] and predicted["outcome"] == "acquired"
    assert lease(kubeconfig, "promote-check") is None
    missing_ns = lock(kubeconfig, name="promote-check", holder="run-a", namespace="no-such-namespace")
    assert missing_ns.get("failed") and "namespace no-such-namespace does not exist" in missing_ns["msg"]
    empty = lock(kubeconfig, name="promote-check", holder=" ")
    assert empty.get("failed") and "holder must not be empty" in empty["msg"]
