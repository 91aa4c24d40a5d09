# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The base class of every OVH module of keikolatam.gitops.

PRIVATE to this collection: not a public API, may change in any release.

A module subclasses :class:`OvhModule`, declares its ``argument_spec`` and
writes small verbs (find, create, update...). Everything that changes the
remote side goes through one :class:`Plan`:

- the plan holds the object as it is (``before``), the object as it will be
  (``after``, the *predicted* object) and the steps that make it so;
- ``changed`` is "the plan has steps"; check mode returns ``after`` without
  running a step; diff mode returns ``before``/``after`` with secrets redacted;
  apply runs the same steps. Check mode can therefore never disagree with an
  apply.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.keikolatam.gitops.plugins.module_utils._client import (
    OvhAmbiguousWrite,
    OvhApiError,
    OvhClient,
    OvhConfigError,
)
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import READY, SYSTEM_CLOCK, Waiter, WaitError

REDACTED = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"

# A create that answered 5xx (or timed out) and whose object is still not found after the grace period was not
# applied: it is sent again, at most this many more times.
CREATE_RESEND = 2

# Options every OVH module has (doc fragment keikolatam.gitops.ovh).
OVH_AUTH_ARGS = dict(
    endpoint=dict(type="str", fallback=(env_fallback, ["OVH_ENDPOINT"])),
    application_key=dict(type="str", no_log=True),
    application_secret=dict(type="str", no_log=True),
    consumer_key=dict(type="str", no_log=True),
    client_id=dict(type="str"),
    client_secret=dict(type="str", no_log=True),
    oauth2_token_url=dict(type="str", no_log=False),  # a URL, not a secret (validate-modules no-log-needed)
    api_max_attempts=dict(type="int", default=8),
    api_rate_limit=dict(type="float"),
    api_timeout=dict(type="int", default=60),
)
# The cloud project (doc fragment keikolatam.gitops.ovh.project).
OVH_PROJECT_ARGS = dict(
    service_name=dict(type="str", required=True, fallback=(env_fallback, ["OVH_CLOUD_PROJECT_SERVICE"])),
)
# Waiting (doc fragment keikolatam.gitops.ovh.wait).
OVH_WAIT_ARGS = dict(
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=1800),
    wait_sleep=dict(type="float", default=10.0),
)


def changed_fields(current, desired):
    """The part of ``desired`` that differs from ``current``.

    ``None`` in ``desired`` means "not set by the user: leave it alone".
    Dicts compare key by key (only the keys the user set); lists and scalars
    compare whole.
    """
    changes = {}
    current = current or {}
    for key, want in desired.items():
        if want is None:
            continue
        have = current.get(key)
        if isinstance(want, dict) and isinstance(have, dict):
            sub = changed_fields(have, want)
            if sub:
                changes[key] = sub
        elif not _same(have, want):
            changes[key] = want
    return changes


def _same(have, want):
    if isinstance(want, bool) or isinstance(have, bool):
        return have is want or have == want and type(have) is type(want)
    if isinstance(want, (int, float)) and isinstance(have, (int, float)):
        return have == want
    return have == want


def merge(base, patch):
    """A deep copy of ``base`` with ``patch`` applied (dicts merged, the rest replaced)."""
    out = copy.deepcopy(base) if base else {}
    for key, value in (patch or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def drop_none(value):
    """Recursively drop keys whose value is None (request bodies)."""
    if isinstance(value, dict):
        return dict((k, drop_none(v)) for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return [drop_none(v) for v in value]
    return value


class Step(object):
    """One write of a plan: what it does, in words, and the callable that does it."""

    def __init__(self, summary, run):
        self.summary = summary
        self.run = run


class Plan(object):
    """What a module is about to do: before, predicted after, and the steps."""

    def __init__(self, before):
        self.before = copy.deepcopy(before)
        self.after = copy.deepcopy(before)
        self.steps = []

    @property
    def changed(self):
        return bool(self.steps)

    def add(self, summary, run, patch=None, after=None):
        """Add a step. ``patch`` (merged) or ``after`` (replaces) predicts its effect."""
        self.steps.append(Step(summary, run))
        if after is not None:
            self.after = copy.deepcopy(after)
        elif patch:
            self.after = merge(self.after, patch)
        return self

    def delete(self, summary, run):
        self.steps.append(Step(summary, run))
        self.after = None
        return self

    @property
    def summaries(self):
        return [s.summary for s in self.steps]


class OvhModule(object):
    """Base of every OVH module: options, client, waiter, plan execution, one failure shape."""

    #: resource options of the module (merged with the shared ones)
    argument_spec = {}
    #: extra AnsibleModule keyword arguments (mutually_exclusive, required_if...)
    module_kwargs = {}
    #: the return key holding the resource (``cluster``, ``nodepool``...)
    resource_key = None
    #: whether the module works inside a cloud project (adds ``service_name``)
    project_scoped = True
    #: whether the module has ``wait``/``wait_timeout``/``wait_sleep``
    waits = True
    #: keys (at any depth) whose values never appear in a diff or result
    secret_fields = ("password", "secret", "token", "privateKey", "client-key-data")
    #: the one clock of the waiter, the client and the rate limit (tests replace it)
    clock = SYSTEM_CLOCK

    def __init__(self, argv_module=None):
        spec = {}
        spec.update(OVH_AUTH_ARGS)
        if self.project_scoped:
            spec.update(OVH_PROJECT_ARGS)
        if self.waits:
            spec.update(OVH_WAIT_ARGS)
        spec.update(self.argument_spec)
        kwargs = dict(supports_check_mode=True)
        kwargs.update(self.module_kwargs)
        self.module = argv_module or AnsibleModule(argument_spec=spec, **kwargs)
        self.params = self.module.params
        self.result = {"changed": False}
        self._client = None
        params = self.params
        self.waiter = Waiter(
            timeout=params.get("wait_timeout") or 1800,
            interval=params.get("wait_sleep") or 10.0,
            clock=self.clock,
            log=self.module.debug,
        )
        self.validate()

    # -- hooks for subclasses --------------------------------------------

    def validate(self):
        """Check the options before anything is sent; call :meth:`fail` on bad input."""

    def run(self):
        """By default: ``find()`` the object (None when there is none), then ``absent(current)`` or
        ``present(current)`` according to O(state). A module that works otherwise overrides this."""
        current = self.find()
        if self.params["state"] == "absent":
            self.absent(current)
        else:
            self.present(current)

    # -- client ------------------------------------------------------------

    @property
    def client(self):
        if self._client is None:
            try:
                self._client = OvhClient.from_params(self.params, clock=self.clock, log=self.module.debug,
                                                     warn=self.module.warn)
            except OvhConfigError as exc:
                self.fail(str(exc))
        return self._client

    @property
    def project_path(self):
        return "/cloud/project/%s" % self.params["service_name"]

    # -- plan --------------------------------------------------------------

    def execute(self, plan):
        """Report the plan (changed, diff) and apply it unless in check mode.

        Returns True when the steps ran.
        """
        if plan.changed:
            self.result["changed"] = True
            self.result.setdefault("actions", []).extend(plan.summaries)
        if self.module._diff:
            self.result["diff"] = {"before": self.redact(plan.before or {}),
                                   "after": self.redact(plan.after or {})}
        if not plan.changed or self.module.check_mode:
            return False
        for step in plan.steps:
            step.run()
        return True

    def redact(self, value):
        """A copy of ``value`` with secret fields replaced; also hides them from logs."""
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if self._is_secret_key(k) and isinstance(v, str) and v:
                    self.module.no_log_values.add(v)
                    out[k] = REDACTED
                else:
                    out[k] = self.redact(v)
            return out
        if isinstance(value, list):
            return [self.redact(v) for v in value]
        return value

    def _is_secret_key(self, key):
        low = str(key).lower()
        return any(s.lower() == low or low.endswith(s.lower()) for s in self.secret_fields)

    # -- finding -------------------------------------------------------------

    def find_by_id_or_name(self, path, plural, gone=("DELETING",)):
        """``path/<O(id)>`` when O(id) is set (None on 404), else the one object of the list at ``path`` named
        O(name) whose status is not in ``gone`` (None when there is none); fails when several have that name."""
        p = self.params
        if p["id"]:
            return self.client.get_or_none("%s/%s" % (path, p["id"]))
        found = [o for o in self.client.get(path) or [] if o.get("name") == p["name"] and o.get("status") not in gone]
        if len(found) > 1:
            self.fail("%d %s are named %r (%s); set id to choose one."
                      % (len(found), plural, p["name"], ", ".join(sorted(o["id"] for o in found))))
        return found[0] if found else None

    def pick(self, objects, ref, what, several, key="name", gone=("DELETING",)):
        """The one of ``objects`` whose ID is ``ref``, else the one whose ``key`` is ``ref`` (among those whose
        status is not in ``gone``). Fails when there is none, or several (``several``: the message, formatted
        with their number and ``ref``)."""
        found = [o for o in objects if str(o.get("id")) == ref] or [
            o for o in objects if o.get(key) == ref and o.get("status") not in gone]
        if len(found) > 1:
            self.fail(several % (len(found), ref))
        if not found:
            self.fail("No %s with the ID or %s %r in project %s." % (what, key, ref, self.params["service_name"]))
        return found[0]

    def pick_cloud_user(self, ref, hint):
        """The Public Cloud user (not being deleted) whose ID or description is ``ref``; ``hint`` tells what to
        do when several have that description."""
        users = [u for u in self.client.get("%s/user" % self.project_path) or []
                 if u.get("status") not in ("deleted", "deleting")]
        return self.pick(users, ref, "Public Cloud user", "%d users have the description %r; " + hint + ".",
                         key="description")

    # -- writes that may have been applied --------------------------------

    def create_grace(self):
        """Seconds to look for the object of an ambiguous create before sending it again: ten status polls,
        from 1 to 30 seconds."""
        return min(30.0, max(1.0, 10 * (self.params.get("wait_sleep") or 3.0)))

    def create_or_adopt(self, path, body, find, what, grace=None, resend=CREATE_RESEND, send=None, conflict=True,
                        adopt=None):
        """POST a create; after an ambiguous answer, look the object up and adopt it.

        A create that got a 5xx or timed out is not resent blindly: ``find()``
        is polled for ``grace`` seconds (default :meth:`create_grace`; the API
        may answer 404 for a short while after a create). With ``conflict``, a
        409 "already exists" is adopted the same way (one look-up). A create
        whose object is still not found after the grace period was not
        applied, and is sent again (at most ``resend`` more times).

        ``send()`` replaces the plain POST of ``body`` to ``path``.
        ``adopt(found, exc, earlier)`` is called with the object found after
        the error ``exc`` (``earlier``: the ambiguous answer of a create that
        was then sent again, or None); it warns and returns the object to
        return. By default, a warning says the object was adopted.
        """
        grace = self.create_grace() if grace is None else grace
        earlier = None
        sent = 0
        while True:
            sent += 1
            try:
                return send() if send is not None else self.client.post(path, body)
            except OvhApiError as exc:
                is_conflict = conflict and exc.is_conflict
                if not (isinstance(exc, OvhAmbiguousWrite) or is_conflict):
                    raise
                found = self.waiter.until_found(find, what, 0.0 if is_conflict else grace,
                                                interval=min(2.0, max(0.2, self.params.get("wait_sleep") or 2.0)))
                if found is not None:
                    if adopt is not None:
                        found = adopt(found, exc, earlier)
                    else:
                        self.module.warn("The create of %s answered %s %s; the %s was created anyway and has been "
                                         "adopted." % (what, exc.http_status or "", exc.message, what))
                    self.result["adopted"] = True
                    return found
                if is_conflict or sent > resend:
                    raise
                earlier = exc
                self.module.debug("The create of %s answered %s and the %s was not found after %ss: sending it "
                                  "again." % (what, exc.http_status, what, grace))

    def plan_delete(self, current, summary, path, fetch=None, model=None, what=None, **kwargs):
        """The plan that deletes ``current``: one step, :meth:`delete_step` (same arguments)."""
        return Plan(current).delete(summary, self.delete_step(path, fetch, model, what, **kwargs))

    def delete_step(self, path, fetch=None, model=None, what=None, prepare=None, missing_ok=False, deleted=None):
        """The step that DELETEs ``path``.

        Before the DELETE, ``prepare()`` runs; without it, and with ``fetch``
        (and the status ``model``), the object is waited for until no
        operation runs on it (the API refuses a DELETE meanwhile). After it,
        ``deleted()`` runs, then, with ``fetch`` and O(wait), the step waits
        until the object is gone. ``missing_ok``: a 404 on the DELETE means it
        is gone already.
        """
        def run():
            if prepare is not None:
                prepare()
            elif fetch is not None:
                self.wait_for("until_stable", fetch, model, what)
            if missing_ok:
                self.delete_if_exists(path)
            else:
                self.client.delete(path)
            if deleted is not None:
                deleted()
            if fetch is not None and self.params.get("wait"):
                self.wait_for("until_gone", fetch, model, what)
        return run

    def delete_if_exists(self, path):
        """DELETE ``path``; a 404 means it is gone already."""
        try:
            self.client.delete(path)
        except OvhApiError as exc:
            if not exc.is_not_found:
                raise

    # -- waits -------------------------------------------------------------

    def wait_for(self, how, fetch, model, what, **kwargs):
        """Run one waiter call (``until_ready``...) and record it in ``waited``."""
        obj = getattr(self.waiter, how)(fetch, model, what, **kwargs)
        self._record_wait()
        return obj

    def wait_unchanged(self, current, fetch, model, what):
        """With O(wait) and outside check mode, an object that needs no change but is not ready (an operation
        of an earlier task still runs on it, or it is in an error status) is waited for as a changed one is."""
        if current is None or not self.params.get("wait") or self.module.check_mode or model.phase(current) == READY:
            return current
        return self.wait_for("until_ready", fetch, model, what)

    def _record_wait(self):
        last = self.waiter.last or {}
        self.result["waited"] = {"seconds": round(self.waiter.total_seconds, 3), "status": last.get("status")}

    # -- ending ------------------------------------------------------------

    def finish(self):
        if self._client is not None:
            self.result["retries"] = self._client.stats["retries"]
        else:
            self.result["retries"] = 0
        self.module.exit_json(**self.result)

    def fail(self, msg, exc=None, **extra):
        result = dict(self.result)
        result.update(extra)
        if self._client is not None:
            result["retries"] = self._client.stats["retries"]
        if isinstance(exc, OvhApiError):
            result["failure"] = exc.to_failure()
        self.module.fail_json(msg=msg, **result)

    def main(self):
        try:
            self.run()
        except OvhApiError as exc:
            self.fail(self.describe_failure(exc), exc=exc)
        except WaitError as exc:
            self.result["waited"] = exc.to_result()
            if exc.obj is not None and self.resource_key:
                self.result[self.resource_key] = self.redact(exc.obj)
            self.fail(exc.message)
        except OvhConfigError as exc:
            self.fail(str(exc))
        except Exception as exc:  # pragma: no cover - a bug: report it with a trace
            self.fail("Unexpected error: %s" % exc, exception=traceback.format_exc())
        self.finish()

    @staticmethod
    def describe_failure(exc):
        text = "OVH API error: %s" % exc
        if exc.http_status == 403 and exc.error_code in ("INVALID_CREDENTIAL", "NOT_CREDENTIAL", "INVALID_KEY"):
            text += " Check the application key, application secret and consumer key."
        elif exc.http_status == 403 and exc.error_code == "NOT_GRANTED_CALL":
            text += " The consumer key is not allowed to call this route."
        return text
