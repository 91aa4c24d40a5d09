"""The one waiter, on a fake clock (nothing sleeps): every schema status is classified, unknown statuses are
pending, error statuses fail fast, a timeout fails with the partial result and the duration, a change waits
until the object is stable, gone means 404 or DELETED; and the other waits of the modules go through it."""

import json
import os

import pytest

from ansible_collections.keikolatam.gitops.plugins.module_utils import _waiter as w
from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhAmbiguousWrite, OvhApiError
from ansible_collections.keikolatam.gitops.plugins.module_utils._database import OvhDatabaseChildModule
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import OvhModule

from module_fakes import FakeAnsible, Failed, make_module

MIRROR = os.environ.get("KEIKO_UPSTREAM_MIRROR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "..", "..", "shared", "upstream")


@pytest.fixture(scope="module")
def schema_models():
    with open(os.path.join(MIRROR, "ovh-api", "cloud.json")) as f:
        return json.load(f)["models"]


@pytest.mark.parametrize("model", w.ALL_MODELS, ids=lambda m: m.schema_enum)
def test_every_schema_status_is_classified_exactly_once(schema_models, model):
    values = set(schema_models[model.schema_enum]["enum"])
    groups = [model.ready, model.error, model.gone, model.pending]
    listed = set().union(*groups)
    assert listed == values, "unlisted: %s, not in schema: %s" % (values - listed, listed - values)
    assert sum(len(g) for g in groups) == len(listed), "a status is in two groups"


def test_phase_of_an_object():
    assert [w.KUBE_CLUSTER.phase(o) for o in ({"status": "READY"}, {"status": "USER_QUOTA_ERROR"},
                                              {"status": "DELETED"}, {"status": "REOPENING"},
                                              {"status": "BRAND_NEW"}, {}, None)] == \
        ["ready", "error", "gone", "pending", "pending", "pending", "gone"]
    assert w.DATABASE.phase({"status": "LOCKED"}) == "error"
    assert set(w.PHASES) == {"ready", "pending", "error", "gone"}


def fetcher(statuses, log=None):
    """Returns the statuses one per call (the last one for ever); None is a 404."""
    seq = list(statuses)

    def fetch():
        value = seq.pop(0) if len(seq) > 1 else seq[0]
        if log is not None:
            log.append(("GET", value))
        return None if value is None else {"status": value, "name": "x"}
    return fetch


def waiter(clock, timeout=100, interval=5):
    return w.Waiter(timeout=timeout, interval=interval, clock=clock)


def test_unknown_and_transitional_statuses_are_pending_until_ready(clock):
    wt = waiter(clock)
    obj = wt.until_ready(fetcher(["INSTALLING", "UPDATING", "REDEPLOYING", "SOMETHING_NEW", "READY"]),
                         w.KUBE_CLUSTER, "c")
    assert obj["status"] == "READY"
    assert wt.last == {"seconds": 20.0, "status": "READY", "polls": 5}
    assert clock.sleeps == [5, 5, 5, 5]


def test_error_status_fails_fast_with_the_object(clock):
    wt = waiter(clock)
    with pytest.raises(w.WaitError) as err:
        wt.until_ready(fetcher(["INSTALLING", "USER_QUOTA_ERROR", "READY"]), w.KUBE_NODEPOOL, "'p'")
    assert err.value.last_status == "USER_QUOTA_ERROR" and not err.value.timed_out
    assert err.value.obj["status"] == "USER_QUOTA_ERROR" and err.value.duration == 5.0
    assert err.value.message == "Node pool 'p' is in error status USER_QUOTA_ERROR"
    with pytest.raises(w.WaitError):
        wt.until_ready(fetcher(["ERROR_INCONSISTENT_SPEC"]), w.DATABASE, "db")


def test_timeout_reports_last_status_duration_and_partial_object(clock):
    wt = waiter(clock, timeout=12, interval=5)
    with pytest.raises(w.WaitError) as err:
        wt.until_ready(fetcher(["UPSCALING"]), w.KUBE_NODEPOOL, "p")
    assert err.value.timed_out and err.value.last_status == "UPSCALING"
    assert err.value.duration == 12.0 and clock.sleeps == [5, 5, 2]  # the last pause ends at the timeout
    assert err.value.obj == {"status": "UPSCALING", "name": "x"}
    assert err.value.to_result() == {"seconds": 12.0, "status": "UPSCALING", "timed_out": True}
    assert "Timed out after 12s waiting for node pool p to be ready; last status: UPSCALING" == err.value.message


class Thing(OvhModule):
    """A module whose object never gets ready."""
    resource_key = "thing"

    def run(self):
        self.wait_for("until_ready", fetcher(["INSTALLING"]), w.REGISTRY, "r")


class Recorder(FakeAnsible):
    def fail_json(self, msg, **kwargs):
        self.failed = dict(kwargs, msg=msg)
        raise Failed(msg)


def test_a_module_that_times_out_returns_the_partial_object_and_the_duration():
    mod = make_module(Thing, wait_timeout=30, wait_sleep=10)
    mod.module = Recorder(mod.params)
    with pytest.raises(Failed):
        mod.main()
    failed = mod.module.failed
    assert failed["msg"].startswith("Timed out after 30s waiting for container registry r to be ready")
    assert failed["waited"] == {"seconds": 30.0, "status": "INSTALLING", "timed_out": True}
    assert failed["thing"] == {"status": "INSTALLING", "name": "x"}
    assert mod.clock.sleeps == [10, 10, 10]


def test_stable_accepts_error_and_ready_but_not_transitional(clock):
    wt = waiter(clock)
    assert wt.until_stable(fetcher(["UPSCALING", "DOWNSCALING", "ERROR"]), w.KUBE_NODEPOOL, "p")["status"] == "ERROR"
    assert clock.now - 1000.0 == 10.0
    assert wt.until_stable(fetcher([None]), w.KUBE_NODEPOOL, "p") is None


class FakeApi(object):
    """A resource whose GETs answer the statuses in turn; records every request in order."""

    def __init__(self, statuses):
        self.log = []
        self.fetch = fetcher(statuses, self.log)

    def delete(self, path):
        self.log.append(("DELETE", path))


def test_a_delete_waits_until_the_object_is_stable_then_until_it_is_gone():
    api = FakeApi(["UPDATING", "UPDATING", "READY", "DELETING", "DELETING", None])
    mod = make_module(OvhModule, api, wait=True, wait_sleep=3, wait_timeout=60)
    mod.delete_step("/thing/1", api.fetch, w.REGISTRY, "r")()
    assert api.log == [("GET", "UPDATING"), ("GET", "UPDATING"), ("GET", "READY"), ("DELETE", "/thing/1"),
                       ("GET", "DELETING"), ("GET", "DELETING"), ("GET", None)]
    assert mod.result["waited"] == {"seconds": 12.0, "status": None}


def test_gone_waits_for_404_or_deleted(clock):
    wt = waiter(clock)
    assert wt.until_gone(fetcher(["DELETING", None]), w.KUBE_CLUSTER, "c") is None
    assert wt.until_gone(fetcher(["DELETING", "DELETED"]), w.KUBE_CLUSTER, "c")["status"] == "DELETED"
    with pytest.raises(w.WaitError) as err:
        waiter(clock, timeout=10).until_gone(fetcher(["DELETING"]), w.KUBE_CLUSTER, "c")
    assert err.value.timed_out and "to be deleted" in err.value.message


def test_disappearing_while_waiting_for_ready_fails(clock):
    with pytest.raises(w.WaitError) as err:
        waiter(clock).until_ready(fetcher(["INSTALLING", None]), w.REGISTRY, "r")
    assert "disappeared" in err.value.message and not err.value.timed_out


def test_a_404_right_after_a_create_is_pending_for_appear_within_seconds(clock):
    wt = waiter(clock, interval=10)
    assert wt.until_ready(fetcher([None, None, "INSTALLING", "READY"]), w.KUBE_CLUSTER, "c",
                          appear_within=120)["status"] == "READY"
    with pytest.raises(w.WaitError) as err:
        wt.until_ready(fetcher([None]), w.KUBE_CLUSTER, "c", appear_within=25)
    assert "disappeared" in err.value.message and wt.last["polls"] == 4  # at 0, 10, 20 and 30 s


def test_until_found_gives_up_quietly(clock):
    wt = waiter(clock)
    assert wt.until_found(fetcher([None, None, "READY"]), "c", within=30, interval=2)["status"] == "READY"
    assert clock.sleeps == [2, 2]
    assert wt.until_found(fetcher([None]), "c", within=5, interval=2) is None
    assert wt.until_found(fetcher([None]), "c", within=0) is None and wt.last["polls"] == 1


def test_retry_repeats_a_refusal_that_means_not_yet_within_the_timeout(clock):
    wt = waiter(clock, timeout=30, interval=10)
    answers = [OvhApiError("not yet", http_status=403), OvhApiError("not yet", http_status=403), "done"]

    def call():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def retryable(exc):
        return getattr(exc, "http_status", None) == 403

    assert wt.retry(call, retryable, "create") == "done" and clock.sleeps == [10, 10]
    answers[:] = [OvhApiError("not yet", http_status=403)] * 10
    with pytest.raises(OvhApiError):
        wt.retry(call, retryable, "create")
    assert len(answers) == 6  # at 0, 10, 20, 30 s
    answers[:] = [OvhApiError("bad", http_status=400)]
    with pytest.raises(OvhApiError):
        wt.retry(call, retryable, "create")


def test_database_child_create_is_retried_while_the_service_provisions_only_with_wait():
    provisioning = OvhApiError("Service database 'x' does not exist", http_status=403)
    for wait, sent in ((True, 3), (False, 1)):
        answers = [provisioning, provisioning, {"id": "u"}]
        mod = make_module(OvhDatabaseChildModule, None, wait=wait, wait_sleep=5, wait_timeout=60)

        def call():
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        if wait:
            assert mod.retry_while_provisioning(call, "user u") == {"id": "u"}
        else:
            with pytest.raises(OvhApiError):
                mod.retry_while_provisioning(call, "user u")
        assert 3 - len(answers) == sent
        assert mod.clock.sleeps == ([5, 5] if wait else [])


def test_an_unchanged_object_that_is_not_ready_is_waited_for_only_with_wait_outside_check_mode():
    pending = {"id": "1", "status": "UPDATING"}
    mod = make_module(OvhModule, None, wait=True, wait_sleep=5)
    assert mod.wait_unchanged(pending, fetcher(["UPDATING", "READY"]), w.REGISTRY, "r")["status"] == "READY"
    assert mod.result["waited"]["status"] == "READY"
    for params, check_mode in ((dict(wait=False), False), (dict(wait=True), True)):
        mod = make_module(OvhModule, None, **params)
        mod.module.check_mode = check_mode
        assert mod.wait_unchanged(pending, fetcher(["READY"]), w.REGISTRY, "r") is pending
        assert "waited" not in mod.result
    mod = make_module(OvhModule, None, wait=True)
    with pytest.raises(w.WaitError):
        mod.wait_unchanged({"id": "1", "status": "ERROR"}, fetcher(["ERROR"]), w.REGISTRY, "r")


def test_create_grace_looks_up_the_object_on_the_clock_of_the_waiter():
    mod = make_module(OvhModule, None, wait_sleep=1.0)

    class Poster(object):
        def post(self, path, body=None, idempotent=False):
            raise OvhAmbiguousWrite("500", http_status=500, method="POST", path=path, ambiguous=True)

    mod._client = Poster()
    found = iter([None, None, {"id": "late"}])
    assert mod.create_or_adopt("/x", {}, lambda: next(found), "thing", resend=0) == {"id": "late"}
    assert mod.clock.sleeps == [1.0, 1.0] and mod.result["adopted"] is True
