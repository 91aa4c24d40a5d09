"""S3 object storage: ``/cloud/project/{serviceName}/region/{regionName}/storage...`` (buckets owned by a
Public Cloud user, versioning, encryption, per-user policies).

State: ``project["s3_buckets"][region][name]`` = bucket (with ``_policies`` = {userId: roleName}).

Rules reproduced: bucket names follow the S3 rules and are unique per region; the owner must be an
existing user in status ``ok``; versioning once enabled can be suspended but not disabled; a bucket that
holds objects cannot be deleted (the emulator never stores objects, so ``objects`` is always empty).
The Swift routes (``/cloud/project/{serviceName}/storage``) are not emulated: the collection uses S3.
"""

from __future__ import annotations

import re

from .. import lifecycle
from ..errors import Conflict, NotFound, invalid_data
from ..routing import project_initializer, route
from .users import project_users

P = "/cloud/project/{serviceName}/region/{regionName}/storage"
ONE = P + "/{name}"
REGIONS = ("BHS", "DE", "GRA", "RBX", "SBG", "UK", "WAW")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@project_initializer
def _init(project: dict, app) -> None:
    project.setdefault("s3_buckets", {})


def _region(ctx, serviceName, regionName) -> dict:
    proj = ctx.project(serviceName)
    if regionName not in REGIONS:
        raise NotFound(f"Region {regionName} does not offer S3 object storage")
    return proj.setdefault("s3_buckets", {}).setdefault(regionName, {})


def _bucket(ctx, serviceName, regionName, name) -> dict:
    b = _region(ctx, serviceName, regionName).get(name)
    if b is None:
        raise NotFound(f"Container {name} does not exist in region {regionName}")
    ctx.touch(name)
    return b


def _view(b: dict) -> dict:
    return lifecycle.public(b)


@route("GET", P)
def list_buckets(ctx, serviceName, regionName):
    return [_view(b) for b in sorted(_region(ctx, serviceName, regionName).values(), key=lambda b: b["name"])]


@route("POST", P, create=True)
def create_bucket(ctx, serviceName, regionName):
    buckets = _region(ctx, serviceName, regionName)
    body = ctx.body
    name = body["name"]
    if not NAME_RE.match(name) or ".." in name:
        raise invalid_data(f"Container name {name} is not a valid S3 bucket name", ctx.request_id)
    if name in buckets:
        raise Conflict(f"Container {name} already exists in region {regionName}", cls="Client::Conflict::BucketAlreadyExists")
    owner = body.get("ownerId")
    users = project_users(ctx, serviceName)
    if owner is None:
        raise invalid_data("ownerId is required: a container belongs to a Public Cloud user", ctx.request_id)
    user = users.get(str(owner))
    if user is None or user["status"] != "ok":
        raise invalid_data(f"User {owner} does not exist or is not ready", ctx.request_id)
    versioning = (body.get("versioning") or {}).get("status") or "disabled"
    encryption = (body.get("encryption") or {}).get("sseAlgorithm") or "plaintext"
    b = {"createdAt": ctx.iso(), "encryption": {"sseAlgorithm": encryption}, "name": name, "objects": [],
         "objectsCount": 0, "objectsSize": 0, "ownerId": int(owner), "region": regionName,
         "versioning": {"status": versioning},
         "virtualHost": f"{name}.s3.{regionName.lower()}.io.cloud.ovh.net", "_policies": {}}
    buckets[name] = b
    ctx.touch(name)
    return _view(b)


@route("GET", ONE)
def get_bucket(ctx, serviceName, regionName, name):
    return _view(_bucket(ctx, serviceName, regionName, name))


@route("PUT", ONE)
def update_bucket(ctx, serviceName, regionName, name):
    b = _bucket(ctx, serviceName, regionName, name)
    body = ctx.body or {}
    if "ownerId" in body and body["ownerId"] != b["ownerId"]:
        raise invalid_data("The owner of a container cannot be updated", ctx.request_id)
    status = (body.get("versioning") or {}).get("status")
    if status:
        if b["versioning"]["status"] in ("enabled", "suspended") and status == "disabled":
            raise invalid_data("Versioning cannot be disabled once enabled; suspend it instead", ctx.request_id)
        b["versioning"] = {"status": status}
    algo = (body.get("encryption") or {}).get("sseAlgorithm")
    if algo:
        b["encryption"] = {"sseAlgorithm": algo}
    return _view(b)


@route("DELETE", ONE)
def delete_bucket(ctx, serviceName, regionName, name):
    b = _bucket(ctx, serviceName, regionName, name)
    if b["objects"]:
        raise Conflict(f"Container {name} is not empty", cls="Client::Conflict::BucketNotEmpty")
    del _region(ctx, serviceName, regionName)[name]
    return None


@route("POST", ONE + "/policy/{userId}")
def add_policy(ctx, serviceName, regionName, name, userId):
    b = _bucket(ctx, serviceName, regionName, name)
    if str(userId) not in project_users(ctx, serviceName):
        raise invalid_data(f"User {userId} does not exist", ctx.request_id)
    b["_policies"][str(userId)] = ctx.body["roleName"]
    return None
