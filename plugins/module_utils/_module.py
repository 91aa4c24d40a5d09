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
import datetime
import ipaddress
import json
import re
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
# Statuses of an object that is going away: it is no longer "the object with this name".
GOING_AWAY = ("DELETING", "DELETED", "deleting", "deleted")
# The API can answer 404 for a while right after the POST that created an object (FACTS.md; the Terraform provider
# retries a GET on 404 for up to 2 minutes after a create).
NOT_FOUND_AFTER_CREATE = 120.0

# What a refusal of the authentication layer says about the credentials (FACTS.md: the application key is checked
# first, then the consumer key, then the signature, which only the application secret can get wrong).
AUTH_HINTS = {
    "INVALID_KEY": "The endpoint does not know the application key: check application_key (and endpoint: an "
                   "application key belongs to one endpoint).",
    "INVALID_CREDENTIAL": "The consumer key is not valid (unknown, expired, revoked, or never validated): check "
                          "consumer_key; the application key was accepted.",
    "NOT_CREDENTIAL": "The consumer key is not valid (unknown, expired, revoked, or never validated): check "
                      "consumer_key; the application key was accepted.",
    "INVALID_SIGNATURE": "The application key and the consumer key were accepted but the signature was not: the "
                         "application secret is probably wrong (or belongs to another application key).",
    "QUERY_TIME_OUT": "The request's timestamp is too far from the API's clock: check the clock of this machine.",
    "NOT_GRANTED_CALL": "The consumer key is not allowed to call this route.",
}

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


_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_uuid(value):
    return bool(value) and _UUID_RE.match(str(value)) is not None


def plural(word):
    """``registry`` -> ``registries``, ``node pool`` -> ``node pools`` (for messages)."""
    return word[:-1] + "ies" if word.endswith("y") else word + "s"


def show(value):
    """A value in a message: strings as they are, None as ``unset``, the rest as JSON."""
    if value is None:
        return "unset"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def camel(name):
    """``update_policy`` -> ``updatePolicy`` (an option's name as the API's field)."""
    words = name.split("_")
    return words[0] + "".join(w.capitalize() for w in words[1:])


def camel_keys(options):
    """Options as the API's fields: ``{"min_nodes": 1}`` -> ``{"minNodes": 1}`` (None -> an empty dict)."""
    return dict((camel(k), v) for k, v in (options or {}).items())


def normalize_time(value):
    """``2:00`` / ``02:00`` / ``02:00:00`` -> ``02:00:00`` (the API's ``time`` format); None when invalid."""
    parts = str(value).strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        return None
    h, m = int(parts[0]), int(parts[1])
    s = int(parts[2]) if len(parts) == 3 else 0
    if not (0 <= h < 24 and 0 <= m < 60 and 0 <= s < 60):
        return None
    return "%02d:%02d:%02d" % (h, m, s)


def normalize_block(value):
    """An address or block -> the block in CIDR notation; None when invalid."""
    try:
        return str(ipaddress.ip_network(str(value).strip(), strict=False))
    except ValueError:
        return None


def parse_datetime(value):
    """An ISO 8601 date and time (``2025-01-31T12:00:00Z``) as a datetime; None when it is not one."""
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if "T" in str(value) else None


def stringify(value):
    """A value as the API's string maps hold it (booleans as ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Immutable(object):
    """A field that only a create sets, declared once in the module's ``immutable``; the base checks it before
    anything is planned (:meth:`OvhModule.check_immutable`), in check mode as in a real run.

    ``option`` is the module option and ``field`` the API field (or a callable reading the value from the
    object); ``hint`` says what to do instead (it ends the message). ``value(module)`` gives the wanted value
    when it is not the option's own, ``same(have, want)`` compares (default: equal, lists as sets), and
    ``applies(module)`` is False when the task changes the field another way (a reset, a replacement). A field
    the API does not return is not compared (an older API)."""

    def __init__(self, option, field, hint, value=None, same=None, applies=None):
        self.option = option
        self.field = field
        self.hint = hint
        self.value = value
        self.same = same
        self.applies = applies

    def change(self, module, obj, always=False):
        """``(have, want)`` when the task asks for another value than the object's, else None (``always``:
        whatever ``applies`` says)."""
        if not always and self.applies is not None and not self.applies(module):
            return None
        want = self.value(module) if self.value is not None else module.params.get(self.option)
        if want is None:
            return None
        if callable(self.field):
            have = self.field(obj)
        elif self.field in obj:
            have = obj[self.field]
        else:
            return None
        if self.same is not None:
            same = self.same(have, want)
        elif isinstance(want, list):
            same = sorted(have or []) == sorted(want)
        else:
            same = _same(have, want)
        return None if same else (have, want)


def drop_none(value):
    """Recursively drop keys whose value is None (request bodies)."""
    if isinstance(value, dict):
        return dict((k, drop_none(v)) for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return [drop_none(v) for v in value]
    return value


class Step(object):
    """One write of a plan: what it does, in words, and the callable that does it. The step that ``creates``
    the object returns it (the plan keeps it in ``created``: the read-back after the plan starts from it)."""

    def __init__(self, summary, run, creates=False):
        self.summary = summary
        self.run = run
        self.creates = creates


class Plan(object):
    """What a module is about to do: before, predicted after, and the steps."""

    def __init__(self, before):
        self.before = copy.deepcopy(before)
        self.after = copy.deepcopy(before)
        self.steps = []
        self.created = None

    @property
    def changed(self):
        return bool(self.steps)

    def add(self, summary, run, patch=None, after=None, creates=False):
        """Add a step. ``patch`` (merged) or ``after`` (replaces) predicts its effect; ``creates``: the step
        returns the object it created."""
        self.steps.append(Step(summary, run, creates))
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


def _objects(listing):
    return listing() if callable(listing) else listing


def _memo(listing):
    """``listing`` (a callable) called once at most."""
    if not callable(listing):
        return listing
    cache = []

    def get():
        if not cache:
            cache.append(listing() or [])
        return cache[0]
    return get


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
    #: what the module manages, in words, for messages ("Kubernetes cluster", "database service")
    what = "object"
    #: the option and the API field that name the object (messages, and the look-up by name)
    name_option = "name"
    name_field = "name"
    #: the status model of the object (waits before a write, the read-back with O(wait)); None: no status
    model = None
    #: the fields that only a create sets (:class:`Immutable`), checked before anything is planned
    immutable = ()
    #: whether the plan's before/after are dicts of result keys (the object under ``resource_key``, and others such
    #: as ``advanced_configuration``) instead of the object itself
    composite = False
    #: with O(state=absent), return the object as it was before its deletion
    return_deleted = True
    #: statuses of an object that a delete already runs on: O(state=absent) only waits until it is gone (O(wait))
    deleting = ()
    #: a 404 on the DELETE means that the object is gone already
    delete_missing_ok = False
    #: how the actions name the object (default: :attr:`what`)
    noun = None
    #: the field that holds the object's ID (its routes take it)
    id_field = "id"
    #: former names of ``resource_key`` that the result still carries (the same value)
    resource_aliases = ()
    #: options that, when set, must not be empty or blank (an empty name creates an object the next run does
    #: not find)
    not_empty = ()
    #: options that, when set, must be UUIDs: option -> what it is the ID of (for the message)
    uuid_options = {}
    #: options (``a.b`` for a suboption) that, when set, must have a format: option -> (normalize, what it must
    #: be); ``normalize(value)`` is the value the module uses, None when it is not of the format
    formats = {}
    #: combinations of options that are refused: (test(params), message), checked in order
    refused = ()
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
        self.check_input()

    def check_input(self):
        """Every check of the input itself, before any request: :meth:`check_options`, :meth:`validate`, then the
        :attr:`formats` and :attr:`refused` combinations that :meth:`validate` did not check itself."""
        self.check_options()
        self.validate()
        self.check_formats()
        self.check_refused()

    def check_options(self):
        """The rules every module declares (:attr:`not_empty`, :attr:`uuid_options`), before :meth:`validate`
        (:attr:`formats` and :attr:`refused` come after it)."""
        p = self.params
        for opt in self.not_empty:
            if p.get(opt) is not None and not str(p[opt]).strip():
                self.fail("%s must not be empty." % opt)
        for opt, what in sorted(self.uuid_options.items()):
            if p.get(opt) is not None and not is_uuid(p[opt]):
                self.fail("%s must be a UUID (%s), not %r." % (opt, what, p[opt]))

    def check_formats(self, names=None):
        """The :attr:`formats` of the options ``names`` (default: all), each checked once: the base checks those
        that :meth:`validate` did not, after it."""
        checked = self.__dict__.setdefault("_checked", set())
        for opt in sorted(self.formats) if names is None else names:
            if opt in checked:
                continue
            checked.add(opt)
            normalize, what = self.formats[opt]
            parent, key = self.params, opt
            if "." in opt:
                head, key = opt.split(".", 1)
                parent = self.params.get(head) or {}
            if parent.get(key) is not None:
                value = normalize(parent[key])
                if value is None:
                    self.fail("%s must be %s, got %r." % (opt, what, parent[key]))
                parent[key] = value

    def check_refused(self):
        """The :attr:`refused` combinations, once (after :meth:`validate`, unless it checked them)."""
        checked = self.__dict__.setdefault("_checked", set())
        if "refused" not in checked:
            checked.add("refused")
            for test, message in self.refused:
                if test(self.params):
                    self.fail(message)

    # -- hooks for subclasses --------------------------------------------

    def validate(self):
        """Check the options before anything is sent (their shape, lengths, bounds, options that need another
        option); call :meth:`fail` on bad input."""

    def prepare(self):
        """Find what the object belongs to (a cluster, a service, a network...); fails when it is not there."""

    #: the route that lists the objects (as objects) and creates them; ``<collection_path>/<ID>`` is one object
    collection_path = None

    def find(self):
        """The object as it is, or None. By default: the object of :attr:`collection_path` whose ID is O(id), else
        the one named by :attr:`name_option` (:meth:`find_own`)."""
        return self.find_own(lambda: self.client.get(self.collection_path) or [],
                             get=lambda oid: self.client.get_or_none(self.item_path(oid)))

    def preflight(self, current):
        """The API's rules that need a request (its capabilities: flavors, versions, regions; the limits it
        enforces; names already used), checked before anything is planned. ``current``: the object or None."""

    def fields(self, options, base=None):
        """The API's fields of ``options`` (``update_policy`` -> ``updatePolicy``) with their values; an option
        that is not set has the value of ``base`` (an object), else None (leave alone)."""
        return dict((camel(o), self.params[o] if self.params[o] is not None else (base or {}).get(camel(o)))
                    for o in options)

    def plan_present(self, current):
        return self.plan_create() if current is None else self.plan_update(current)

    def plan_create(self):
        raise NotImplementedError

    def plan_update(self, current):
        """By default nothing changes in place (the API has no route for it; :attr:`immutable` says so)."""
        return Plan(current)

    def plan_absent(self, current):
        """By default: wait until nothing runs on the object, DELETE it, and (with O(wait)) until it is gone."""
        if current is None:
            return Plan(None)
        path = self.item_path(current[self.id_field])
        fetch = self.fetcher(path) if self.model is not None else None
        if current.get("status") in self.deleting:
            if self.params.get("wait") and not self.module.check_mode:
                self.wait_for("until_gone", fetch, self.model, self.label(current))
            return Plan(None)
        return self.plan_delete(current, "delete %s %s" % (self.noun or self.what, self.label(current)), path, fetch,
                                self.model, self.label(current), missing_ok=self.delete_missing_ok)

    def run(self):
        """Every resource module: :meth:`prepare` (what the object belongs to), :meth:`find` the object, check
        the fields that cannot change (:attr:`immutable`) and the API's rules (:meth:`preflight`), and only then
        plan, so that check mode and a real run refuse the same input with the same message, before any write;
        then :meth:`apply` the plan (the read-back is there)."""
        self.prepare()
        current = self.find()
        present = self.params.get("state", "present") != "absent"
        if present and current is not None:
            self.check_immutable(current)
        self.preflight(current)
        self.apply(self.plan_present(current) if present else self.plan_absent(current), current)

    def apply(self, plan, current):
        """Execute ``plan`` and set the result: the predicted object in check mode (and when nothing changes),
        else the object read back (:meth:`read_back`); after a delete, the object as it was."""
        key = self.resource_key
        applied = self.execute(plan)
        if plan.changed and plan.after is None:
            if self.return_deleted and current is not None:
                self.result[key] = current
            return
        if not applied:
            after = self.redact(plan.after)
            if not plan.changed and current is not None and self.model is not None:
                fetch = self.fetcher(self.item_path(current[self.id_field]))
                fresh = self.redact(self.wait_unchanged(current, fetch, self.model, self.label(current)))
                if self.composite:
                    after[key] = fresh
                else:
                    after = fresh
            for name, value in ((after or {}).items() if self.composite else [(key, after)]):
                if value is not None:
                    self.result[name] = value
        else:
            self.result[key] = self.read_back(plan.created or current, created=plan.created is not None)
            self.result.update(self.read_parts(self.result[key]))
        if self.params.get("state", "present") != "absent" and self.result.get(key) is not None:
            self.result.update(self.decorate(self.result[key]))

    def item_path(self, oid):
        """The path of one object (its GET, PUT and DELETE); None when it has no route of its own."""
        return None if self.collection_path is None else "%s/%s" % (self.collection_path, oid)

    def read_back(self, obj, created=False):
        """The object after the plan ran, read again (with O(wait) and a :attr:`model`, once it is ready)."""
        oid = (obj or {}).get(self.id_field)
        path = self.item_path(oid) if oid is not None else None
        if path is None:
            return obj
        fetch = self.fetcher(path)
        grace = NOT_FOUND_AFTER_CREATE if created else 0.0  # the API may answer 404 for a while after a create
        if self.model is not None and self.params.get("wait"):
            fresh = self.wait_for("until_ready", fetch, self.model, self.label(obj), appear_within=grace)
        else:
            fresh = self.waiter.until_found(fetch, self.label(obj), grace) or obj
        if isinstance(obj.get("password"), str) and not fresh.get("password"):
            fresh = dict(fresh, password=obj["password"])  # shown once, by the create or the reset
        return fresh

    def read_parts(self, obj):
        """The other keys of a :attr:`composite` result after the plan ran (read again)."""
        return {}

    def decorate(self, obj):
        """Result keys derived from the final object (predicted or read back), with O(state=present)."""
        return {}

    def label(self, obj=None):
        """How messages name the object: its :attr:`name_field`, else the option that names it, else its ID."""
        p = self.params
        for value in ((obj or {}).get(self.name_field), p.get(self.name_option), p.get("id"), (obj or {}).get("id")):
            if value not in (None, ""):
                return str(value)
        return "?"

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
            answer = step.run()
            if step.creates:
                plan.created = answer
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

    def fetcher(self, path):
        """A fetch function for the waiter and the read-back: GET ``path``, None on a 404."""
        return lambda: self.client.get_or_none(path)

    def wait_created(self, oid, what=None):
        """Wait until the object ``oid``, just created, is ready: the API may answer 404 for a while after the
        POST (NOT_FOUND_AFTER_CREATE)."""
        return self.wait_for("until_ready", self.fetcher(self.item_path(oid)), self.model, what or self.label(),
                             appear_within=NOT_FOUND_AFTER_CREATE)

    def find_by_id_or_name(self, listing, oid=None, name=None, get=None, what=None, option="id", key=None,
                           gone=GOING_AWAY):
        """The object whose ID is ``oid`` (``get(oid)``; without ``get``, the one of ``listing`` with that ID),
        else the one of ``listing`` whose ``key`` (default :attr:`name_field`) is ``name``. Objects whose status
        is in ``gone`` do not count. None when there is none; when several have the name, fails with the one
        message of every module (set ``option`` to the ID of one). ``listing``: the objects, or a callable."""
        what = what or self.what
        key = key or self.name_field
        if oid is not None:
            obj = get(oid) if get is not None else next(
                (o for o in _objects(listing) if str(o.get("id")) == str(oid)), None)
            return None if obj is None or obj.get("status") in gone else obj
        found = [o for o in _objects(listing) if o.get(key) == name and o.get("status") not in gone]
        if len(found) > 1:
            self.fail("%d %s have the %s %s (%s); set %s to the ID of the one to use."
                      % (len(found), plural(what), key, name, ", ".join(sorted(str(o.get("id")) for o in found)),
                         option))
        return found[0] if found else None

    def find_own(self, listing, get=None, gone=GOING_AWAY):
        """:meth:`find` of a module whose object is named by O(id) or :attr:`name_option`: with O(state=present),
        an O(id) that matches nothing fails (the API cannot create an object with a given ID)."""
        p = self.params
        obj = self.find_by_id_or_name(listing, oid=p.get("id"), name=p.get(self.name_option), get=get, gone=gone)
        if obj is None and p.get("id") is not None and p.get("state", "present") != "absent":
            self.fail("No %s with the ID %s in project %s; to create one, leave id unset and set %s."
                      % (self.what, p["id"], p["service_name"], self.name_option))
        return obj

    def resolve(self, ref, what, option, listing, get=None, key="name", is_id=None, gone=GOING_AWAY):
        """What the object belongs to (a cluster, a service, a network, a user...), by ID or by ``key``. Fails
        when there is none, or several.

        ``listing`` (the objects, or a callable, called once at most) is searched by ``key``; ``get(oid)`` reads
        one object by ID (None on a 404). ``is_id(ref)`` says whether ``ref`` can be an ID at all; by default,
        with ``get``, only a UUID is (a GET is not spent on a name), without it any ``ref`` is (the listing is
        searched for the ID too). An ID that ``get`` does not find is looked for by ``key`` in the listing (an
        object may be named like an ID), so an ID found costs ``get`` alone and never the listing."""
        listing = _memo(listing)
        if is_id is None:
            is_id = is_uuid if get is not None else (lambda _ref: True)
        obj = None
        if is_id(ref):
            obj = self.find_by_id_or_name(listing, oid=ref, get=get, what=what, gone=())
        if obj is None:
            obj = self.find_by_id_or_name(listing, name=ref, what=what, option=option, key=key, gone=gone)
        if obj is None:
            self.fail("No %s with the ID or %s %s (not found in project %s)."
                      % (what, key, ref, self.params["service_name"]))
        return obj

    def pick_cloud_user(self, ref, option):
        """The Public Cloud user whose ID or description is ``ref`` (O(option))."""
        return self.resolve(ref, "Public Cloud user", option, lambda: self.client.get("%s/user" % self.project_path)
                            or [], key="description")

    # -- fields that cannot change ----------------------------------------------

    def immutable_changes(self, current, always=False):
        """``(rule, have, want)`` for each :attr:`immutable` field that the task asks to change."""
        changes = []
        for rule in self.immutable:
            change = rule.change(self, current, always)
            if change is not None:
                changes.append((rule,) + change)
        return changes

    def check_immutable(self, current, changes=None):
        """Fail, before anything is planned, when the task asks to change a field that cannot change."""
        changes = self.immutable_changes(current) if changes is None else changes
        if not changes:
            return
        name = self.label(current)
        clauses = ["The %s of %s %s cannot be updated (it is %s, the task asks for %s)"
                   % (rule.option, self.what, name, show(have), show(want)) for rule, have, want in changes]
        hints = []
        for rule, _have, _want in changes:
            if rule.hint not in hints:
                hints.append(rule.hint)
        self.fail("%s; %s. Nothing was changed." % ("; ".join(clauses), "; ".join(hints)))

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

    def create_step(self, body, find, what, path=None, wait=False, before=None):
        """The step that creates the object (``plan.add(..., creates=True)``): ``before()``, then
        :meth:`create_or_adopt` of ``body`` at ``path`` (default :attr:`collection_path`; ``find()`` looks the
        object up), then, with ``wait``, :meth:`wait_created` (``what`` names it in messages)."""
        def run():
            if before is not None:
                before()
            created = self.create_or_adopt(path or self.collection_path, body, find, what)
            if wait:
                self.wait_created(created[self.id_field], body.get(self.name_field))
            return created
        return run

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

    def when_stable(self, oid, call):
        """``call()`` once nothing runs on the object ``oid`` (the API refuses a write meanwhile)."""
        if self.model is not None:
            self.wait_for("until_stable", self.fetcher(self.item_path(oid)), self.model, self.label())
        return call()

    def plan_put(self, plan, oid, body, summary, suffix="", part=None, wait=False, what=None):
        """Add to ``plan`` the step that PUTs ``body`` (:meth:`put`); it predicts ``body`` merged into the object,
        or, with ``part``, ``body`` as the object's field ``part`` (a route that takes one part whole)."""
        return plan.add(summary, lambda: self.put(oid, body, suffix, wait, what),
                        patch={part: body} if part else body)

    def put(self, oid, body, suffix="", wait=False, what=None):
        """PUT ``body`` to the object ``oid`` (or to its ``suffix`` route) once nothing runs on it; with ``wait``
        (and O(wait)), wait until it is ready again (``what`` names it in messages)."""
        answer = self.when_stable(oid, lambda: self.client.put(self.item_path(oid) + suffix, body))
        if wait and self.params.get("wait"):
            self.wait_for("until_ready", self.fetcher(self.item_path(oid)), self.model, what or self.label())
        return answer

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

    def _aliased(self, result):
        for alias in self.resource_aliases:
            if self.resource_key in result:
                result[alias] = result[self.resource_key]
        return result

    def finish(self):
        if self._client is not None:
            self.result["retries"] = self._client.stats["retries"]
        else:
            self.result["retries"] = 0
        self.module.exit_json(**self._aliased(self.result))

    def fail(self, msg, exc=None, **extra):
        result = self._aliased(dict(self.result))
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
        """The message of an API failure, with which credential is probably wrong when the authentication layer
        refused the request (it checks the application key, then the consumer key, then the signature)."""
        text = "OVH API error: %s" % exc
        hint = AUTH_HINTS.get(exc.error_code)
        if exc.error_class == "OAuth2FailureError" and exc.http_status in (400, 401, 403):
            hint = ("The OAuth2 token endpoint refused the service account: client_id or client_secret is wrong "
                    "(or the account was deleted).")
        return "%s %s" % (text, hint) if hint else text
