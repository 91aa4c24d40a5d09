"""The application result and the wait target of the Argo CD modules, on applications as the real Argo CD API
server v3.6.1 returned them (tests/unit/test_argocd_recorded.json)."""

from __future__ import annotations

import copy
import json
import os

import pytest

from ansible_collections.keikolatam.gitops.plugins.module_utils._argocd import (
    ApplicationTarget, NoOperation, describe, needs_sync, operation_key, summarize, unhealthy)
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import ERROR, PENDING, READY

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "test_argocd_recorded.json")) as _f:
    RECORDED = json.load(_f)


def body(name):
    return copy.deepcopy(RECORDED[name]["body"])


def items(name):
    return body(name)["items"]


def test_a_synced_healthy_application_with_its_live_deployment():
    app = summarize(body("synced"), items("synced_managed"))
    assert app["name"] == "auto" and app["project"] == "default" and app["target_revision"] == "main"
    assert app["auto_sync"] is True
    assert (app["sync_status"], app["health_status"]) == ("Synced", "Healthy")
    assert app["revision"] == app["operation_revision"] == "a718e168b2aba0763cfb9ce3a95eb4b767efa044"
    assert (app["operation_phase"], app["operation_running"]) == ("Succeeded", False)
    assert app["images"] == ["registry.invalid/web:1"]
    assert app["workloads"] == {"web": {"images": ["registry.invalid/web:1"], "health": "Healthy", "message": None,
                                        "live": True}}
    assert app["history"] == [{"id": 0, "revision": "a718e168b2aba0763cfb9ce3a95eb4b767efa044",
                               "deployed_at": "2026-12-01T22:59:11Z"}]
    assert unhealthy(app) == []


def test_the_images_are_the_live_ones_not_the_target_state():
    managed = items("synced_managed")
    live = json.loads(managed[0]["liveState"])
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.invalid/web:edited-by-hand"
    managed[0]["liveState"] = json.dumps(live)
    app = summarize(body("synced"), managed)
    assert app["workloads"]["web"]["images"] == ["registry.invalid/web:edited-by-hand"]
    assert json.loads(managed[0]["targetState"])["spec"]["template"]["spec"]["containers"][0]["image"] \
        == "registry.invalid/web:1"


def test_a_degraded_application_names_the_deployment_and_its_message():
    app = summarize(body("degraded"), items("degraded_managed"))
    assert app["health_status"] == "Degraded"
    assert app["workloads"]["web"]["health"] == "Degraded"
    assert unhealthy(app) == ['Deployment web: Degraded: Deployment "web" exceeded its progress deadline']


def test_a_never_synced_application():
    app = summarize(body("never_synced"), [])
    assert (app["sync_status"], app["health_status"]) == ("OutOfSync", "Missing")
    assert app["history"] == [] and app["operation_phase"] is None and app["images"] == []
    assert app["workloads"] == {"web": {"images": [], "health": "Missing", "message": None, "live": False}}
    assert unhealthy(app) == ["Deployment web: Missing"]


def test_an_operation_that_runs():
    app = summarize(body("running"))
    assert app["operation_running"] is True and app["operation_phase"] == "Running"
    assert "operation Running" in describe(body("running"))


def test_needs_sync():
    assert needs_sync(body("outofsync")) is True
    synced = body("after_sync")
    sha = synced["status"]["sync"]["revision"]
    assert needs_sync(synced) is False
    assert needs_sync(synced, wait_for_revision=sha[:7]) is False
    assert needs_sync(synced, revision=sha) is False
    assert needs_sync(synced, wait_for_revision="0123abc") is True
    assert needs_sync(synced, revision="main") is True  # a branch: always synced


@pytest.mark.parametrize("name, kwargs, phase", [
    ("after_sync", {}, READY),
    ("after_sync", {"own": True}, READY),
    ("synced", {"revision": "a718e16"}, READY),
    ("synced", {"revision": "6fead16"}, PENDING),          # not at that commit yet
    ("running", {}, PENDING),
    ("running", {"fail_on_degraded": True}, PENDING),
    ("outofsync", {}, PENDING),
    ("never_synced", {}, PENDING),
    ("degraded", {}, PENDING),                              # Argo CD may still heal it
    ("degraded", {"fail_on_degraded": True}, ERROR),
    ("degraded", {"fail_on_degraded": True, "revision": "0123abc"}, PENDING),  # Degraded at another commit
    ("operation_error", {"own": True}, ERROR),              # the sync we started failed
    ("operation_error", {}, READY),                         # an old failed operation: Synced and Healthy
])
def test_the_wait_target(name, kwargs, phase):
    assert ApplicationTarget(**kwargs).phase(body(name)) == phase


def test_a_failed_operation_fails_the_wait_only_when_it_is_new():
    app = body("operation_error")
    assert ApplicationTarget(fail_on_degraded=True, since=operation_key(app)).phase(app) == READY
    assert ApplicationTarget(fail_on_degraded=True, since=("earlier", None, "Succeeded")).phase(app) == ERROR
    target = ApplicationTarget(own=True)
    target.phase(app)
    assert target.reason.startswith("the sync operation ended Error: ComparisonError")


def test_a_state_compared_before_the_operation_ended_is_not_trusted():
    app = body("degraded")
    app["status"]["reconciledAt"] = "2026-12-01T23:04:31Z"  # before operationState.finishedAt
    assert ApplicationTarget(fail_on_degraded=True).phase(app) == PENDING
    synced = body("after_sync")
    synced["status"]["reconciledAt"] = "2026-12-01T23:04:54Z"
    assert ApplicationTarget().phase(synced) == PENDING


def test_no_operation():
    assert NoOperation().phase(body("running")) == PENDING
    assert NoOperation().phase(body("synced")) == READY


def test_a_sync_to_a_given_commit_is_done_when_its_operation_succeeded_there_and_healthy():
    app = body("after_sync")
    app["status"]["sync"]["status"] = "OutOfSync"  # Argo CD compares with targetRevision, not the synced commit
    sha = app["status"]["operationState"]["syncResult"]["revision"]
    assert ApplicationTarget(own=True, sync_revision=sha[:10]).phase(app) == READY
    assert ApplicationTarget(own=True, sync_revision="0123abcd").phase(app) == PENDING
    assert ApplicationTarget(own=True).phase(app) == PENDING  # without it, OutOfSync is not done
