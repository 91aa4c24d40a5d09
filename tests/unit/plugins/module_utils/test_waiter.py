"""The waiter: every schema status is classified, pending means pending, errors fail fast."""

import json
import os

import pytest

from ansible_collections.keikolatam.gitops.plugins.module_utils import _waiter as w

MIRROR = os.environ.get("KEIKO_UPSTREAM_MIRROR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "..", "..", "shared", "upstream")


@pytest.fixture(scope="module")
def schema_models():
    with open(os.path.join(MIRROR, "ovh-api", "cloud.json")) as f:
        return json.load(f)["models"]


@pytest.mark.parametrize("model", w.ALL_MODELS, ids=lambda m: m.schema_enum)
def test_every_schema_status_is_classified_exactly_once(schema_models, model):
    values = set(schema_models[model.schema_enum]["enum"])
    groups = [model.ready, model.failed, model.gone, model.pending]
    listed = set().union(*groups)
    assert listed == values, "unlisted: %s, not in schema: %s" % (values - listed, listed - values)
    assert sum(len(g) for g in groups) == len(listed), "a status is in two groups"


class Clock:
    def __init__(self):
        self.now = 0.0

    def sleep(self, s):
        self.now += s

    def monotonic(self):
        return self.now


def fetcher(statuses):
    seq = list(statuses)

    def fetch():
        value = seq.pop(0) if len(seq) > 1 else seq[0]
        return None if value is None else {"status": value}
    return fetch


def waiter(timeout=100, interval=5):
    clock = Clock()
    return w.Waiter(timeout=timeout, interval=interval, sleep=clock.sleep, monotonic=clock.monotonic), clock


def test_unexpected_transitional_statuses_are_pending_until_ready():
    wt, clock = waiter()
    obj = wt.until_ready(fetcher(["INSTALLING", "UPDATING", "REDEPLOYING", "SOMETHING_NEW", "READY"]),
                         w.KUBE_CLUSTER, "c")
    assert obj == {"status": "READY"}
    assert wt.last == {"seconds": 20.0, "status": "READY", "polls": 5}
    assert clock.now == 20.0


def test_error_status_fails_fast():
    wt, clock = waiter()
    with pytest.raises(w.WaitError) as err:
        wt.until_ready(fetcher(["INSTALLING", "USER_QUOTA_ERROR", "READY"]), w.KUBE_NODEPOOL, "p")
    assert err.value.last_status == "USER_QUOTA_ERROR" and not err.value.timed_out
    assert clock.now == 5.0
    with pytest.raises(w.WaitError):
        wt.until_ready(fetcher(["ERROR_INCONSISTENT_SPEC"]), w.DATABASE, "db")


def test_timeout_reports_last_status_and_duration():
    wt, dummy = waiter(timeout=12, interval=5)
    with pytest.raises(w.WaitError) as err:
        wt.until_ready(fetcher(["UPSCALING"]), w.KUBE_NODEPOOL, "p")
    assert err.value.timed_out and err.value.last_status == "UPSCALING"
    assert err.value.duration == 12.0
    assert "Timed out after 12s" in err.value.message


def test_stable_accepts_error_and_ready_but_not_transitional():
    wt, clock = waiter()
    assert wt.until_stable(fetcher(["UPSCALING", "DOWNSCALING", "ERROR"]), w.KUBE_NODEPOOL, "p") == {"status": "ERROR"}
    assert clock.now == 10.0


def test_gone_waits_for_404_or_deleted():
    wt, dummy = waiter()
    assert wt.until_gone(fetcher(["DELETING", None]), w.KUBE_CLUSTER, "c") is None
    assert wt.until_gone(fetcher(["DELETING", "DELETED"]), w.KUBE_CLUSTER, "c") == {"status": "DELETED"}


def test_disappearing_while_waiting_for_ready_fails():
    wt, dummy = waiter()
    with pytest.raises(w.WaitError):
        wt.until_ready(fetcher(["INSTALLING", None]), w.REGISTRY, "r")
