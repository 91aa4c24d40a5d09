# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""One waiter for every asynchronous OVH resource, and the one clock.

PRIVATE to this collection: not a public API, may change in any release.

Each resource has a :class:`StatusModel` built from the status enum of the
official schema: a status reads as one *phase*: ``ready`` (success),
``error`` (fails a wait at once), ``gone``, or ``pending`` (the transitional
values, and values newer than the schema). ``tests/unit/plugins/module_utils/
test_waiter.py`` checks that every value of each enum in the schema is
classified here. The ``_info`` modules return the same phase.

Every wait of the collection goes through :class:`Waiter`, and every sleep
and time reading of the waiter, the client and the rate limiter through one
:class:`Clock`, which tests replace.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

READY = "ready"
PENDING = "pending"
ERROR = "error"
GONE = "gone"
PHASES = (READY, PENDING, ERROR, GONE)
STABLE = "stable"  # a wait target: ready, error or gone (nothing runs on the object)


class Clock(object):
    """Time as the collection reads it: ``monotonic()`` for durations, ``time()`` for what outlives the
    process (the shared rate limit), ``sleep(seconds)``. Each defaults to the :mod:`time` function."""

    def __init__(self, monotonic=None, sleep=None, wall=None):
        self.monotonic = monotonic or time.monotonic
        self.sleep = sleep or time.sleep
        self.time = wall or time.time


SYSTEM_CLOCK = Clock()


class StatusModel(object):
    """How one resource's status values read: ready, pending, error or gone."""

    def __init__(self, name, schema_enum, ready, error, gone=(), field="status", pending=()):
        self.name = name
        self.schema_enum = schema_enum  # the cloud.json enum model these values come from
        self.ready = frozenset(ready)
        self.error = frozenset(error)
        self.gone = frozenset(gone)
        self.pending = frozenset(pending)  # documented transitional values (informative)
        self.field = field

    def classify(self, status):
        """The phase of a status value."""
        if status in self.ready:
            return READY
        if status in self.error:
            return ERROR
        if status in self.gone:
            return GONE
        # Transitional values, and values the schema snapshot does not know yet.
        return PENDING

    def status_of(self, obj):
        return None if obj is None else obj.get(self.field)

    def phase(self, obj):
        """The phase of an object (``gone`` for None, a 404)."""
        return GONE if obj is None else self.classify(self.status_of(obj))


KUBE_CLUSTER = StatusModel(
    "Kubernetes cluster", "cloud.kube.ClusterStatusEnum",
    ready=["READY"],
    error=["ERROR", "USER_ERROR", "USER_QUOTA_ERROR", "USER_WEBHOOK_PREVENTING_OPERATIONS_ERROR", "SUSPENDED"],
    gone=["DELETED"],
    pending=["INSTALLING", "UPDATING", "REDEPLOYING", "RESETTING", "REOPENING", "MAINTENANCE", "DELETING",
             "SUSPENDING"],
)
KUBE_NODEPOOL = StatusModel(
    "node pool", "cloud.kube.NodePoolStatusEnum",
    ready=["READY"],
    error=["ERROR", "USER_ERROR", "USER_NODE_NOT_FOUND_ERROR", "USER_NODE_SUSPENDED_SERVICE", "USER_QUOTA_ERROR",
           "USER_WEBHOOK_PREVENTING_OPERATIONS_ERROR", "SUSPENDED"],
    gone=["DELETED"],
    pending=["INSTALLING", "UPDATING", "UPSCALING", "DOWNSCALING", "REDEPLOYING", "RESETTING", "REOPENING",
             "MAINTENANCE", "DELETING", "SUSPENDING"],
)
KUBE_NODE = StatusModel(
    "node", "cloud.kube.NodeStatusEnum",
    ready=["READY"],
    error=["ERROR", "FLAVOR_OUT_OF_STOCK_ERROR", "USER_ERROR", "USER_NODE_NOT_FOUND_ERROR",
           "USER_NODE_SUSPENDED_SERVICE", "USER_QUOTA_ERROR", "USER_WEBHOOK_PREVENTING_OPERATIONS_ERROR",
           "SUSPENDED"],
    gone=["DELETED"],
    pending=["INSTALLING", "UPDATING", "REDEPLOYING", "RESETTING", "REOPENING", "MAINTENANCE", "DELETING",
             "SUSPENDING"],
)
DATABASE = StatusModel(
    "database service", "cloud.project.database.StatusEnum",
    ready=["READY"],
    error=["ERROR", "ERROR_INCONSISTENT_SPEC", "LOCKED", "SHELVED"],
    pending=["CREATING", "PENDING", "UPDATING", "DELETING", "LOCKED_PENDING", "LOCKED_UPDATING"],
)
REGISTRY = StatusModel(
    "container registry", "cloud.containerRegistry.StatusEnum",
    ready=["READY"],
    error=["ERROR", "SUSPENDED"],
    gone=["DELETED"],
    pending=["INSTALLING", "UPDATING", "DELETING", "RESTORING", "SUSPENDING"],
)
CLOUD_USER = StatusModel(
    "cloud user", "cloud.user.UserStatusEnum",
    ready=["ok"], error=[], gone=["deleted"], pending=["creating", "deleting"],
)
PRIVATE_NETWORK = StatusModel(
    "private network", "cloud.network.NetworkStatusEnum",
    ready=["ACTIVE"], error=[], pending=["BUILDING", "DELETING"],
)
PRIVATE_NETWORK_REGION = StatusModel(
    "private network region", "cloud.network.NetworkRegionStatusEnum",
    ready=["ACTIVE"], error=[], pending=["BUILDING"],
)

ALL_MODELS = (KUBE_CLUSTER, KUBE_NODEPOOL, KUBE_NODE, DATABASE, REGISTRY, CLOUD_USER, PRIVATE_NETWORK,
              PRIVATE_NETWORK_REGION)


class WaitError(Exception):
    """A wait that ended without the target: a timeout or an error status."""

    def __init__(self, message, last_status=None, duration=0.0, timed_out=False, obj=None):
        super(WaitError, self).__init__(message)
        self.message = message
        self.last_status = last_status
        self.duration = duration
        self.timed_out = timed_out
        self.obj = obj

    def to_result(self):
        return {"seconds": round(self.duration, 3), "status": self.last_status, "timed_out": self.timed_out}


_WANTED = {READY: "ready", GONE: "deleted", STABLE: "stable"}


class Waiter(object):
    """Polls a resource until it is ready, stable or gone, within a timeout.

    ``fetch`` is a callable returning the resource as a dict, or None when it
    does not exist (a 404). Each call records ``seconds``, ``status`` and
    ``polls`` in :attr:`last`; :attr:`total_seconds` sums all waits.
    ``interval`` is the pause between two reads, ``clock`` the :class:`Clock`.
    """

    def __init__(self, timeout=1800, interval=10.0, clock=None, log=None):
        self.timeout = timeout
        self.interval = interval
        self.clock = clock or SYSTEM_CLOCK
        self._log = log
        self.last = None
        self.total_seconds = 0.0

    def until_ready(self, fetch, model, what, timeout=None, appear_within=0.0):
        """Wait for a ready status. Fails fast on an error status, or when the object is not found (after
        ``appear_within`` seconds: the API answers 404 for a while right after a create)."""
        return self._poll(fetch, model, what, READY, timeout, appear_within=appear_within)

    def until_stable(self, fetch, model, what, timeout=None):
        """Wait until nothing runs on the object (before changing or deleting it).

        An error status is stable too: the change that follows may be what
        repairs it, so it does not fail here. Returns the object (or None).
        """
        return self._poll(fetch, model, what, STABLE, timeout)

    def until_gone(self, fetch, model, what, timeout=None):
        """Wait until the object no longer exists (or reads as deleted)."""
        return self._poll(fetch, model, what, GONE, timeout)

    def until(self, fetch, predicate, what, describe=None, timeout=None, interval=None, give_up=False):
        """Wait until ``predicate(obj)`` is true; ``describe(obj)`` names the state for messages.

        With ``give_up``, a timeout returns the last object instead of failing (a look that may find nothing).
        """
        return self._poll(fetch, predicate, what, READY, timeout, describe=describe, interval=interval,
                          give_up=give_up)

    def until_found(self, fetch, what, within, interval=None):
        """``fetch()`` until it returns something, for ``within`` seconds (at least one read); None if not found."""
        return self.until(fetch, lambda obj: obj is not None, what, describe=lambda obj: "not found",
                          timeout=within, interval=interval, give_up=True)

    def retry(self, call, retryable, what, timeout=None, interval=None):
        """``call()`` again while it raises an exception that ``retryable(exc)`` accepts (a refusal that
        means "not yet"), within ``timeout``; then the last such exception is raised."""
        failure = {}

        def attempt():
            try:
                return (call(),)
            except Exception as exc:  # pylint: disable=broad-except
                if not retryable(exc):
                    raise
                failure["exc"] = exc
                return None

        answer = self.until(attempt, lambda obj: obj is not None, what,
                            describe=lambda obj: "done" if obj else "refused: %s" % failure["exc"],
                            timeout=timeout, interval=interval, give_up=True)
        if answer is None:
            raise failure["exc"]
        return answer[0]

    def _poll(self, fetch, model, what, target, timeout=None, describe=None, interval=None, give_up=False,
              appear_within=0.0):
        """``model``: a StatusModel, or a predicate on the object (with ``describe``)."""
        timeout = self.timeout if timeout is None else timeout
        interval = self.interval if interval is None else interval
        is_model = isinstance(model, StatusModel)
        name = model.name if is_model else "object"
        started = self.clock.monotonic()
        deadline = started + timeout
        polls = 0
        while True:
            obj = fetch()
            polls += 1
            now = self.clock.monotonic()
            elapsed = now - started
            if is_model:
                status = model.status_of(obj)
                phase = model.phase(obj)
                if obj is None and elapsed < appear_within:
                    phase, status = PENDING, "not found yet"
            else:
                status = describe(obj) if describe else None
                phase = READY if model(obj) else PENDING
            self.last = {"seconds": round(elapsed, 3), "status": status, "polls": polls}
            if self._reached(phase, target):
                self.total_seconds += elapsed
                return obj
            if target == READY and phase in (ERROR, GONE):
                self.total_seconds += elapsed
                if phase == ERROR:
                    raise WaitError("%s %s is in error status %s" % (name.capitalize(), what, status),
                                    last_status=status, duration=elapsed, obj=obj)
                raise WaitError("%s %s disappeared while waiting for it to be ready" % (name.capitalize(), what),
                                last_status=status, duration=elapsed)
            if now >= deadline - 1e-6:  # (a rounding error is no reason for one more poll)
                self.total_seconds += elapsed
                if give_up:
                    return obj
                raise WaitError("Timed out after %ss waiting for %s %s to be %s; last status: %s" % (
                    int(timeout), name, what, _WANTED[target], status),
                    last_status=status, duration=elapsed, timed_out=True, obj=obj)
            if self._log:
                self._log("waiting for %s %s: status %s (%.0fs)" % (name, what, status, elapsed))
            self.clock.sleep(min(interval, deadline - now))

    @staticmethod
    def _reached(phase, target):
        if target == STABLE:
            return phase in (READY, ERROR, GONE)
        return phase == target
