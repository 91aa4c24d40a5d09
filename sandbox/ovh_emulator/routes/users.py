"""Public Cloud (OpenStack) users: ``/cloud/project/{serviceName}/user...`` with their roles and S3
credentials, and the project's role catalogue ``/cloud/project/{serviceName}/role``.

State: ``project["cloud_users"][str(id)]`` = user (with ``_pending``, ``_s3`` = {access: secret} and
``_password_sha256``, which Keystone in ``openstack.py`` checks a login against).

Statuses ``creating -> ok`` (create) and ``deleting -> gone`` (delete). The password is in the create and
``regeneratePassword`` answers only. S3 key pairs can be created once the user is ``ok``; a secret is shown
on creation and by ``POST .../s3Credentials/{access}/secret``.
"""

from __future__ import annotations

import hashlib
import hmac

from .. import lifecycle
from ..errors import BadRequest, NotFound, integrity_error
from ..routing import advancer, project_initializer, route

P = "/cloud/project/{serviceName}/user"
ONE = P + "/{userId}"

# name: (description, permissions)
ROLES = {
    "admin": ("Administrator (legacy name)", ["*"]),
    "administrator": ("Administrator", ["*"]),
    "ai_training_operator": ("AI Training Operator", ["ai:training:*"]),
    "ai_training_read": ("AI Training Reader", ["ai:training:read"]),
    "authentication": ("Authentication", ["identity:token"]),
    "backup_operator": ("Backup Operator", ["volume:backup:*", "image:snapshot:*"]),
    "compute_operator": ("Compute Operator", ["compute:*"]),
    "image_operator": ("Image Operator", ["image:*"]),
    "infrastructure_supervisor": ("Infrastructure Supervisor", ["*:read"]),
    "network_operator": ("Network Operator", ["network:*"]),
    "network_security_operator": ("Network Security Operator", ["network:security_group:*"]),
    "objectstore_operator": ("ObjectStore Operator", ["objectstore:*"]),
    "volume_operator": ("Volume Operator", ["volume:*"]),
}
SERVICES = ("compute", "image", "network", "objectstore", "volume", "ai")


def role_id(name: str) -> str:
    return hashlib.md5(("role:" + name).encode()).hexdigest()


ROLE_BY_ID = {role_id(n): n for n in ROLES}


def role_object(name: str) -> dict:
    desc, perms = ROLES[name]
    return {"description": desc, "id": role_id(name), "name": name, "permissions": list(perms)}


@project_initializer
def _init(project: dict, app) -> None:
    project.setdefault("cloud_users", {})


def project_users(ctx, serviceName) -> dict:
    return ctx.project(serviceName).setdefault("cloud_users", {})


def get_user_record(ctx, serviceName, userId) -> dict:
    user = project_users(ctx, serviceName).get(str(userId))
    if user is None:
        raise NotFound(f"User {userId} does not exist")
    ctx.touch(str(userId))
    return user


def _view(user: dict) -> dict:
    return {k: user[k] for k in ("creationDate", "description", "id", "openstackId", "roles", "status", "username")}


def _detail(user: dict, password: str = "") -> dict:
    return dict(_view(user), password=password)


def _password_hash(user: dict, password: str) -> str:
    return hashlib.sha256((user["openstackId"] + ":" + password).encode()).hexdigest()


def _set_password(user: dict, password: str) -> str:
    """Keep a hash of the user's password: Keystone (``openstack.py``) checks it; the API never shows it again."""
    user["_password_sha256"] = _password_hash(user, password)
    return password


def check_password(user: dict, password: str) -> bool:
    stored = user.get("_password_sha256")
    return bool(stored) and hmac.compare_digest(stored, _password_hash(user, password))


def find_by_username(state: dict, username: str):
    """(serviceName, user) of the Public Cloud user ``username`` in any project, or (None, None)."""
    for name, proj in state["projects"].items():
        for user in (proj.get("cloud_users") or {}).values():
            if user["username"] == username:
                return name, user
    return None, None


@advancer
def _advance(ctx) -> None:
    for proj in ctx.state["projects"].values():
        users = proj.get("cloud_users") or {}
        for uid in list(users):
            if lifecycle.due(users[uid], ctx.now):
                done = lifecycle.finish(users[uid])
                if done.get("action") == "delete":
                    del users[uid]


@route("GET", "/cloud/project/{serviceName}/role")
def role_catalogue(ctx, serviceName):
    ctx.project(serviceName)
    return {
        "roles": [role_object(n) for n in ROLES],
        "services": [{"name": svc, "permissions": [
            {"label": f"{svc}:*", "roles": [n for n, (_desc, perms) in ROLES.items()
                                            if "*" in perms or any(p.startswith(svc + ":") for p in perms)]}]}
            for svc in SERVICES],
    }


@route("GET", P)
def list_users(ctx, serviceName):
    return [_view(u) for u in sorted(project_users(ctx, serviceName).values(), key=lambda u: u["id"])]


@route("POST", P, create=True)
def create_user(ctx, serviceName):
    body = ctx.body or {}
    names = list(body.get("roles") or [])
    if body.get("role"):
        names.append(body["role"])
    if not names:
        names = ["admin"]
    uid = ctx.app.store.counter("cloud_user", start=100000)
    user = {"creationDate": ctx.iso(), "description": body.get("description") or "", "id": uid,
            "openstackId": ctx.ids.hex(32), "roles": [role_object(n) for n in dict.fromkeys(names)],
            "status": "creating", "username": "user-" + ctx.ids.token(12), "_s3": {}}
    lifecycle.begin(user, "creating", "ok", ctx.now, ctx.transition, action="create")
    project_users(ctx, serviceName)[str(uid)] = user
    ctx.touch(str(uid))
    return _detail(user, password=_set_password(user, ctx.ids.token(32)))


@route("GET", ONE)
def get_user(ctx, serviceName, userId):
    return _view(get_user_record(ctx, serviceName, userId))


@route("DELETE", ONE)
def delete_user(ctx, serviceName, userId):
    user = get_user_record(ctx, serviceName, userId)
    if user["status"] != "ok":
        raise integrity_error("delete", "User", user["status"])
    user["_s3"] = {}
    lifecycle.begin(user, "deleting", "deleted", ctx.now, ctx.transition, action="delete")
    return None


@route("POST", ONE + "/regeneratePassword")
def regenerate_password(ctx, serviceName, userId):
    user = get_user_record(ctx, serviceName, userId)
    if user["status"] != "ok":
        raise integrity_error("regenerate the password of", "User", user["status"])
    return _detail(user, password=_set_password(user, ctx.ids.token(32)))


# -- roles -----------------------------------------------------------------------------------------

@route("GET", ONE + "/role")
def user_roles(ctx, serviceName, userId):
    return list(get_user_record(ctx, serviceName, userId)["roles"])


def _role_names(ids) -> list:
    out = []
    for rid in ids:
        if rid not in ROLE_BY_ID:
            raise BadRequest(f"Role {rid} does not exist")
        out.append(ROLE_BY_ID[rid])
    return out


@route("POST", ONE + "/role")
def add_role(ctx, serviceName, userId):
    user = get_user_record(ctx, serviceName, userId)
    if user["status"] != "ok":
        raise integrity_error("update", "User", user["status"])
    name = _role_names([ctx.body["roleId"]])[0]
    if name not in [r["name"] for r in user["roles"]]:
        user["roles"].append(role_object(name))
    return _detail(user)


@route("PUT", ONE + "/role")
def set_roles(ctx, serviceName, userId):
    user = get_user_record(ctx, serviceName, userId)
    if user["status"] != "ok":
        raise integrity_error("update", "User", user["status"])
    names = _role_names(ctx.body["rolesIds"])
    if not names:
        raise BadRequest("A user needs at least one role")
    user["roles"] = [role_object(n) for n in dict.fromkeys(names)]
    return _detail(user)


@route("GET", ONE + "/role/{roleId}")
def get_user_role(ctx, serviceName, userId, roleId):
    user = get_user_record(ctx, serviceName, userId)
    for r in user["roles"]:
        if r["id"] == roleId:
            return dict(r)
    raise NotFound(f"Role {roleId} not found on user {userId}")


@route("DELETE", ONE + "/role/{roleId}")
def remove_user_role(ctx, serviceName, userId, roleId):
    user = get_user_record(ctx, serviceName, userId)
    keep = [r for r in user["roles"] if r["id"] != roleId]
    if len(keep) == len(user["roles"]):
        raise NotFound(f"Role {roleId} not found on user {userId}")
    if not keep:
        raise BadRequest("A user needs at least one role")
    user["roles"] = keep
    return None


# -- S3 credentials --------------------------------------------------------------------------------

def _cred(user: dict, serviceName: str, access: str) -> dict:
    return {"access": access, "tenantId": serviceName, "userId": user["openstackId"]}


@route("GET", ONE + "/s3Credentials")
def list_s3(ctx, serviceName, userId):
    user = get_user_record(ctx, serviceName, userId)
    return [_cred(user, serviceName, a) for a in sorted(user["_s3"])]


@route("POST", ONE + "/s3Credentials", create=True)
def create_s3(ctx, serviceName, userId):
    user = get_user_record(ctx, serviceName, userId)
    if user["status"] != "ok":
        raise integrity_error("create S3 credentials for", "User", user["status"])
    access, secret = ctx.ids.hex(32), ctx.ids.hex(32)
    user["_s3"][access] = secret
    ctx.touch(access)
    return dict(_cred(user, serviceName, access), secret=secret)


def _access(ctx, user: dict, access: str) -> str:
    if access not in user["_s3"]:
        raise NotFound(f"S3 credential {access} does not exist")
    ctx.touch(access)
    return user["_s3"][access]


@route("GET", ONE + "/s3Credentials/{access}")
def get_s3(ctx, serviceName, userId, access):
    user = get_user_record(ctx, serviceName, userId)
    _access(ctx, user, access)
    return _cred(user, serviceName, access)


@route("DELETE", ONE + "/s3Credentials/{access}")
def delete_s3(ctx, serviceName, userId, access):
    user = get_user_record(ctx, serviceName, userId)
    _access(ctx, user, access)
    del user["_s3"][access]
    return None


@route("POST", ONE + "/s3Credentials/{access}/secret")
def show_s3_secret(ctx, serviceName, userId, access):
    user = get_user_record(ctx, serviceName, userId)
    return {"secret": _access(ctx, user, access)}
