# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A client of OVHcloud Secret Manager's HashiCorp Vault KV2-compatible API (token auth).

PRIVATE to this collection: not a public API, may change in any release.

The API is the OKMS domain's, in its region: ``<server>/api/<okms_id>/v1/secret/data/<path>`` (read the latest
version, write a new one with ``options.cas``), ``.../v1/secret/metadata/<path>`` (delete the secret with all
its versions). The token goes in ``X-Vault-Token``; OVH's Vault-compatible endpoint accepts nothing else.
Answers are Vault's: ``{"data": {"data": {...}, "metadata": {"version": N, ...}}}``, errors
``{"errors": [...]}``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import time

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import quote, urlparse
from ansible.module_utils.urls import open_url

try:
    from http.client import HTTPException
except ImportError:  # pragma: no cover - Python 2
    from httplib import HTTPException  # pylint: disable=import-error

# 5xx and transport errors are retried this many times more (never 4xx: a refused token stays refused).
RETRIES = 2
RETRY_SLEEP = 1.0
LOOPBACK = ("127.0.0.1", "localhost", "::1")
CAS_MISMATCH = "check-and-set parameter did not match"
_PATH_CHARS = re.compile(r"^[A-Za-z0-9._~@=+,:-]+$")


class SecretManagerError(Exception):
    def __init__(self, msg, status=None, errors=None):
        super(SecretManagerError, self).__init__(msg)
        self.status = status
        self.errors = errors or []


def check_server(server):
    """A problem with ``server`` (None when it is fine): https, or http to a loopback address (an emulator)."""
    try:
        parsed = urlparse(server or "")
    except ValueError:
        return "server must be an https URL, got %r" % server
    if parsed.scheme == "https" and parsed.hostname:
        pass
    elif parsed.scheme == "http" and parsed.hostname in LOOPBACK:
        pass
    else:
        return "server must be an https URL (http only to a loopback address), got %r" % server
    if parsed.query or parsed.fragment or parsed.username:
        return "server must be a plain URL (no credentials, query or fragment), got %r" % server
    return None


def normalize_path(path):
    """``path`` without its surrounding slashes, or None when it is empty or has an empty, ``.`` or ``..`` part or
    a character that is not safe in a secret path."""
    text = (path or "").strip("/")
    parts = text.split("/")
    if not text or any(p in ("", ".", "..") or not _PATH_CHARS.match(p) for p in parts):
        return None
    return text


class SecretManagerClient(object):
    """``opener`` (``open_url``'s signature) and ``sleep`` are injectable for tests."""

    def __init__(self, server, okms_id, token, timeout=30, validate_certs=True, ca_path=None, opener=None,
                 sleep=time.sleep):
        self.base = "%s/api/%s/v1/secret" % (server.rstrip("/"), okms_id)
        self.token = token
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self._open = opener or open_url
        self._sleep = sleep

    def _url(self, kind, path):
        return "%s/%s/%s" % (self.base, kind, quote(path, safe="/"))

    def request(self, method, kind, path, body=None):
        """(status, parsed body); raises :class:`SecretManagerError` on a refused token, a transport error after
        the retries, or an answer that is not JSON. 4xx other than 401/403 are returned to the caller."""
        data = None if body is None else json.dumps(body)
        headers = {"X-Vault-Token": self.token, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        url = self._url(kind, path)
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = self._open(url, method=method, data=data, headers=headers, timeout=self.timeout,
                                  validate_certs=self.validate_certs, ca_path=self.ca_path, follow_redirects="none")
                status, text = resp.getcode(), resp.read()
            except HTTPError as err:
                status, text = err.code, err.read() if hasattr(err, "read") else b""
            except (URLError, HTTPException, OSError) as err:
                if attempt <= RETRIES:
                    self._sleep(RETRY_SLEEP * attempt)
                    continue
                raise SecretManagerError("%s %s: could not reach the Secret Manager: %s" % (
                    method, url, getattr(err, "reason", err)))
            parsed = _parse(text)
            if status in (401, 403):
                raise SecretManagerError(
                    "the Secret Manager refused the token (HTTP %s: %s): check token (it must be a token of OKMS "
                    "domain %s with access to this path)" % (status, _errors(parsed), self.base.split("/")[-3]),
                    status=status, errors=parsed.get("errors") if isinstance(parsed, dict) else None)
            if status >= 500 and attempt <= RETRIES:
                self._sleep(RETRY_SLEEP * attempt)
                continue
            if status >= 500:
                raise SecretManagerError("%s %s: HTTP %s: %s" % (method, url, status, _errors(parsed)), status=status)
            return status, parsed

    def read(self, path):
        """``(data, version)`` of the latest version; ``(None, version)`` when it is soft-deleted; ``(None, 0)``
        when the secret does not exist."""
        status, body = self.request("GET", "data", path)
        inner = body.get("data") if isinstance(body, dict) else None
        meta = inner.get("metadata") if isinstance(inner, dict) else None
        if status == 200 and isinstance(meta, dict):
            return inner.get("data") or {}, int(meta.get("version") or 0)
        if status == 404:
            return None, int(meta.get("version") or 0) if isinstance(meta, dict) else 0
        raise SecretManagerError("GET %s: HTTP %s: %s" % (self._url("data", path), status, _errors(body)),
                                 status=status)

    def write(self, path, data, cas):
        """Writes a new version with check-and-set ``cas``; returns its metadata (``version``...)."""
        status, body = self.request("POST", "data", path, {"data": data, "options": {"cas": cas}})
        inner = body.get("data") if isinstance(body, dict) else None
        if status == 200 and isinstance(inner, dict) and "version" in inner:
            return inner
        raise SecretManagerError("POST %s: HTTP %s: %s" % (self._url("data", path), status, _errors(body)),
                                 status=status, errors=body.get("errors") if isinstance(body, dict) else None)

    def destroy(self, path):
        """Deletes the secret and all its versions."""
        status, body = self.request("DELETE", "metadata", path)
        if status not in (200, 204, 404):
            raise SecretManagerError("DELETE %s: HTTP %s: %s" % (self._url("metadata", path), status,
                                                                 _errors(body)), status=status)


def _parse(text):
    if not text:
        return {}
    try:
        return json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except ValueError:
        return {"errors": ["an answer that is not JSON"]}


def _errors(body):
    errors = body.get("errors") if isinstance(body, dict) else None
    return "; ".join(str(e) for e in errors) if errors else "no error message"
