"""Authentication, as the real API checks it.

- Application signature (python-ovh ``Client.raw_call``): headers ``X-Ovh-Application``,
  ``X-Ovh-Consumer``, ``X-Ovh-Timestamp``, ``X-Ovh-Signature`` where the signature is ``$1$`` +
  hex SHA1 of ``secret+consumer_key+METHOD+full_url+body+timestamp``.
- OAuth2 client credentials (python-ovh >= 1.2, ``ovh.oauth2``): ``POST /auth/oauth2/token`` then
  ``Authorization: Bearer <token>``.

Failures raise :class:`~ovh_emulator.errors.AuthError` (``{"errorCode", "httpCode", "message"}``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import string
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote_plus

from .errors import AuthError
from .store import Store, atomic_write_json

CREDENTIAL_KEYS = ("application_key", "application_secret", "consumer_key", "client_id", "client_secret",
                   "service_name")


def _rand(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _i in range(n))


def load_or_create_credentials(state_dir: Path) -> dict:
    """``<state-dir>/credentials.json``, generated on first start (mode 0600)."""
    import json

    path = Path(state_dir) / "credentials.json"
    if path.exists():
        with path.open(encoding="utf-8") as fh:
            creds = json.load(fh)
        missing = [k for k in CREDENTIAL_KEYS if not creds.get(k)]
        if not missing:
            return creds
    else:
        creds = {}
    generated = {
        "application_key": _rand(16),
        "application_secret": _rand(32),
        "consumer_key": _rand(32),
        "client_id": "EU." + secrets.token_hex(8),
        "client_secret": secrets.token_hex(16),
        "service_name": secrets.token_hex(16),
        "application_id": secrets.randbelow(900000) + 100000,
        "credential_id": secrets.randbelow(900000000) + 100000000,
        "created_at": int(time.time()),
    }
    for k, v in generated.items():
        creds.setdefault(k, v)
    atomic_write_json(path, creds, mode=0o600)
    return creds


def signature(secret: str, consumer_key: str, method: str, url: str, body: str, timestamp: str) -> str:
    raw = "+".join([secret, consumer_key, method.upper(), url, body, timestamp])
    return "$1$" + hashlib.sha1(raw.encode("utf-8")).hexdigest()


@dataclass
class AuthInfo:
    mode: str  # "signature" | "oauth2"
    subject: str  # application key or client id


NOT_LOGGED = ("NOT_AUTHENTICATED", "You must login first")


class Authenticator:
    def __init__(self, creds: dict, settings, store: Store):
        self.creds = creds
        self.settings = settings
        self.store = store

    # -- clock -------------------------------------------------------------------------------
    def server_time(self) -> int:
        return int(time.time() + float(self.settings.clock_offset_seconds))

    # -- application signature ---------------------------------------------------------------
    def check(self, method: str, full_url: str, headers, body: str) -> AuthInfo:
        authz = headers.get("Authorization")
        app = headers.get("X-Ovh-Application")
        if authz and not app:
            return self._check_bearer(authz)
        if not app:
            raise AuthError(401, *NOT_LOGGED)
        if not hmac.compare_digest(app, self.creds["application_key"]):
            raise AuthError(403, "INVALID_KEY", "This application key is invalid")
        consumer = headers.get("X-Ovh-Consumer")
        if not consumer:
            raise AuthError(401, *NOT_LOGGED)
        if not hmac.compare_digest(consumer, self.creds["consumer_key"]):
            raise AuthError(403, "INVALID_CREDENTIAL", "This credential is not valid")
        ts = headers.get("X-Ovh-Timestamp", "")
        try:
            ts_val = int(ts)
        except ValueError:
            raise AuthError(400, "QUERY_TIME_OUT", "Query out of time") from None
        if abs(ts_val - self.server_time()) > float(self.settings.time_tolerance_seconds):
            raise AuthError(400, "QUERY_TIME_OUT", "Query out of time")
        sent = headers.get("X-Ovh-Signature", "")
        expected = signature(self.creds["application_secret"], consumer, method, full_url, body, ts)
        if not sent or not hmac.compare_digest(sent, expected):
            raise AuthError(400, "INVALID_SIGNATURE", "Invalid signature")
        return AuthInfo("signature", app)

    # -- OAuth2 ------------------------------------------------------------------------------
    def _check_bearer(self, authz: str) -> AuthInfo:
        scheme, _sep, token = authz.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, *NOT_LOGGED)
        token = token.strip()
        with self.store.transaction() as st:
            rec = st.setdefault("oauth2_tokens", {}).get(token)
            now = time.time()
            # forget expired tokens
            for t, r in list(st["oauth2_tokens"].items()):
                if r["expires_at"] < now - 3600:
                    del st["oauth2_tokens"][t]
        if rec is None or rec["expires_at"] < time.time():
            raise AuthError(401, "INVALID_CREDENTIAL", "This credential is not valid")
        return AuthInfo("oauth2", rec["client_id"])

    def issue_token(self, headers, body: str) -> tuple[int, dict]:
        """``POST /auth/oauth2/token`` (client credentials). Returns (status, json body)."""
        form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        client_id = form.get("client_id")
        client_secret = form.get("client_secret")
        authz = headers.get("Authorization", "")
        if authz.lower().startswith("basic "):
            try:
                raw = base64.b64decode(authz[6:].strip()).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return 400, {"error": "invalid_request", "error_description": "malformed Basic authorization"}
            client_id, _sep, client_secret = raw.partition(":")
        grant = form.get("grant_type")
        if grant != "client_credentials":
            return 400, {"error": "unsupported_grant_type",
                         "error_description": f"grant_type {grant!r} is not supported"}
        if not client_id or not client_secret:
            return 401, {"error": "invalid_client", "error_description": "client authentication failed"}
        # RFC 6749 form-encodes the pair inside Basic; requests does not: accept both spellings.
        if not any(hmac.compare_digest(cid, self.creds["client_id"])
                   and hmac.compare_digest(cs, self.creds["client_secret"])
                   for cid, cs in ((client_id, client_secret),
                                   (unquote_plus(client_id), unquote_plus(client_secret)))):
            return 401, {"error": "invalid_client", "error_description": "client authentication failed"}
        scope = form.get("scope", "all")
        if set(scope.split()) != {"all"}:
            return 400, {"error": "invalid_scope", "error_description": f"scope {scope!r} is not allowed"}
        ttl = int(float(self.settings.token_ttl_seconds))
        token = "eyJ" + secrets.token_urlsafe(48)
        with self.store.transaction() as st:
            st.setdefault("oauth2_tokens", {})[token] = {"client_id": client_id, "expires_at": time.time() + ttl}
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": "all"}
