#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gitops_lock
short_description: Take, renew or release a lock held as a Kubernetes Lease, with an expiry
version_added: 0.2.0
description:
  - A lock for operations that must not run twice at the same time on one target (two promotions to the same
    environment), held as a C(coordination.k8s.io/v1) Lease in the target cluster, so it survives the control node
    and a killed run.
  - O(state=present) takes the lock. A missing Lease is created (the create is the atomic step; of two runs, one
    gets C(409 AlreadyExists)). A Lease of another holder that has expired (its C(renewTime) plus
    C(leaseDurationSeconds) is in the past) is taken over with its C(resourceVersion) as a precondition, so of two
    runs that see it expired only one takes it. A Lease the same O(holder) already has is renewed (its expiry moves
    on by O(duration)).
  - A Lease held by another holder that has not expired is waited for, up to O(wait_timeout) seconds (released or
    expired by then), with the collection's one waiter; otherwise the task fails with a message that names the
    holder, when it took the lock and when the lock expires.
  - O(state=absent) releases the lock (deletes the Lease, with its C(resourceVersion) and C(uid) as preconditions)
    only when O(holder) holds it. A Lease of another holder is never deleted, even when it has expired (take it over
    with O(state=present) instead).
  - The expiry is judged with the control node's clock against the times the holders wrote, as Kubernetes' own
    leader election does; keep the clocks of the control nodes in time (NTP).
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh.attributes
attributes:
  check_mode:
    details:
      - Reads the Lease and predicts the action (RV(outcome)) without writing. A lock held by another holder is not
        waited for in check mode; the task fails as a real run would when the lock is still held at the end of
        O(wait_timeout).
  diff_mode:
    details:
      - The holder and the expiry of the Lease before and after.
options:
  kubeconfig:
    description:
      - The kubeconfig of the cluster that holds the Lease.
      - Without it, the C(KUBECONFIG) environment variable or C(~/.kube/config).
    type: path
  context:
    description:
      - The context of O(kubeconfig) to use (by default its current context).
    type: str
  namespace:
    description:
      - The namespace of the Lease. It must exist.
    type: str
    default: default
  name:
    description:
      - The name of the Lease (the lock), for example C(keiko-promote-production).
    type: str
    required: true
  holder:
    description:
      - Who takes or releases the lock (the Lease's C(holderIdentity)). Give each run its own identity (user, host
        and a run ID); a second run with the same holder renews the lock instead of waiting for it.
    type: str
    required: true
  duration:
    description:
      - How long the lock lasts, in seconds, after it was taken or last renewed (C(leaseDurationSeconds)). A run
        that is killed leaves a lock that expires after this time. Longer than the operation it protects.
    type: int
    default: 900
  state:
    description:
      - V(present) takes or renews the lock, V(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  wait_timeout:
    description:
      - How long to wait, in seconds, for a lock held by another holder to be released or to expire. V(0) fails at
        once.
    type: float
    default: 0
  wait_sleep:
    description:
      - The pause between two reads while waiting, in seconds.
    type: float
    default: 2
  timeout:
    description:
      - The timeout of each request to the Kubernetes API, in seconds.
    type: float
    default: 30
requirements:
  - kubernetes (the Python client that kubernetes.core uses)
notes:
  - The Lease is labelled C(app.kubernetes.io/managed-by=keikolatam.gitops). Its holder needs C(get), C(create),
    C(update) and C(delete) on C(leases.coordination.k8s.io) in O(namespace).
seealso:
  - module: keikolatam.gitops.gitops_release
  - name: Leases (Kubernetes documentation)
    link: https://kubernetes.io/docs/concepts/architecture/leases/
    description: The Lease object that holds the lock.
"""

EXAMPLES = r"""
- name: Take the promotion lock of production (wait up to 10 minutes for another promotion)
  keikolatam.gitops.gitops_lock:
    kubeconfig: "{{ keiko_secrets_dir }}/kubeconfig"
    namespace: argocd
    name: keiko-promote-production
    holder: "promote staging->production by {{ lookup('ansible.builtin.env', 'USER') }} run {{ run_id }}"
    duration: 1800
    wait_timeout: 600
  register: lock

- name: Release it (only the holder can)
  keikolatam.gitops.gitops_lock:
    kubeconfig: "{{ keiko_secrets_dir }}/kubeconfig"
    namespace: argocd
    name: keiko-promote-production
    holder: "{{ lock.lease.holder }}"
    state: absent
"""

RETURN = r"""
outcome:
  description:
    - What was done (or would be, in check mode) V(acquired) (the Lease was created), V(taken_over) (an expired or
      released Lease was taken), V(renewed) (the holder already had it), V(released) (deleted by its holder),
      V(none) (O(state=absent) and there was no Lease to release).
  returned: always
  type: str
  sample: acquired
lease:
  description: The lock as the Lease holds it after the task (before it, when V(released)); empty for V(none).
  returned: always
  type: dict
  contains:
    namespace:
      description: The namespace of the Lease.
      type: str
      sample: argocd
    name:
      description: The name of the Lease.
      type: str
      sample: keiko-promote-production
    holder:
      description: The holder of the lock.
      type: str
      sample: promote staging->production by ana run 1733097600
    acquired_at:
      description: When the holder took the lock (C(acquireTime)).
      type: str
      sample: "2026-12-01T23:00:00.000000Z"
    renewed_at:
      description: When the holder last renewed the lock (C(renewTime)).
      type: str
      sample: "2026-12-01T23:00:00.000000Z"
    expires_at:
      description: When the lock expires unless renewed.
      type: str
      sample: "2026-12-01T23:30:00.000000Z"
    duration:
      description: The lock's lifetime after each renewal, in seconds (C(leaseDurationSeconds)).
      type: int
      sample: 1800
    transitions:
      description: How many times the lock changed holders (C(leaseTransitions)).
      type: int
      sample: 0
    resource_version:
      description: The Lease's resourceVersion (empty in check mode for what was not written).
      type: str
      sample: "4242"
previous_holder:
  description: The holder of the expired or released Lease that was taken over.
  returned: when RV(outcome) is V(taken_over)
  type: str
  sample: promote staging->production by ci run 1733090000
waited:
  description: Seconds spent waiting for another holder's lock.
  returned: always
  type: float
  sample: 12.5
"""

import datetime
import json
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import SYSTEM_CLOCK, Waiter

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.rest import ApiException
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()

MANAGED_BY = "keikolatam.gitops"
_EPOCH = datetime.datetime(1970, 1, 1)


class LeaseError(Exception):
    """A failure to report as it is (the API refused, the cluster is not reachable...)."""


class LeaseConflict(Exception):
    """409: the Lease exists already (create) or changed since it was read (update, delete)."""


class LeaseNotFound(Exception):
    """404: the Lease (or its namespace) does not exist."""


class LockHeld(Exception):
    """The lock is held by another holder (and did not come free within the wait)."""

    def __init__(self, message, lease):
        super(LockHeld, self).__init__(message)
        self.message = message
        self.lease = lease


def format_time(seconds):
    """Epoch seconds -> a Kubernetes MicroTime (``2026-12-01T23:00:00.000000Z``)."""
    return (_EPOCH + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text):
    """A Kubernetes Time or MicroTime -> epoch seconds (None when absent or unreadable)."""
    if not text:
        return None
    text = str(text).strip()
    if text.endswith("Z"):
        text = text[:-1]
    elif text.endswith("+00:00"):
        text = text[:-6]
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S"):
        try:
            moment = datetime.datetime.strptime(text, fmt)
        except ValueError:
            continue
        return (moment - _EPOCH).total_seconds()
    return None


def expiry_of(lease):
    """When ``lease`` expires (epoch seconds): its renewTime (or acquireTime, or creation) + its duration.

    None when it cannot expire by these rules (no time or no duration written): such a Lease is held until its holder
    releases it.
    """
    spec = lease.get("spec") or {}
    start = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime")) or parse_time(
        (lease.get("metadata") or {}).get("creationTimestamp"))
    duration = spec.get("leaseDurationSeconds")
    if start is None or duration is None:
        return None
    return start + int(duration)


def holder_of(lease):
    return ((lease or {}).get("spec") or {}).get("holderIdentity") or ""


def is_expired(lease, now):
    expires = expiry_of(lease)
    return expires is not None and now >= expires


def summary(lease):
    """The lock as the module returns it."""
    if not lease:
        return {}
    meta = lease.get("metadata") or {}
    spec = lease.get("spec") or {}
    expires = expiry_of(lease)
    return {"namespace": meta.get("namespace"), "name": meta.get("name"), "holder": holder_of(lease),
            "acquired_at": spec.get("acquireTime"), "renewed_at": spec.get("renewTime"),
            "expires_at": format_time(expires) if expires is not None else None,
            "duration": spec.get("leaseDurationSeconds"), "transitions": spec.get("leaseTransitions") or 0,
            "resource_version": meta.get("resourceVersion") or ""}


class LeaseLock(object):
    """The lock's rules over a store of one Lease (``get``, ``create``, ``replace``, ``delete``) and a clock.

    ``store.get()`` returns the Lease as a dict or None; ``create(body)`` and ``replace(body)`` (whose
    ``metadata.resourceVersion`` is the precondition) return the Lease written and raise :class:`LeaseConflict`;
    ``delete(resource_version, uid)`` raises :class:`LeaseConflict` or :class:`LeaseNotFound`.
    """

    def __init__(self, store, namespace, name, holder, duration, clock=None, check_mode=False, wait_timeout=0.0,
                 wait_sleep=2.0):
        self.store = store
        self.namespace = namespace
        self.name = name
        self.holder = holder
        self.duration = int(duration)
        self.clock = clock or SYSTEM_CLOCK
        self.check_mode = check_mode
        self.wait_timeout = 0.0 if check_mode else float(wait_timeout)
        self.wait_sleep = float(wait_sleep)
        self.waited = 0.0

    @property
    def what(self):
        return "Lock %s/%s" % (self.namespace, self.name)

    def _body(self, current, acquire_time, transitions):
        now = format_time(self.clock.time())
        meta = {"name": self.name, "namespace": self.namespace,
                "labels": dict(((current or {}).get("metadata") or {}).get("labels") or {},
                               **{"app.kubernetes.io/managed-by": MANAGED_BY})}
        if current:
            meta["resourceVersion"] = current["metadata"].get("resourceVersion")
            for key in ("annotations", "uid"):
                if current["metadata"].get(key):
                    meta[key] = current["metadata"][key]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
                "spec": {"holderIdentity": self.holder, "leaseDurationSeconds": self.duration,
                         "acquireTime": acquire_time or now, "renewTime": now, "leaseTransitions": transitions}}

    def _write(self, kind, body):
        if self.check_mode:
            predicted = json.loads(json.dumps(body))
            if kind == "create":
                predicted["metadata"].pop("resourceVersion", None)
            return predicted
        return self.store.create(body) if kind == "create" else self.store.replace(body)

    def _attempt(self):
        """One try at taking the lock: (action, lease, the Lease before) or raises LockHeld with the current Lease."""
        current = self.store.get()
        if current is None:
            try:
                return "acquired", self._write("create", self._body(None, None, 0)), None
            except LeaseConflict:
                return None  # created by another run since it was read: look again
        holder = holder_of(current)
        spec = current.get("spec") or {}
        transitions = int(spec.get("leaseTransitions") or 0)
        try:
            if holder == self.holder:
                return "renewed", self._write("replace", self._body(current, spec.get("acquireTime"),
                                                                    transitions)), current
            if not holder or is_expired(current, self.clock.time()):
                return "taken_over", self._write("replace", self._body(current, None, transitions + 1)), current
        except LeaseConflict:
            return None  # changed since it was read (renewed, or taken by another run): look again
        raise LockHeld(self.held_message(current), current)

    def held_message(self, lease, waited=None):
        spec = lease.get("spec") or {}
        expires = expiry_of(lease)
        now = self.clock.time()
        if expires is None:
            until = "it has no expiry (no renewTime or leaseDurationSeconds): only its holder can release it"
        else:
            until = "it expires at %s (in %ds) unless renewed" % (format_time(expires), max(0, int(expires - now)))
        text = "%s is held by %s (taken at %s, renewed at %s); %s." % (
            self.what, holder_of(lease), spec.get("acquireTime") or "?", spec.get("renewTime") or "?", until)
        if waited is not None:
            text += " Waited %ds (wait_timeout %ss)." % (int(waited), _number(self.wait_timeout))
        return text

    def acquire(self):
        """Take, take over or renew the lock; waits for another holder up to ``wait_timeout``."""
        seen = {}

        def attempt():
            try:
                return self._attempt()
            except LockHeld as held:
                seen["lease"] = held.lease
                return None

        waiter = Waiter(timeout=self.wait_timeout, interval=self.wait_sleep, clock=self.clock)
        outcome = waiter.until(attempt, lambda obj: obj is not None, self.what,
                               describe=lambda obj: "taken" if obj else "held by %s" % holder_of(seen.get("lease")),
                               give_up=True)
        self.waited = round(waiter.total_seconds, 3)
        if outcome is None:
            lease = seen.get("lease") or self.store.get() or {}
            raise LockHeld(self.held_message(lease, self.waited), lease)
        return outcome

    def release(self):
        """Delete the Lease if this holder holds it: ("released", lease) or ("none", None); refuses another holder's."""
        for _attempt in range(5):
            current = self.store.get()
            if current is None:
                return "none", None
            holder = holder_of(current)
            if holder != self.holder:
                if not holder:
                    return "none", None
                expired = is_expired(current, self.clock.time())
                raise LockHeld("%s is held by %s, not by %s: only its holder releases it%s. Nothing was changed." % (
                    self.what, holder, self.holder,
                    " (it has expired: take it over with state=present)" if expired else ""), current)
            if self.check_mode:
                return "released", current
            try:
                self.store.delete(current["metadata"].get("resourceVersion"), current["metadata"].get("uid"))
            except LeaseNotFound:
                return "none", None
            except LeaseConflict:
                continue  # renewed meanwhile (by this holder in another task?): read again
            return "released", current
        raise LeaseError("%s changed on every attempt to release it; nothing was released." % self.what)


def _number(value):
    return int(value) if float(value).is_integer() else value


class KubeLeaseStore(object):
    """One Lease through the Kubernetes API (the CoordinationV1Api of the kubernetes client), as dicts."""

    def __init__(self, kubeconfig, context, namespace, name, timeout):
        try:
            api_client = k8s_config.new_client_from_config(config_file=kubeconfig, context=context)
        except Exception as exc:  # pylint: disable=broad-except
            raise LeaseError("Cannot load the kubeconfig %s: %s" % (kubeconfig or "(default)", exc))
        self.api = k8s_client.CoordinationV1Api(api_client)
        self.namespace = namespace
        self.name = name
        self.timeout = timeout

    def _call(self, what, method, *args, **kwargs):
        try:
            resp = method(*args, _preload_content=False, _request_timeout=self.timeout, **kwargs)
        except ApiException as exc:
            if exc.status == 404:
                raise LeaseNotFound(what)
            if exc.status == 409:
                raise LeaseConflict(what)
            raise LeaseError("Cannot %s Lease %s/%s: HTTP %s %s: %s" % (
                what, self.namespace, self.name, exc.status, exc.reason, _api_message(exc)))
        except Exception as exc:  # pylint: disable=broad-except
            raise LeaseError("Cannot %s Lease %s/%s: %s" % (what, self.namespace, self.name, exc))
        data = resp.data
        return json.loads(data) if data else None

    def get(self):
        try:
            return self._call("read", self.api.read_namespaced_lease, self.name, self.namespace)
        except LeaseNotFound:
            return None

    def create(self, body):
        try:
            return self._call("create", self.api.create_namespaced_lease, self.namespace, body)
        except LeaseNotFound:
            raise LeaseError("Cannot create Lease %s/%s: namespace %s does not exist." % (
                self.namespace, self.name, self.namespace))

    def replace(self, body):
        try:
            return self._call("update", self.api.replace_namespaced_lease, self.name, self.namespace, body)
        except LeaseNotFound:
            raise LeaseConflict("update")  # deleted since it was read: read again

    def delete(self, resource_version, uid):
        preconditions = {"resourceVersion": resource_version}
        if uid:
            preconditions["uid"] = uid
        self._call("delete", self.api.delete_namespaced_lease, self.name, self.namespace,
                   body={"preconditions": preconditions})


def _api_message(exc):
    try:
        return json.loads(exc.body).get("message") or exc.body
    except Exception:  # pylint: disable=broad-except
        return exc.body


def _diff(before, after):
    def view(lease):
        lock = summary(lease)
        return {"holder": lock.get("holder"), "expires_at": lock.get("expires_at")} if lock else {}
    return {"before": view(before), "after": view(after)}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kubeconfig=dict(type="path"),
            context=dict(type="str"),
            namespace=dict(type="str", default="default"),
            name=dict(type="str", required=True),
            holder=dict(type="str", required=True),
            duration=dict(type="int", default=900),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            wait_timeout=dict(type="float", default=0),
            wait_sleep=dict(type="float", default=2),
            timeout=dict(type="float", default=30),
        ),
        supports_check_mode=True,
    )
    params = module.params
    lock = None
    for option in ("name", "holder", "namespace"):
        if not (params[option] or "").strip():
            module.fail_json(msg="%s must not be empty." % option)
    if params["duration"] < 1:
        module.fail_json(msg="duration must be at least 1 second, not %s." % params["duration"])
    if params["wait_timeout"] < 0 or params["wait_sleep"] <= 0 or params["timeout"] <= 0:
        module.fail_json(msg="wait_timeout must be 0 or more, wait_sleep and timeout more than 0.")
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)

    try:
        store = KubeLeaseStore(params["kubeconfig"], params["context"], params["namespace"], params["name"],
                               params["timeout"])
        lock = LeaseLock(store, params["namespace"], params["name"], params["holder"], params["duration"],
                         check_mode=module.check_mode, wait_timeout=params["wait_timeout"],
                         wait_sleep=params["wait_sleep"])
        if params["state"] == "present":
            action, lease, before = lock.acquire()
            result = dict(changed=True, outcome=action, lease=summary(lease), waited=lock.waited)
            if action == "taken_over":
                result["previous_holder"] = holder_of(before)
            if module._diff:
                result["diff"] = _diff(before, lease)
        else:
            action, before = lock.release()
            result = dict(changed=action == "released", outcome=action, lease=summary(before), waited=0.0)
            if module._diff and before:
                result["diff"] = _diff(before, None)
    except LockHeld as held:
        module.fail_json(msg=held.message, lease=summary(held.lease), waited=lock.waited if lock else 0.0)
    except LeaseError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
