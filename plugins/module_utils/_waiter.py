# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""One waiter for every asynchronous OVH resource.

PRIVATE to this collection: not a public API, may change in any release.

Each resource has a :class:`StatusModel` built from the status enum of the
official schema: the ready statuses are success, the error statuses fail fast,
and every other status (transitional ones, and values newer than the schema)
is pending. ``tests/unit/plugins/module_utils/test_waiter.py`` checks that
every value of each enum in the schema is classified here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

READY = "ready"
PENDING = "pending"
FAILED = "failed"
GONE = "gone"


class StatusModel(object):
    """How one resource's status values read: ready, pending, failed or gone."""

    def __init__(self, name, schema_enum, ready, failed, gone=(), field="status", pending=()):
        self.name = name
        self.schema_enum = schema_enum  # the cloud.json enum model these values come from
        self.ready = frozenset(ready)
        self.failed = frozenset(failed)
        self.gone = frozenset(gone)
        self.pending = frozenset(pending)  # documented transitional values (informative)
        self.field = field

    def classify(self, status):
        if status in self.ready:
            return READY
        if status in self.failed:
            return FAILED
        if status in self.gone:
            return GONE
        # Transitional values, and values the schema snapshot does not know yet.
        return PENDING

    def status_of(self, obj):
        return None if obj is None else obj.get(self.field)


KUBE_CLUSTER = StatusModel(
    "Kubernetes cluster", "cloud.kube.ClusterStatusEnum",
    ready=["READY"],
    failed=["ERROR", "USER_ERROR", "USER_QUOTA_ERROR", "USER_WEBHOOK_PREVENTING_OPERATIONS_ERROR", "SUSPENDED"],
    gone=["DELETED"],
    pending=["INSTALLING", "UPDATING", "REDEPLOYING", "RESETTING", "REOPENING", "MAINTENANCE", "DELETING",
             "SUSPENDING"],
)
KUBE_NODEPOOL = StatusModel(
    "node pool", "cloud.kube.NodePoolStatusEnum",
    ready=["READY"],
    failed=["ERROR", "USER_ERROR", "USER_NODE_NOT_FOUND_ERROR", "USER_NODE_SUSPENDED_SERVICE", "USER_QUOTA_ERROR",
            "USER_WEBHOOK_PREVENTING_OPERATIONS_ERROR", "SUSPENDED"],
    gone=["DELETED"],
    pending=["INSTALLING", "UPDATING", "UPSCALING", "DOWNSCALING", "REDEPLOYING", "RESETTING", "REOPENING",
             "MAINTENANCE", "DELETING", "SUSPENDING"],
)
KUBE_NODE = StatusModel(
    "node", "cloud.kube.NodeStatusEnum",
    ready=["READY"],
    failed=["ERROR", "FLAVOR_OUT_OF_STOCK_ERROR", "USER_ERROR", "USER_NODE_NOT_FOUND_ERROR",
            "USER_NODE_SUSPENDED_SERVICE", "USER_QUOTA_ERROR", "USER_WEBHOOK_PREVENTING_OPERATIONS_ERROR",
            "SUSPENDED"],
    gone=["DELETED"],
    pending=["INSTALLING", "UPDATING", "REDEPLOYING", "RESETTING", "REOPENING", "MAINTENANCE", "DELETING",
             "SUSPENDING"],
)
DATABASE = StatusModel(
    "database service", "cloud.project.database.StatusEnum",
    ready=["READY"],
    failed=["ERROR", "ERROR_INCONSISTENT_SPEC", "LOCKED", "SHELVED"],
    pending=["CREATING", "PENDING", "UPDATING", "DELETING", "LOCKED_PENDING", "LOCKED_UPDATING"],
)
REGISTRY = StatusModel(
    "container registry", "cloud.containerRegistry.StatusEnum",
    ready=["READY"],
    failed=["ERROR", "SUSPENDED"],
    gone=["DELETED"],
    pending=["INSTALLING", "UPDATING", "DELETING", "RESTORING", "SUSPENDING"],
)
REGISTRY_OIDC = StatusModel(
    "registry OIDC", "cloud.containerRegistry.OIDCStatusEnum",
    ready=["READY"], failed=["ERROR"],
    pending=["INSTALLING", "PATCHING", "UPDATING", "DELETING"],
)
CLOUD_USER = StatusModel(
    "cloud user", "cloud.user.UserStatusEnum",
    ready=["ok"], failed=[], gone=["deleted"], pending=["creating", "deleting"],
)
PRIVATE_NETWORK = StatusModel(
    "private network", "cloud.network.NetworkStatusEnum",
    ready=["ACTIVE"], failed=[], pending=["BUILDING", "DELETING"],
)
PRIVATE_NETWORK_REGION = StatusModel(
    "private network region", "cloud.network.NetworkRegionStatusEnum",
    ready=["ACTIVE"], failed=[], pending=["BUILDING"],
)

ALL_MODELS = (KUBE_CLUSTER, KUBE_NODEPOOL, KUBE_NODE, DATABASE, REGISTRY, REGISTRY_OIDC, CLOUD_USER,
              PRIVATE_NETWORK, PRIVATE_NETWORK_REGION)


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


class Waiter(object):
    """Polls a resource until it is ready, stable or gone, within a timeout.

    ``fetch`` is a callable returning the resource as a dict, or None when it
    does not exist (a 404). Each call records ``seconds``, ``status`` and
    ``polls`` in :attr:`last`; :attr:`total_seconds` sums all waits.
    """

    def __init__(self, timeout=1800, interval=10.0, sleep=time.sleep, monotonic=time.monotonic, log=None):
        self.timeout = timeout
        self.interval = interval
        self._sleep = sleep
        self._monotonic = monotonic
        self._log = log
        self.last = None
        self.total_seconds = 0.0

    def until_ready(self, fetch, model, what, timeout=None):
        """Wait for a ready status. Fails fast on an error status or when the object vanishes."""
        return self._poll(fetch, model, what, target=READY, timeout=timeout)

    def until_stable(self, fetch, model, what, timeout=None):
        """Wait until nothing runs on the object (before changing or deleting it).

        An error status is stable too: the change that follows may be what
        repairs it, so it does not fail here. Returns the object (or None).
        """
        return self._poll(fetch, model, what, target="stable", timeout=timeout)

    def until_gone(self, fetch, model, what, timeout=None):
        """Wait until the object no longer exists (or reads as deleted)."""
        return self._poll(fetch, model, what, target=GONE, timeout=timeout)

    def until(self, fetch, predicate, what, describe=None, timeout=None):
        """Wait until ``predicate(obj)`` is true; ``describe(obj)`` names the state for messages."""
        return self._poll(fetch, None, what, target=predicate, timeout=timeout, describe=describe)

    def _poll(self, fetch, model, what, target, timeout=None, describe=None):
        timeout = self.timeout if timeout is None else timeout
        started = self._monotonic()
        polls = 0
        status = None
        while True:
            obj = fetch()
            polls += 1
            elapsed = self._monotonic() - started
            if model is not None:
                status = model.status_of(obj)
                kind = GONE if obj is None else model.classify(status)
            else:
                status = describe(obj) if describe else None
                kind = READY if target(obj) else PENDING
            self.last = {"seconds": round(elapsed, 3), "status": status, "polls": polls}
            done = self._done(kind, target)
            if done:
                self.total_seconds += elapsed
                return obj
            if kind == FAILED and target == READY:
                self.total_seconds += elapsed
                raise WaitError("%s %s is in error status %s" % (model.name.capitalize(), what, status),
                                last_status=status, duration=elapsed, obj=obj)
            if kind == GONE and target == READY:
                self.total_seconds += elapsed
                raise WaitError("%s %s disappeared while waiting for it to be ready" % (
                    (model.name if model else "Object").capitalize(), what),
                    last_status=status, duration=elapsed)
            if elapsed >= timeout:
                self.total_seconds += elapsed
                wanted = {READY: "ready", GONE: "deleted", "stable": "stable"}.get(target, "ready") \
                    if not callable(target) else "ready"
                raise WaitError(
                    "Timed out after %ss waiting for %s %s to be %s; last status: %s" % (
                        int(timeout), model.name if model else "object", what, wanted, status),
                    last_status=status, duration=elapsed, timed_out=True, obj=obj)
            if self._log:
                self._log("waiting for %s %s: status %s (%.0fs)" % (model.name if model else "object", what,
                                                                    status, elapsed))
            self._sleep(min(self.interval, max(0.0, timeout - elapsed)) or self.interval)

    @staticmethod
    def _done(kind, target):
        if callable(target):
            return kind == READY
        if target == READY:
            return kind == READY
        if target == GONE:
            return kind == GONE
        return kind in (READY, FAILED, GONE)  # stable
