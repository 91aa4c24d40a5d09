"""Managed private registries (Harbor): ``/cloud/project/{serviceName}/containerRegistry...`` and
``/cloud/project/{serviceName}/capabilities/containerRegistry``.

State: ``project["registries"][registryID]`` = ``{"reg": <Registry, with _pending>, "plan": planId,
"users": {userId: user}}``.

Statuses ``INSTALLING -> READY`` (create), ``UPDATING -> READY`` (plan change), ``DELETING -> gone``.
Users exist only once the registry is READY; their password is in the create answer only (``null`` later).
Writes on a registry that is not READY answer ``[IntegrityError] 400 ... status is INSTALLING`` (busy).
"""

from __future__ import annotations

import re

from .. import lifecycle
from ..errors import BadRequest, Conflict, NotFound, integrity_error, invalid_data
from ..routing import advancer, project_initializer, route

P = "/cloud/project/{serviceName}/containerRegistry"
ONE = P + "/{registryID}"

REGIONS = ("BHS", "DE", "GRA", "SBG", "UK", "WAW")
VERSION = "2.10.1"
GB = 1000 ** 3
# name: (id, code, imageStorage bytes, parallelRequest, vulnerability scanning)
PLANS = {
    "SMALL": ("9f0b0d5c-1c1a-4c0e-9f39-3a1d1f9c0a01", "registry.s-plan-equivalent.hour.consumption", 200 * GB, 15,
              False),
    "MEDIUM": ("9f0b0d5c-1c1a-4c0e-9f39-3a1d1f9c0a02", "registry.m-plan-equivalent.hour.consumption", 600 * GB, 45,
               True),
    "LARGE": ("9f0b0d5c-1c1a-4c0e-9f39-3a1d1f9c0a03", "registry.l-plan-equivalent.hour.consumption", 5000 * GB, 90,
              True),
}
PLAN_BY_ID = {v[0]: k for k, v in PLANS.items()}
DEFAULT_PLAN = "SMALL"
PLANS_SINCE = "2022-01-01T00:00:00Z"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
LOGIN_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,254}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@project_initializer
def _init(project: dict, app) -> None:
    project.setdefault("registries", {})


def plan_object(name: str) -> dict:
    pid, code, storage, parallel, vuln = PLANS[name]
    return {"code": code, "createdAt": PLANS_SINCE, "features": {"vulnerability": vuln}, "id": pid, "name": name,
            "registryLimits": {"imageStorage": storage, "parallelRequest": parallel}, "updatedAt": PLANS_SINCE}


def _regs(ctx, serviceName) -> dict:
    return ctx.project(serviceName).setdefault("registries", {})


def _rec(ctx, serviceName, registryID) -> dict:
    rec = _regs(ctx, serviceName).get(registryID)
    if rec is None:
        raise NotFound(f"Registry {registryID} not found")
    ctx.touch(registryID)
    return rec


def _ready(rec: dict, action: str, kind: str = "Registry") -> None:
    status = rec["reg"]["status"]
    if status != "READY":
        raise integrity_error(action, kind, status)


def _view(rec: dict) -> dict:
    return lifecycle.public(rec["reg"])


@advancer
def _advance(ctx) -> None:
    for proj in ctx.state["projects"].values():
        regs = proj.get("registries") or {}
        for rid in list(regs):
            reg = regs[rid]["reg"]
            if lifecycle.due(reg, ctx.now):
                done = lifecycle.finish(reg)
                reg["updatedAt"] = lifecycle.iso(float(done["until"]))
                if done.get("action") == "delete":
                    del regs[rid]


@route("GET", "/cloud/project/{serviceName}/capabilities/containerRegistry")
def capabilities(ctx, serviceName):
    ctx.project(serviceName)
    return [{"plans": [plan_object(n) for n in PLANS], "regionName": r} for r in REGIONS]


@route("GET", P)
def list_registries(ctx, serviceName):
    return [_view(r) for r in sorted(_regs(ctx, serviceName).values(), key=lambda r: r["reg"]["createdAt"])]


@route("POST", P, create=True)
def create_registry(ctx, serviceName):
    body = ctx.body
    name, region = body["name"], body["region"]
    if not NAME_RE.match(name):
        raise invalid_data(f"Registry name {name} is not valid", ctx.request_id)
    if region not in REGIONS:
        raise invalid_data(f"Region {region} is not available for managed registries", ctx.request_id)
    plan = DEFAULT_PLAN
    if body.get("planID"):
        plan = PLAN_BY_ID.get(body["planID"])
        if plan is None:
            raise invalid_data(f"Plan {body['planID']} does not exist", ctx.request_id)
    if any(r["reg"]["name"] == name for r in _regs(ctx, serviceName).values()):
        raise Conflict(f"A registry named {name} already exists in this project")
    rid = ctx.ids.uuid()
    reg = {"createdAt": ctx.iso(), "id": rid, "name": name, "projectID": serviceName, "region": region, "size": 0,
           "status": "INSTALLING", "updatedAt": ctx.iso(),
           "url": f"https://{ctx.ids.lower(8)}.{region.lower()}7.container-registry.ovh.net", "version": VERSION}
    lifecycle.begin(reg, "INSTALLING", "READY", ctx.now, ctx.transition, action="create")
    _regs(ctx, serviceName)[rid] = {"reg": reg, "plan": plan, "users": {}}
    ctx.touch(rid)
    return lifecycle.public(reg)


@route("GET", ONE)
def get_registry(ctx, serviceName, registryID):
    return _view(_rec(ctx, serviceName, registryID))


@route("PUT", ONE)
def rename_registry(ctx, serviceName, registryID):
    rec = _rec(ctx, serviceName, registryID)
    _ready(rec, "update")
    name = ctx.body["name"]
    if not NAME_RE.match(name):
        raise invalid_data(f"Registry name {name} is not valid", ctx.request_id)
    if any(r["reg"]["name"] == name and r is not rec for r in _regs(ctx, serviceName).values()):
        raise Conflict(f"A registry named {name} already exists in this project")
    rec["reg"]["name"] = name
    rec["reg"]["updatedAt"] = ctx.iso()
    return None


@route("DELETE", ONE)
def delete_registry(ctx, serviceName, registryID):
    rec = _rec(ctx, serviceName, registryID)
    if rec["reg"]["status"] not in ("READY", "ERROR"):
        raise integrity_error("delete", "Registry", rec["reg"]["status"])
    lifecycle.begin(rec["reg"], "DELETING", "DELETED", ctx.now, ctx.transition, action="delete")
    return None


@route("GET", ONE + "/plan")
def get_plan(ctx, serviceName, registryID):
    return plan_object(_rec(ctx, serviceName, registryID)["plan"])


@route("GET", ONE + "/capabilities/plan")
def available_plans(ctx, serviceName, registryID):
    _rec(ctx, serviceName, registryID)
    return [plan_object(n) for n in PLANS]


@route("PUT", ONE + "/plan")
def change_plan(ctx, serviceName, registryID):
    rec = _rec(ctx, serviceName, registryID)
    _ready(rec, "update")
    plan = PLAN_BY_ID.get(ctx.body["planID"])
    if plan is None:
        raise invalid_data(f"Plan {ctx.body['planID']} does not exist", ctx.request_id)
    if plan != rec["plan"]:
        rec["plan"] = plan
        lifecycle.begin(rec["reg"], "UPDATING", "READY", ctx.now, ctx.transition, action="plan")
    return None


# -- users -----------------------------------------------------------------------------------------

def _user_view(user: dict, password: str | None = None) -> dict:
    return {"email": user["email"], "id": user["id"], "password": password, "user": user["user"]}


@route("GET", ONE + "/users")
def list_users(ctx, serviceName, registryID):
    rec = _rec(ctx, serviceName, registryID)
    return [_user_view(u) for u in sorted(rec["users"].values(), key=lambda u: int(u["id"]))]


@route("POST", ONE + "/users", create=True)
def create_user(ctx, serviceName, registryID):
    rec = _rec(ctx, serviceName, registryID)
    _ready(rec, "create User on")
    body = ctx.body
    login, email = body.get("login"), body.get("email")
    if not login:
        login = "user-" + ctx.ids.lower(8)
    if not LOGIN_RE.match(login):
        raise BadRequest(f"Invalid login {login}")
    if email is None or not EMAIL_RE.match(email):
        raise BadRequest(f"Invalid email {email}")
    if any(u["user"] == login for u in rec["users"].values()):
        raise Conflict(f"User {login} already exists")
    uid = str(ctx.app.store.counter("registry_user", start=1))
    user = {"email": email, "id": uid, "user": login}
    rec["users"][uid] = user
    ctx.touch(uid)
    return _user_view(user, password=ctx.ids.token(16) + "A1!")


@route("GET", ONE + "/users/{userID}")
def get_user(ctx, serviceName, registryID, userID):
    rec = _rec(ctx, serviceName, registryID)
    user = rec["users"].get(userID)
    if user is None:
        raise NotFound(f"User {userID} not found")
    return _user_view(user)


@route("DELETE", ONE + "/users/{userID}")
def delete_user(ctx, serviceName, registryID, userID):
    rec = _rec(ctx, serviceName, registryID)
    if userID not in rec["users"]:
        raise NotFound(f"User {userID} not found")
    del rec["users"][userID]
    return None
