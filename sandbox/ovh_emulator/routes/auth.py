"""``/auth``: server time and the current credential."""

from __future__ import annotations

from ..routing import route


@route("GET", "/auth/time")
def auth_time(ctx):
    return ctx.app.auth.server_time()


@route("GET", "/auth/currentCredential")
def current_credential(ctx):
    creds = ctx.app.creds
    created = ctx.iso(float(creds.get("created_at", ctx.app.started)))
    return {
        "allowedIPs": None,
        "applicationId": int(creds.get("application_id", 1)),
        "creation": created,
        "credentialId": int(creds.get("credential_id", 1)),
        "expiration": None,
        "lastUse": ctx.iso(),
        "ovhSupport": False,
        "rules": [{"method": m, "path": "/*"} for m in ("GET", "POST", "PUT", "DELETE")],
        "status": "validated",
    }
