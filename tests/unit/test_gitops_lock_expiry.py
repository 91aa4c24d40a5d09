"""gitops_lock: the rules of the lock (take, expiry, takeover, renew, release by the holder only, wait) on an
in-memory Lease store with the API's 409 semantics and a fake clock that never sleeps."""

import copy
import os
import sys

import pytest

from ansible_collections.keikolatam.gitops.plugins.modules import gitops_lock as gl

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "plugins", "modules"))
from module_fakes import FakeClock  # noqa: E402  pylint: disable=wrong-import-position


class FakeStore(object):
    """One Lease, as the API server keeps it: a resourceVersion per write, 409 on a stale precondition.

    ``before`` maps an operation (``get``, ``create``, ``replace``, ``delete``) to a callable run just before it,
    which stands for another process acting between this one's read and write."""

    def __init__(self, namespace="argocd", name="lock"):
        self.namespace = namespace
        self.name = name
        self.lease = None
        self.version = 0
        self.writes = []
        self.before = {}

    def _hook(self, op):
        hook = self.before.pop(op, None)
        if hook:
            hook()

    def _store(self, body):
        self.version += 1
        lease = copy.deepcopy(body)
        lease["metadata"]["resourceVersion"] = str(self.version)
        lease["metadata"].setdefault("uid", "uid-%d" % self.version)
        self.lease = lease
        return copy.deepcopy(lease)

    def get(self):
        self._hook("get")
        return copy.deepcopy(self.lease)

    def create(self, body):
        self._hook("create")
        if self.lease is not None:
            raise gl.LeaseConflict("create")
        assert "resourceVersion" not in body["metadata"]
        self.writes.append(("create", body["spec"]["holderIdentity"]))
        return self._store(body)

    def replace(self, body):
        self._hook("replace")
        if self.lease is None:
            raise gl.LeaseConflict("update")
        if body["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
            raise gl.LeaseConflict("update")
        self.writes.append(("replace", body["spec"]["holderIdentity"]))
        return self._store(body)

    def delete(self, resource_version, uid):
        self._hook("delete")
        if self.lease is None:
            raise gl.LeaseNotFound("delete")
        if resource_version != self.lease["metadata"]["resourceVersion"] or uid != self.lease["metadata"]["uid"]:
            raise gl.LeaseConflict("delete")
        self.writes.append(("delete", self.lease["spec"]["holderIdentity"]))
        self.lease = None


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def store():
    return FakeStore()


def lock(store, clock, holder, duration=60, **kwargs):
    return gl.LeaseLock(store, store.namespace, store.name, holder, duration, clock=clock, **kwargs)


def test_a_free_lock_is_taken_by_create_and_a_second_holder_is_refused_with_holder_and_expiry(store, clock):
    action, lease, before = lock(store, clock, "run-a").acquire()
    assert (action, before) == ("acquired", None)
    assert store.writes == [("create", "run-a")]
    assert lease["spec"]["leaseDurationSeconds"] == 60 and lease["spec"]["leaseTransitions"] == 0
    assert gl.summary(lease)["expires_at"] == gl.format_time(clock.time() + 60)
    assert lease["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "keikolatam.gitops"

    clock.advance(20)
    with pytest.raises(gl.LockHeld) as held:
        lock(store, clock, "run-b").acquire()
    assert "Lock argocd/lock is held by run-a" in held.value.message
    assert "expires at %s (in 40s)" % gl.format_time(clock.time() + 40) in held.value.message
    assert "Waited 0s" in held.value.message
    assert store.writes == [("create", "run-a")]  # nothing written by the refused one


def test_the_holder_renews_and_the_expiry_moves_on(store, clock):
    lock(store, clock, "run-a").acquire()
    acquired = store.lease["spec"]["acquireTime"]
    clock.advance(50)
    action, lease, before = lock(store, clock, "run-a").acquire()
    assert action == "renewed" and gl.holder_of(before) == "run-a"
    assert lease["spec"]["acquireTime"] == acquired
    assert lease["spec"]["renewTime"] == gl.format_time(clock.time())
    clock.advance(50)  # 100 s after the take, 50 s after the renewal: still held
    with pytest.raises(gl.LockHeld):
        lock(store, clock, "run-b").acquire()


def test_an_expired_lock_is_taken_over_only_after_its_expiry(store, clock):
    lock(store, clock, "killed-run").acquire()
    clock.advance(59)
    with pytest.raises(gl.LockHeld):
        lock(store, clock, "run-b").acquire()
    clock.advance(1)  # renewTime + leaseDurationSeconds is now
    action, lease, before = lock(store, clock, "run-b").acquire()
    assert action == "taken_over" and gl.holder_of(before) == "killed-run"
    assert lease["spec"]["holderIdentity"] == "run-b" and lease["spec"]["leaseTransitions"] == 1
    assert lease["spec"]["acquireTime"] == gl.format_time(clock.time())
    assert store.writes[-1] == ("replace", "run-b")


def test_of_two_runs_that_see_it_expired_only_one_takes_it(store, clock):
    lock(store, clock, "killed-run").acquire()
    clock.advance(120)
    # run-c takes it over between run-b's read and run-b's write: run-b's precondition fails, it reads again,
    # finds run-c's fresh lock and is refused, naming run-c.
    store.before["replace"] = lambda: lock(store, clock, "run-c").acquire()
    with pytest.raises(gl.LockHeld) as held:
        lock(store, clock, "run-b").acquire()
    assert "held by run-c" in held.value.message
    assert [w for w in store.writes if w[0] == "replace"] == [("replace", "run-c")]
    assert store.lease["spec"]["leaseTransitions"] == 1


def test_of_two_runs_that_create_at_once_only_one_gets_it(store, clock):
    store.before["create"] = lambda: lock(store, clock, "run-c").acquire()
    with pytest.raises(gl.LockHeld) as held:
        lock(store, clock, "run-b").acquire()
    assert "held by run-c" in held.value.message
    assert store.writes == [("create", "run-c")]


def test_a_held_lock_is_waited_for_until_it_expires(store, clock):
    lock(store, clock, "run-a", duration=30).acquire()
    waiting = lock(store, clock, "run-b", wait_timeout=120, wait_sleep=5)
    action, lease, _before = waiting.acquire()
    assert action == "taken_over" and lease["spec"]["holderIdentity"] == "run-b"
    assert 30 <= waiting.waited <= 35
    assert clock.sleeps and all(s <= 5 for s in clock.sleeps)


def test_a_held_lock_is_waited_for_until_its_holder_releases_it(store, clock):
    lock(store, clock, "run-a", duration=600).acquire()
    reads = {"n": 0}

    def release_on_third_read():
        reads["n"] += 1
        if reads["n"] == 3:
            lock(store, clock, "run-a").release()
        else:
            store.before["get"] = release_on_third_read

    store.before["get"] = release_on_third_read
    waiting = lock(store, clock, "run-b", wait_timeout=600, wait_sleep=2)
    action, lease, _before = waiting.acquire()
    assert action == "acquired" and lease["spec"]["holderIdentity"] == "run-b"
    assert waiting.waited == 4  # two pauses of 2 s: far less than the 600 s expiry


def test_a_wait_shorter_than_the_expiry_fails_naming_the_holder_and_the_wait(store, clock):
    lock(store, clock, "run-a", duration=300).acquire()
    with pytest.raises(gl.LockHeld) as held:
        lock(store, clock, "run-b", wait_timeout=10, wait_sleep=3).acquire()
    assert "held by run-a" in held.value.message and "Waited 10s (wait_timeout 10s)" in held.value.message
    assert "in 290s" in held.value.message
    assert gl.holder_of(store.lease) == "run-a"


def test_only_the_holder_releases(store, clock):
    lock(store, clock, "run-a").acquire()
    with pytest.raises(gl.LockHeld) as refused:
        lock(store, clock, "run-b").release()
    assert "held by run-a, not by run-b: only its holder releases it" in refused.value.message
    clock.advance(3600)
    with pytest.raises(gl.LockHeld) as expired:
        lock(store, clock, "run-b").release()
    assert "it has expired: take it over with state=present" in expired.value.message
    assert store.lease is not None and [w[0] for w in store.writes] == ["create"]
    action, before = lock(store, clock, "run-a").release()
    assert action == "released" and gl.holder_of(before) == "run-a" and store.lease is None
    assert lock(store, clock, "run-a").release() == ("none", None)  # twice: nothing to do


def test_a_release_reads_again_when_the_lease_changed_since_it_was_read(store, clock):
    lock(store, clock, "run-a").acquire()
    store.before["delete"] = lambda: lock(store, clock, "run-a").acquire()  # renewed in between
    action, _before = lock(store, clock, "run-a").release()
    assert action == "released" and store.lease is None
    assert [w[0] for w in store.writes] == ["create", "replace", "delete"]


def test_check_mode_predicts_and_writes_nothing(store, clock):
    action, lease, _before = lock(store, clock, "run-a", check_mode=True).acquire()
    assert action == "acquired" and lease["spec"]["holderIdentity"] == "run-a" and store.lease is None
    lock(store, clock, "run-a").acquire()
    assert lock(store, clock, "run-a", check_mode=True).release()[0] == "released"
    assert store.lease is not None
    # A held lock is not waited for in check mode: the refusal comes at once.
    with pytest.raises(gl.LockHeld):
        lock(store, clock, "run-b", check_mode=True, wait_timeout=600).acquire()
    assert clock.sleeps == []
    clock.advance(61)
    assert lock(store, clock, "run-b", check_mode=True).acquire()[0] == "taken_over"
    assert store.writes == [("create", "run-a")]


def test_a_released_lease_left_without_holder_is_free(store, clock):
    lock(store, clock, "run-a", duration=600).acquire()
    store.lease["spec"]["holderIdentity"] = ""  # as Kubernetes' leader election releases
    action, _lease, _before = lock(store, clock, "run-b").acquire()
    assert action == "taken_over"


def test_times_and_expiry():
    assert gl.parse_time(gl.format_time(1.7e9 + 0.25)) == pytest.approx(1.7e9 + 0.25)
    assert gl.parse_time("2026-12-01T23:00:00Z") == gl.parse_time("2026-12-01T23:00:00.000000Z")
    assert gl.parse_time("garbage") is None and gl.parse_time(None) is None
    lease = {"metadata": {}, "spec": {"holderIdentity": "x", "acquireTime": "2026-12-01T23:00:00.000000Z",
                                      "leaseDurationSeconds": 10}}
    assert gl.expiry_of(lease) == gl.parse_time("2026-12-01T23:00:10Z")  # no renewTime: from acquireTime
    assert not gl.is_expired(lease, gl.parse_time("2026-12-01T23:00:09Z"))
    assert gl.is_expired(lease, gl.parse_time("2026-12-01T23:00:10Z"))
    del lease["spec"]["leaseDurationSeconds"]
    assert gl.expiry_of(lease) is None and not gl.is_expired(lease, 1e12)


def test_a_lock_without_expiry_says_only_its_holder_can_release_it(store, clock):
    store.lease = {"metadata": {"name": "lock", "namespace": "argocd", "resourceVersion": "7", "uid": "u"},
                   "spec": {"holderIdentity": "other-tool"}}
    with pytest.raises(gl.LockHeld) as held:
        lock(store, clock, "run-b").acquire()
    assert "has no expiry" in held.value.message and "only its holder can release it" in held.value.message
