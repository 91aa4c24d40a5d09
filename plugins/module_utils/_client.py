# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The OVH API client layer of keikolatam.gitops.

PRIVATE to this collection: not a public API, may change in any release.

One place for everything that talks to the OVH API:

- credentials (application key/secret/consumer key, or OAuth2 client
  credentials), with python-ovh's environment and ovh.conf fallbacks;
- the endpoint, as a python-ovh name (``ovh-eu``...) or an ``http(s)://`` URL;
- retries with jittered exponential backoff on 429, 5xx and OVH's "busy"
  answers, and a maximum number of attempts;
- an optional client-side rate limit that every task, every run and the
  inventory plugin on the control node share (:mod:`._ratelimit`);
- never resending a create that may have been applied (a POST that timed out
  or got a 5xx): the caller gets an :class:`OvhAmbiguousWrite` and looks the
  object up by name instead;
- one error type, :class:`OvhApiError`, that carries the HTTP status, the OVH
  error class, the message and the ``X-Ovh-Queryid``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os
import random
import re

try:
    import ovh
    import ovh.config
    import ovh.exceptions
    import ovh.oauth2
    import requests.exceptions  # python-ovh's transport

    HAS_OVH = True
    OVH_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised only without python-ovh
    HAS_OVH = False
    OVH_IMPORT_ERROR = exc

from ansible_collections.keikolatam.gitops.plugins.module_utils._ratelimit import LocalBucket, make_bucket
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import SYSTEM_CLOCK


ENDPOINT_NAMES = (
    "ovh-eu",
    "ovh-ca",
    "ovh-us",
    "kimsufi-eu",
    "kimsufi-ca",
    "soyoustart-eu",
    "soyoustart-ca",
)
OAUTH2_ENDPOINT_NAMES = ("ovh-eu", "ovh-ca", "ovh-us")
DEFAULT_ENDPOINT = "ovh-eu"
WRITE_METHODS = ("POST", "PUT", "DELETE")

# "Busy" answers: the object is in the middle of an operation. The API says so
# with a 400 [IntegrityError] or a 409, and the message names the status.
_BUSY_PATTERNS = (
    re.compile(r"status is [A-Z_]+", re.IGNORECASE),
    re.compile(r"\b(already )?in progress\b", re.IGNORECASE),
    re.compile(r"\bpending (operation|task)s?\b", re.IGNORECASE),
    re.compile(r"\b(is|are) (currently )?(being )?(updated|processed|busy|locked)\b", re.IGNORECASE),
    re.compile(r"\bis not (in )?(a )?(ready|stable) (state|status)\b", re.IGNORECASE),
)
# Never "busy", whatever the message says: the retry would get the same answer.
_NOT_BUSY_PATTERNS = (
    re.compile(r"AlreadyExist", re.IGNORECASE),
    re.compile(r"\bpolicy (NEVER_UPDATE|MINIMAL_DOWNTIME|ALWAYS_UPDATE)\b"),
)


class OvhApiError(Exception):
    """An answer of the OVH API (or of the transport) that is not a success."""

    def __init__(self, message, http_status=None, error_class=None, query_id=None,
                 method=None, path=None, error_code=None, ambiguous=False, permanent=False):
        super(OvhApiError, self).__init__(message)
        self.message = message
        self.http_status = http_status
        self.error_class = error_class
        self.error_code = error_code
        self.query_id = query_id
        self.method = method
        self.path = path
        # True when a write may have been applied although it failed.
        self.ambiguous = ambiguous
        # True when the same request cannot work later (a refused credential, a local check of python-ovh).
        self.permanent = permanent

    @property
    def is_not_found(self):
        return self.http_status == 404

    @property
    def is_conflict(self):
        return self.http_status == 409

    @property
    def is_busy(self):
        if self.http_status not in (400, 403, 409):
            return False
        text = "%s %s" % (self.error_class or "", self.message or "")
        if any(p.search(text) for p in _NOT_BUSY_PATTERNS):
            return False
        return any(p.search(text) for p in _BUSY_PATTERNS)

    @property
    def is_transient(self):
        """429, 5xx and transport failures: the same request may work later."""
        if self.permanent:
            return False
        return self.http_status is None or self.http_status == 429 or self.http_status >= 500

    def to_failure(self):
        """The ``failure`` dict every module returns. Never holds a secret."""
        return {
            "http_status": self.http_status,
            "error_class": self.error_class or self.error_code,
            "message": self.message,
            "query_id": self.query_id,
            "method": self.method,
            "path": self.path,
        }

    def __str__(self):
        where = " (%s %s)" % (self.method, self.path) if self.method else ""
        status = "%s " % self.http_status if self.http_status else ""
        qid = " [query id %s]" % self.query_id if self.query_id else ""
        return "%s%s%s%s" % (status, self.message, where, qid)


APPLICATION_ENV = ("OVH_APPLICATION_KEY", "OVH_APPLICATION_SECRET", "OVH_CONSUMER_KEY")
OAUTH2_ENV = ("OVH_CLIENT_ID", "OVH_CLIENT_SECRET")


@contextlib.contextmanager
def _hidden_env(names):
    """The environment without ``names`` for the duration of the block."""
    saved = dict((n, os.environ.pop(n)) for n in names if n in os.environ)
    try:
        yield
    finally:
        os.environ.update(saved)


class OvhAmbiguousWrite(OvhApiError):
    """A write that timed out or got a 5xx: it may or may not have been applied."""


class OvhConfigError(ValueError):
    """Bad or missing settings; raised before any request is sent."""


def _conf(section, name):
    """python-ovh's own fallback order: OVH_<NAME> env, then ovh.conf files."""
    if HAS_OVH:
        return ovh.config.config.get(section, name)
    return os.environ.get("OVH_" + name.upper())


def resolve_settings(params):
    """Merge module options with python-ovh's environment and ovh.conf fallbacks.

    Returns a new dict; raises OvhConfigError on incomplete or conflicting
    credentials. Nothing here talks to the network.
    """
    settings = dict(params)
    endpoint = settings.get("endpoint") or _conf("default", "endpoint") or DEFAULT_ENDPOINT
    settings["endpoint"] = endpoint
    # ovh.conf sections are named after the endpoint name; a URL endpoint can
    # still have its own section.
    for name in ("application_key", "application_secret", "consumer_key", "client_id", "client_secret"):
        if not settings.get(name):
            settings[name] = _conf(endpoint, name)
    if not settings.get("oauth2_token_url"):
        settings["oauth2_token_url"] = os.environ.get("OVH_OAUTH2_TOKEN_URL")

    app_names = ("application_key", "application_secret", "consumer_key")
    explicit_app = any(params.get(n) for n in app_names)
    explicit_oauth2 = bool(params.get("client_id") or params.get("client_secret"))
    if explicit_app and explicit_oauth2:
        raise OvhConfigError(
            "Use either OAuth2 client credentials (client_id, client_secret) or an application "
            "key (application_key, application_secret, consumer_key), not both."
        )
    if explicit_app:
        oauth2 = False
    elif explicit_oauth2:
        oauth2 = True
    else:
        oauth2 = bool(settings.get("client_id") or settings.get("client_secret"))
        if oauth2 and any(settings.get(n) for n in app_names):
            raise OvhConfigError(
                "Both OAuth2 client credentials and an application key were found in the environment or "
                "ovh.conf: set one of them as module options to choose, not both."
            )
    if oauth2:
        if not (settings.get("client_id") and settings.get("client_secret")):
            raise OvhConfigError("OAuth2 needs both client_id and client_secret.")
        for name in app_names:
            settings[name] = None
        if not is_url(endpoint) and endpoint not in OAUTH2_ENDPOINT_NAMES:
            raise OvhConfigError(
                "OAuth2 client credentials work with the endpoints %s or a URL, not %r."
                % (", ".join(OAUTH2_ENDPOINT_NAMES), endpoint)
            )
        if is_url(endpoint) and not settings.get("oauth2_token_url"):
            settings["oauth2_token_url"] = _default_token_url(endpoint)
    else:
        missing = [n for n in ("application_key", "application_secret", "consumer_key") if not settings.get(n)]
        if missing:
            raise OvhConfigError(
                "Missing OVH credentials: %s. Set them as options, as OVH_%s environment variables, "
                "or in ovh.conf; or use OAuth2 (client_id, client_secret)."
                % (", ".join(missing), ", OVH_".join(m.upper() for m in missing))
            )
    if not is_url(endpoint) and endpoint not in ENDPOINT_NAMES:
        raise OvhConfigError(
            "Unknown endpoint %r: use one of %s, or an http(s):// URL." % (endpoint, ", ".join(ENDPOINT_NAMES))
        )
    return settings


def is_url(endpoint):
    return bool(endpoint) and re.match(r"^https?://", endpoint) is not None


def _default_token_url(endpoint_url):
    # http://host:port/1.0 -> http://host:port/auth/oauth2/token (the OVH layout).
    match = re.match(r"^(https?://[^/]+)", endpoint_url)
    return match.group(1) + "/auth/oauth2/token"


def _is_loopback_url(url):
    return re.match(r"^http://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(/|$)", url or "") is not None


class OvhClient(object):
    """A python-ovh client with retries, backoff, a rate limit and one error type.

    ``clock`` (a :class:`._waiter.Clock`) and ``rng`` are injectable for tests. ``rate_limit``: API requests
    a second, shared with every process that uses the same endpoint and credentials (see :mod:`._ratelimit`);
    ``warn`` is told when the limit can only hold within this process.
    """

    def __init__(self, endpoint=DEFAULT_ENDPOINT, application_key=None, application_secret=None,
                 consumer_key=None, client_id=None, client_secret=None, oauth2_token_url=None,
                 max_attempts=8, backoff_base=0.5, backoff_max=20.0, rate_limit=None, timeout=60,
                 clock=None, rng=None, log=None, warn=None, rate_limit_dir=None):
        if not HAS_OVH:
            raise OvhConfigError("The python-ovh library (pip package 'ovh') is required: %s" % OVH_IMPORT_ERROR)
        if max_attempts < 1:
            raise OvhConfigError("api_max_attempts must be at least 1.")
        if rate_limit is not None and rate_limit < 0:
            raise OvhConfigError("api_rate_limit must not be negative (0 or unset: no limit).")
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.clock = clock or SYSTEM_CLOCK
        self._rng = rng or random.Random()
        self._log = log
        self._warn = warn
        self.bucket, why = make_bucket(rate_limit, endpoint, consumer_key or client_id, clock=self.clock,
                                       directory=rate_limit_dir)
        if why:
            self._tell_local_limit(why)
        self.stats = {"retries": 0}

        oauth2 = bool(client_id)
        name = endpoint if not is_url(endpoint) else "ovh-eu"
        # python-ovh reads the credentials it is not given from the environment, and refuses both kinds at once:
        # the kind resolve_settings() did not choose is hidden from it.
        with _hidden_env(APPLICATION_ENV if oauth2 else OAUTH2_ENV):
            if oauth2:
                self._client = ovh.Client(endpoint=name, client_id=client_id, client_secret=client_secret,
                                          timeout=timeout)
            else:
                self._client = ovh.Client(endpoint=name, application_key=application_key,
                                          application_secret=application_secret, consumer_key=consumer_key,
                                          timeout=timeout)
        if is_url(endpoint):
            # python-ovh only knows endpoint names; a URL (the sandbox, a corporate
            # proxy) replaces the base URL it signs and sends to.
            self._client._endpoint = endpoint.rstrip("/")
            if oauth2:
                token_url = oauth2_token_url or _default_token_url(endpoint)
                if _is_loopback_url(token_url):
                    # oauthlib refuses plain HTTP; a loopback sandbox has no TLS.
                    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
                self._client._oauth2 = ovh.oauth2.OAuth2(client_id=client_id, client_secret=client_secret,
                                                         token_url=token_url)
        elif oauth2 and oauth2_token_url:
            self._client._oauth2 = ovh.oauth2.OAuth2(client_id=client_id, client_secret=client_secret,
                                                     token_url=oauth2_token_url)

    @classmethod
    def from_params(cls, params, **kwargs):
        """Build a client from the collection's common options (see doc fragment ``ovh``)."""
        s = resolve_settings(params)
        return cls(
            endpoint=s["endpoint"],
            application_key=s.get("application_key"),
            application_secret=s.get("application_secret"),
            consumer_key=s.get("consumer_key"),
            client_id=s.get("client_id"),
            client_secret=s.get("client_secret"),
            oauth2_token_url=s.get("oauth2_token_url"),
            max_attempts=s.get("api_max_attempts") or 8,
            rate_limit=s.get("api_rate_limit") or None,
            timeout=s.get("api_timeout") or 60,
            **kwargs
        )

    # -- verbs -------------------------------------------------------------

    def get(self, path, **query):
        """GET. A 404 right after a create is the waiter's business (``until_ready(appear_within=...)``)."""
        pairs = ["%s=%s" % (k, _quote(v)) for k, v in sorted(query.items()) if v is not None]
        if pairs:  # only None values: no "?" (the API signs and matches the URL as sent)
            path = path + ("&" if "?" in path else "?") + "&".join(pairs)
        return self.call("GET", path)

    def post(self, path, body=None, idempotent=False):
        """POST. Not ``idempotent`` (a create) means: never resent after a 5xx or a timeout."""
        return self.call("POST", path, body, idempotent=idempotent)

    def put(self, path, body=None):
        return self.call("PUT", path, body, idempotent=True)

    def delete(self, path):
        return self.call("DELETE", path, idempotent=True)

    def get_or_none(self, path):
        try:
            return self.get(path)
        except OvhApiError as exc:
            if exc.is_not_found:
                return None
            raise

    # -- machinery ---------------------------------------------------------

    def call(self, method, path, body=None, idempotent=None):
        method = method.upper()
        if idempotent is None:
            idempotent = method != "POST"
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._send(method, path, body)
            except OvhApiError as exc:
                retry = self._should_retry(exc, idempotent)
                if not retry or attempt >= self.max_attempts:
                    if not retry and exc.ambiguous:
                        raise OvhAmbiguousWrite(exc.message, http_status=exc.http_status,
                                                error_class=exc.error_class, query_id=exc.query_id,
                                                method=method, path=path, ambiguous=True)
                    raise
                delay = self._backoff(attempt)
                self.stats["retries"] += 1
                if self._log:
                    self._log("OVH API %s %s answered %s (%s); retry %d/%d in %.2fs" % (
                        method, path, exc.http_status, exc.error_class or exc.error_code or "-",
                        attempt, self.max_attempts - 1, delay))
                self.clock.sleep(delay)

    @staticmethod
    def _should_retry(exc, idempotent):
        if exc.is_not_found:
            return False
        if exc.http_status == 429:
            return True  # refused before any effect
        if exc.is_busy:
            return True  # refused: the object is busy
        if exc.is_transient:
            # A 5xx or a transport failure on a create may have been applied:
            # only idempotent calls are resent.
            return idempotent or not exc.ambiguous
        return False

    def _backoff(self, attempt):
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return ceiling / 2.0 + self._rng.uniform(0, ceiling / 2.0)

    def _throttle(self):
        """Take a token of the rate limit (sleeping until it is due) for each HTTP request of the next call.

        python-ovh's first request of a process, ``GET /auth/time`` (signed requests) or the OAuth2 token
        request, takes its own token and is sent here, so that it keeps its turn too."""
        if self.bucket is None:
            return
        if self._requests_before_call():
            self._take_token()
            oauth2 = getattr(self._client, "_oauth2", None)
            if oauth2 is not None:
                oauth2.session  # pylint: disable=pointless-statement  # fetches the token
            else:
                self._client.time_delta  # pylint: disable=pointless-statement  # GET /auth/time
        self._take_token()

    def _take_token(self):
        try:
            self.bucket.acquire()
        except (IOError, OSError) as exc:
            self._tell_local_limit("cannot use %s: %s" % (getattr(self.bucket, "path", "?"), exc))
            self.bucket = LocalBucket(self.bucket.rate, clock=self.clock)
            self.bucket.acquire()

    def _requests_before_call(self):
        oauth2 = getattr(self._client, "_oauth2", None)
        if oauth2 is not None:
            return getattr(oauth2, "_token", None) is None
        return getattr(self._client, "_time_delta", None) is None

    def _tell_local_limit(self, why):
        text = "api_rate_limit holds for this task only (%s)." % why
        if self._warn:
            self._warn(text)
        elif self._log:
            self._log(text)

    def _send(self, method, path, body):
        try:
            self._throttle()
            response = self._client.raw_call(method, path, data=body, need_auth=True)
        except requests.exceptions.ConnectionError as exc:
            # Nothing reached the server when the connection could not be opened;
            # a connection lost later may have carried the request.
            never_sent = isinstance(exc, requests.exceptions.ConnectTimeout) or "NewConnectionError" in repr(exc)
            raise OvhApiError("Transport error: %s" % _short(exc), method=method, path=path,
                              ambiguous=(method in WRITE_METHODS and not never_sent))
        except requests.exceptions.ReadTimeout as exc:
            raise OvhApiError("Timed out waiting for the answer: %s" % _short(exc), method=method, path=path,
                              ambiguous=method in WRITE_METHODS)
        except requests.exceptions.RequestException as exc:
            raise OvhApiError("Transport error: %s" % _short(exc), method=method, path=path,
                              ambiguous=method in WRITE_METHODS)
        except ovh.exceptions.APIError as exc:
            # OAuth2 token failures, python-ovh's own transport errors (its GET /auth/time) and its local credential
            # checks. A transport error or a token endpoint's 429 or 5xx may go away; a refused client secret or a
            # local check does not, and is not tried again.
            match = re.search(r"status_code=(\d+)", str(exc))
            status = int(match.group(1)) if match else getattr(exc.__cause__, "status_code", None)
            transport = isinstance(exc, (ovh.exceptions.HTTPError, ovh.exceptions.NetworkError))
            raise OvhApiError(str(exc), http_status=status, error_class=type(exc).__name__, method=method, path=path,
                              permanent=not transport and (status is None or (status != 429 and status < 500)))
        return self._decode(response, method, path)

    @staticmethod
    def _decode(response, method, path):
        status = response.status_code
        query_id = response.headers.get("X-Ovh-Queryid") or response.headers.get("X-OVH-QUERYID")
        payload = None
        if status != 204 and response.content:
            try:
                payload = response.json()
            except ValueError:
                payload = None
                if 200 <= status < 300:
                    raise OvhApiError("The API answered with a body that is not JSON.", http_status=status,
                                      query_id=query_id, method=method, path=path)
        if 200 <= status < 300:
            return payload
        message = None
        error_class = error_code = None
        if isinstance(payload, dict):
            message = payload.get("message")
            error_class = payload.get("class")
            error_code = payload.get("errorCode")
        if not message:
            message = (response.text or response.reason or "HTTP %s" % status).strip()[:500]
        raise OvhApiError(message, http_status=status, error_class=error_class, error_code=error_code,
                          query_id=query_id, method=method, path=path,
                          ambiguous=method in WRITE_METHODS and status >= 500)


def _quote(value):
    try:
        from urllib.parse import quote
    except ImportError:  # pragma: no cover - Python 2
        from urllib import quote
    if isinstance(value, bool):
        value = "true" if value else "false"
    return quote(str(value), safe="")


def _short(exc):
    text = str(exc)
    return text if len(text) < 300 else text[:300] + "..."
