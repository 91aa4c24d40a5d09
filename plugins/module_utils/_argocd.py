# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A small client of the Argo CD API server's REST API, and the shape of an application in results.

PRIVATE to this collection: not a public API, may change in any release.

- :class:`ArgoCDClient`: a session from ``POST /api/v1/session`` (username and password) or a bearer token,
  an explicit timeout on every request, retries with jittered backoff on connection errors and 5xx (a
  bounded number of attempts), none on 401/403; one error type, :class:`ArgoCDError`, whose message never
  holds the password or the token.
- :func:`summarize`: the ``application`` result of the modules: sync and health, the synced revision, the
  last operation, the conditions, the history and the LIVE state of each Deployment (its container images,
  health and message) from ``GET /api/v1/applications/{name}/managed-resources``.
- :class:`ApplicationTarget`: what a wait of ``argocd_application_sync`` waits for (Synced and Healthy, at a
  revision), as a status model of the one waiter (:mod:`._waiter`); :class:`AllApplications`: several of them
  waited for at once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import random
import re
import socket

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import quote, urlencode, urlparse
from ansible.module_utils.urls import open_url

try:  # Python 3
    from http.client import HTTPException
except ImportError:  # pragma: no cover - Python 2
    from httplib import HTTPException  # pylint: disable=import-error

from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import (
    ERROR, PENDING, READY, SYSTEM_CLOCK, StatusModel)

# The connection options of every Argo CD module (and of group/keikolatam.gitops.argocd's module_defaults).
CONNECTION_ARGS = dict(
    api_url=dict(type="str", required=True),
    username=dict(type="str", default="admin"),
    password=dict(type="str", no_log=True),
    token=dict(type="str", no_log=True),
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="int", default=30),
)
# A token wins over a password (both may come from module_defaults and a task).
CONNECTION_KWARGS = dict(required_one_of=[("password", "token")])

# metadata.name of an Application: a DNS-1123 subdomain.
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
SHA_RE = re.compile(r"^[0-9a-f]{7,40}$")
REFRESH = ("no", "normal", "hard")
RUNNING_PHASES = ("Running", "Terminating")
FAILED_PHASES = ("Failed", "Error")
WORKLOAD_KINDS = ("Deployment",)
# "another operation is already in progress" (gRPC FailedPrecondition): a sync already runs.
IN_PROGRESS = "another operation is already in progress"


class ArgoCDError(Exception):
    """A refused or failed request; ``status`` is the HTTP status (None for a connection error)."""

    def __init__(self, message, status=None, code=None, method=None, path=None, server_message=None):
        super(ArgoCDError, self).__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.method = method
        self.path = path
        self.server_message = server_message

    @property
    def in_progress(self):
        return IN_PROGRESS in (self.server_message or "")

    def to_result(self):
        return {"status": self.status, "code": self.code, "message": self.server_message, "method": self.method,
                "path": self.path}


class ArgoCDNotFound(ArgoCDError):
    """The application does not exist (or the user may not see it: Argo CD answers 403 for both)."""


def validate_connection(params):
    """The problems of the connection options (a list of messages), before any request."""
    problems = []
    url = params.get("api_url") or ""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        problems.append("api_url must be an http:// or https:// URL of the Argo CD API server, got %r" % url)
    elif parsed.username or parsed.password:
        problems.append("api_url must not hold credentials: use the username and password (or token) options")
    elif parsed.query or parsed.fragment:
        problems.append("api_url must not have a query or a fragment, got %r" % url)
    if params.get("timeout") is not None and params["timeout"] <= 0:
        problems.append("timeout must be a number of seconds greater than 0, got %s" % params["timeout"])
    if params.get("password") is not None and not params.get("username"):
        problems.append("username must not be empty when password is given")
    for key in ("password", "token"):
        if params.get(key) is not None and params[key] == "":
            problems.append("%s must not be empty" % key)
    return problems


def validate_name(name, option="name"):
    if not name or not NAME_RE.match(name):
        return ["%s must be the name of an Argo CD Application (a DNS-1123 subdomain: lowercase letters, digits, "
                "'-' and '.', at most 253 characters), got %r" % (option, name)]
    return []


def app_names(params):
    """The applications of a module's ``name`` or ``names`` option, and the problems of those names."""
    if params.get("names") is None:
        return [params.get("name")], validate_name(params.get("name"))
    names = params["names"]
    problems = []
    if not names:
        problems.append("names must name at least one Argo CD Application")
    for name in names:
        problems.extend(validate_name(name, option="names"))
    seen = set()
    twice = sorted(set(n for n in names if n in seen or seen.add(n)))
    if twice:
        problems.append("names lists %s more than once" % ", ".join(twice))
    return list(names), problems


class ArgoCDClient(object):
    """The Argo CD API server at ``api_url`` (``https://argocd.example.com``, or with a root path).

    ``clock`` (a :class:`._waiter.Clock`), ``rng`` and ``opener`` (``open_url``'s signature) are injectable.
    ``retries`` counts the requests sent again.
    """

    def __init__(self, api_url, username=None, password=None, token=None, validate_certs=True, timeout=30,
                 max_attempts=4, backoff_base=0.5, backoff_max=8.0, clock=None, rng=None, opener=None, log=None):
        self.api_url = api_url.rstrip("/")
        self.username = username
        self._password = password
        self._token = token
        self._session = None
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.clock = clock or SYSTEM_CLOCK
        self._rng = rng or random.Random()
        self._open = opener or open_url
        self._log = log
        self.retries = 0

    # -- the API -----------------------------------------------------------------------------------

    def login(self):
        """A session token (``POST /api/v1/session``), unless a bearer token was given."""
        if self._token:
            return self._token
        if self._session is None:
            try:
                answer = self._call("POST", "/api/v1/session", {"username": self.username,
                                                                "password": self._password}, auth=False)
            except ArgoCDError as exc:
                if exc.status in (401, 403):
                    raise ArgoCDError(
                        "Argo CD at %s refused the username and password of user %r (%s %s: %s %s); check the "
                        "username and password options" % (self.api_url, self.username, exc.method, exc.path,
                                                           exc.status, exc.server_message),
                        status=exc.status, code=exc.code, method=exc.method, path=exc.path,
                        server_message=exc.server_message)
                raise
            self._session = (answer or {}).get("token")
            if not self._session:
                raise ArgoCDError("Argo CD at %s answered POST /api/v1/session without a token" % self.api_url,
                                  method="POST", path="/api/v1/session")
        return self._session

    def request(self, method, path, body=None, query=None):
        """An authenticated request; a session that expired meanwhile is renewed once."""
        self.login()
        try:
            return self._call(method, path, body, query)
        except ArgoCDError as exc:
            if exc.status == 401 and self._token is None and self._session is not None:
                self._session = None
                self.login()
                return self._call(method, path, body, query)
            raise

    def application(self, name, refresh=None):
        """``GET /api/v1/applications/{name}`` (``?refresh=normal|hard``: the server returns it refreshed)."""
        query = {"refresh": refresh} if refresh and refresh != "no" else None
        return self._app_call(name, "GET", "", query=query)

    def sync(self, name, revision=None, prune=False, strategy=None, dry_run=False):
        """``POST /api/v1/applications/{name}/sync``; returns the application with its new ``operation``."""
        body = {"name": name, "prune": bool(prune), "dryRun": bool(dry_run)}
        if revision:
            body["revision"] = revision
        if strategy == "apply":
            body["strategy"] = {"apply": {"force": False}}
        elif strategy == "hook":
            body["strategy"] = {"hook": {}}
        return self._app_call(name, "POST", "/sync", body=body)

    def managed_resources(self, name):
        """The managed resources with their live state (``liveState`` is a JSON string)."""
        return (self._app_call(name, "GET", "/managed-resources") or {}).get("items") or []

    def _app_call(self, name, method, suffix, body=None, query=None):
        path = "/api/v1/applications/%s%s" % (quote(name, safe=""), suffix)
        try:
            return self.request(method, path, body, query)
        except ArgoCDError as exc:
            if exc.status == 404:
                raise ArgoCDNotFound("Argo CD application %s not found (%s %s: 404 %s)" % (
                    name, method, path, exc.server_message), status=404, code=exc.code, method=method, path=path,
                    server_message=exc.server_message)
            if exc.status == 403 and method == "GET" and not suffix:
                # Argo CD answers "permission denied" for an application that does not exist, so that a
                # user cannot tell which names exist.
                raise ArgoCDNotFound(
                    "Argo CD application %s not found, or %s may not read it (Argo CD answers 403 %s for both)" % (
                        name, self._who(), exc.server_message), status=403, code=exc.code, method=method, path=path,
                    server_message=exc.server_message)
            if exc.status == 403:
                raise ArgoCDError("%s may not %s Argo CD application %s (%s %s: 403 %s)" % (
                    self._who(), "sync" if suffix == "/sync" else "read the resources of", name, method, path,
                    exc.server_message), status=403, code=exc.code, method=method, path=path,
                    server_message=exc.server_message)
            raise

    def _who(self):
        return "the token's user" if self._token else "user %r" % self.username

    # -- machinery -----------------------------------------------------------------------------------

    def _call(self, method, path, body=None, query=None, auth=True):
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._send(method, path, body, query, auth)
            except ArgoCDError as exc:
                retry = exc.status is None or exc.status >= 500
                if not retry or attempt >= self.max_attempts:
                    if retry and attempt > 1:
                        exc.message = "%s (after %d attempts)" % (exc.message, attempt)
                        exc.args = (exc.message,)
                    raise
                ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
                delay = ceiling / 2.0 + self._rng.uniform(0, ceiling / 2.0)
                self.retries += 1
                if self._log:
                    self._log("Argo CD API %s %s: %s; retry %d/%d in %.2fs" % (
                        method, path, exc.status or "no answer", attempt, self.max_attempts - 1, delay))
                self.clock.sleep(delay)

    def _send(self, method, path, body, query, auth):
        url = self.api_url + path + ("?" + urlencode(query) if query else "")
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = "Bearer %s" % (self._token or self._session)
        try:
            resp = self._open(url, data=data, headers=headers, method=method, validate_certs=self.validate_certs,
                              timeout=self.timeout, follow_redirects="safe")
            raw = resp.read()
        except HTTPError as exc:
            text = self._read_error(exc)
            server_message = self._scrub(self._message_of(text))
            raise ArgoCDError("Argo CD API %s %s answered %s: %s" % (method, path, exc.code, server_message),
                              status=exc.code, code=self._code_of(text), method=method, path=path,
                              server_message=server_message)
        except (URLError, socket.timeout, HTTPException, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            hint = ""
            if "CERTIFICATE_VERIFY_FAILED" in str(reason):
                hint = " (the server's TLS certificate is not trusted: add its CA, or validate_certs: false)"
            raise ArgoCDError("Argo CD API at %s not reachable (%s %s): %s%s" % (
                self.api_url, method, path, self._scrub(str(reason)) or type(exc).__name__, hint),
                method=method, path=path, server_message=self._scrub(str(reason)))
        if not raw:
            return {}
        try:
            return json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
        except ValueError:
            raise ArgoCDError("Argo CD API %s %s answered something that is not JSON (is %s the API server?)" % (
                method, path, self.api_url), method=method, path=path)

    @staticmethod
    def _read_error(exc):
        try:
            raw = exc.read()
        except Exception:  # pylint: disable=broad-except
            return ""
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        return raw or ""

    @staticmethod
    def _message_of(text):
        try:
            doc = json.loads(text)
        except ValueError:
            return (text or "").strip()[:300] or "(no message)"
        if isinstance(doc, dict):
            return str(doc.get("message") or doc.get("error") or text)[:1000]
        return str(text)[:300]

    @staticmethod
    def _code_of(text):
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        return doc.get("code") if isinstance(doc, dict) else None

    def _scrub(self, text):
        for secret in (self._password, self._token, self._session):
            if secret and len(secret) >= 4:
                text = text.replace(secret, "********")
        return text


# -- results --------------------------------------------------------------------------------------------

def _status(app):
    return (app or {}).get("status") or {}


def operation_state(app):
    return _status(app).get("operationState") or {}


def operation_running(app):
    """An operation is requested (``operation``) or still runs."""
    return bool((app or {}).get("operation")) or operation_state(app).get("phase") in RUNNING_PHASES


def synced_revision(app):
    sync = _status(app).get("sync") or {}
    return sync.get("revision") or (sync.get("revisions") or [None])[0]


def operation_revision(app):
    result = operation_state(app).get("syncResult") or {}
    return result.get("revision") or (result.get("revisions") or [None])[0]


def revision_matches(actual, wanted):
    """A full sha, or an abbreviation of it (at least 7 hex digits)."""
    return bool(actual) and bool(wanted) and actual.lower().startswith(wanted.lower())


def _live_workloads(app, managed):
    """{name: {images, health, message}} of each Deployment: images from its live state, health from Argo CD."""
    health = {}
    for res in _status(app).get("resources") or []:
        if res.get("kind") in WORKLOAD_KINDS:
            health[res.get("name")] = res.get("health") or {}
    out = {}
    for item in managed or []:
        if item.get("kind") not in WORKLOAD_KINDS:
            continue
        name = item.get("name")
        live = item.get("liveState")
        if isinstance(live, str):
            try:
                live = json.loads(live) if live and live != "null" else None
            except ValueError:
                live = None
        spec = ((((live or {}).get("spec") or {}).get("template") or {}).get("spec")) or {}
        images = [c.get("image") for c in spec.get("containers") or [] if c.get("image")]
        known = health.get(name) or {}
        out[name] = {"images": images, "health": known.get("status") or ("Missing" if live is None else None),
                     "message": known.get("message"), "live": live is not None}
    for name, h in health.items():  # a Deployment of the target state that is not live yet
        out.setdefault(name, {"images": [], "health": h.get("status"), "message": h.get("message"), "live": False})
    return out


def summarize(app, managed=None):
    """The ``application`` result of the modules."""
    status = _status(app)
    spec = (app or {}).get("spec") or {}
    source = spec.get("source") or (spec.get("sources") or [{}])[0]
    op = operation_state(app)
    return {
        "name": ((app or {}).get("metadata") or {}).get("name"),
        "project": spec.get("project"),
        "target_revision": source.get("targetRevision"),
        "auto_sync": bool((spec.get("syncPolicy") or {}).get("automated")),
        "sync_status": (status.get("sync") or {}).get("status"),
        "health_status": (status.get("health") or {}).get("status"),
        "health_message": (status.get("health") or {}).get("message"),
        "revision": synced_revision(app),
        "operation_running": operation_running(app),
        "operation_phase": op.get("phase"),
        "operation_message": op.get("message"),
        "operation_revision": operation_revision(app),
        "conditions": [{"type": c.get("type"), "message": c.get("message")} for c in status.get("conditions") or []],
        "images": list((status.get("summary") or {}).get("images") or []),
        "workloads": _live_workloads(app, managed),
        "history": [{"id": h.get("id"), "revision": h.get("revision"), "deployed_at": h.get("deployedAt")}
                    for h in status.get("history") or []],
    }


def unhealthy(summary):
    """'<Deployment>: <health>: <message>' of each workload that is not Healthy."""
    out = []
    for name in sorted(summary.get("workloads") or {}):
        w = summary["workloads"][name]
        if w.get("health") != "Healthy":
            message = ": %s" % w["message"] if w.get("message") else ""
            out.append("Deployment %s: %s%s" % (name, w.get("health") or "unknown", message))
    return out


def describe(app):
    """One line of an application's state, for wait messages."""
    status = _status(app)
    op = operation_state(app)
    text = "sync %s, health %s, revision %s" % (
        (status.get("sync") or {}).get("status"), (status.get("health") or {}).get("status"),
        (synced_revision(app) or "-")[:12])
    if operation_running(app):
        text += ", operation Running"
    elif op.get("phase"):
        text += ", last operation %s" % op["phase"]
    if op.get("phase") in FAILED_PHASES and op.get("message"):
        text += " (%s)" % op["message"][:300]
    return text


def operation_key(app):
    op = operation_state(app)
    return (op.get("startedAt"), op.get("finishedAt"), op.get("phase"))


def reconciled_after_operation(app):
    """The status was compared again after the last operation ended (else it is the state of before it)."""
    finished = operation_state(app).get("finishedAt")
    reconciled = _status(app).get("reconciledAt")
    return not finished or not reconciled or reconciled >= finished


def needs_sync(app, revision=None, wait_for_revision=None):
    """Whether a sync would change anything: OutOfSync, or not at the revision asked for."""
    if (_status(app).get("sync") or {}).get("status") != "Synced":
        return True
    current = synced_revision(app)
    for wanted in (revision, wait_for_revision):
        if wanted and not revision_matches(current, wanted):
            return True
    return False


class ApplicationTarget(StatusModel):
    """What the wait of a sync waits for, as a status model of the one waiter.

    Ready: no operation runs, Synced and Healthy (and at ``revision``: the synced revision and the last
    operation's). With ``sync_revision`` (a sync to a given commit, which Argo CD still compares with the
    application's targetRevision, so it may stay OutOfSync): the sync we started succeeded at that commit and the
    application is Healthy. Error (the wait stops): the sync we started (``own``) ended Failed or Error; with
    ``fail_on_degraded``, health Degraded once no operation runs (at the awaited revision) or an operation started
    after ``since`` (an operation key, see :func:`operation_key`) that ended Failed or Error.
    """

    def __init__(self, revision=None, fail_on_degraded=False, own=False, since=None, sync_revision=None):
        super(ApplicationTarget, self).__init__("Argo CD application", None, ready=(), error=(), field="status")
        self.revision = revision
        self.sync_revision = sync_revision
        self.fail_on_degraded = fail_on_degraded
        self.own = own
        self.since = since
        self.reason = None

    def status_of(self, obj):
        return None if obj is None else describe(obj)

    def at_revision(self, obj):
        op = operation_state(obj)
        if self.sync_revision and not revision_matches(operation_revision(obj), self.sync_revision):
            return False
        if not self.revision:
            return True
        # the last operation's revision too, unless it failed: a failed operation that is not new is history
        return revision_matches(synced_revision(obj), self.revision) and (
            not op or op.get("phase") in FAILED_PHASES or revision_matches(operation_revision(obj), self.revision))

    def phase(self, obj):
        self.reason = None
        if obj is None or operation_running(obj):
            return PENDING
        op = operation_state(obj)
        status = _status(obj)
        new_op = self.own or (op and operation_key(obj) != self.since)
        if op.get("phase") in FAILED_PHASES and new_op and (self.own or self.fail_on_degraded):
            self.reason = "the sync operation ended %s: %s" % (op["phase"], op.get("message") or "")
            return ERROR
        if not reconciled_after_operation(obj):
            return PENDING  # the health and sync status of before the operation
        at_revision = self.at_revision(obj)
        health = status.get("health") or {}
        if self.fail_on_degraded and health.get("status") == "Degraded" and at_revision:
            self.reason = "health Degraded%s" % (": %s" % health["message"] if health.get("message") else "")
            return ERROR
        synced = self.sync_revision or (status.get("sync") or {}).get("status") == "Synced"
        if at_revision and synced and health.get("status") == "Healthy":
            return READY
        return PENDING


class NoOperation(StatusModel):
    """Ready once no operation runs on the application."""

    def __init__(self):
        super(NoOperation, self).__init__("Argo CD application", None, ready=(), error=(), field="status")

    def status_of(self, obj):
        return None if obj is None else describe(obj)

    def phase(self, obj):
        return PENDING if obj is None or operation_running(obj) else READY


class AllApplications(StatusModel):
    """Several applications waited for at once, each with its own model (:class:`ApplicationTarget`,
    :class:`NoOperation`): the object is ``{name: application}``. Ready once every one is (an application that
    was ready is not read again); an error as soon as one is in error (``failed`` names it, ``reason`` says why).
    """

    def __init__(self, targets):
        super(AllApplications, self).__init__("Argo CD application", None, ready=(), error=(), field="status")
        self.targets = targets  # {name: model}, in order
        self.done = set()
        self.failed = None
        self.reason = None

    def waiting(self):
        return [name for name in self.targets if name not in self.done]

    def status_of(self, obj):
        if obj is None:
            return None
        if len(self.targets) == 1:
            return describe(obj.get(next(iter(self.targets))))
        waiting = [name for name in self.waiting() if self.targets[name].phase(obj.get(name)) != READY]
        if not waiting:
            return "all %d ready" % len(self.targets)
        ready = len(self.targets) - len(waiting)
        return "%d of %d ready; %s: %s" % (ready, len(self.targets), waiting[0], describe(obj.get(waiting[0])))

    def phase(self, obj):
        if obj is None:
            return PENDING
        for name in self.waiting():
            model = self.targets[name]
            phase = model.phase(obj.get(name))
            if phase == ERROR:
                self.failed = name
                self.reason = getattr(model, "reason", None)
                return ERROR
            if phase == READY:
                self.done.add(name)
        return PENDING if self.waiting() else READY


def client_from_params(params, clock=None, log=None):
    return ArgoCDClient(params["api_url"], username=params.get("username"), password=params.get("password"),
                        token=params.get("token"), validate_certs=params.get("validate_certs", True),
                        timeout=params.get("timeout") or 30, clock=clock, log=log)


def fail_with(module, exc, client=None, **result):
    """fail_json for an :class:`ArgoCDError` (with the request that failed in ``failure``)."""
    result.update(failure=exc.to_result(), retries=client.retries if client else 0)
    module.fail_json(msg=exc.message, **result)
