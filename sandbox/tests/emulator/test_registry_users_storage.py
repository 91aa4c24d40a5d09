"""Registries, Public Cloud users (roles, S3 credentials) and S3 buckets in the emulator: behaviours and a
walk of every route of the three modules."""

import pytest
from ovh.exceptions import BadParametersError, ResourceConflictError, ResourceNotFoundError

from helpers import wait_for

MODULES = {"ovh_emulator.routes.registry", "ovh_emulator.routes.users", "ovh_emulator.routes.storage"}


def _base(emu):
    return f"/cloud/project/{emu.service_name}"


def _ready(c, path, value="READY"):
    wait_for(lambda: c.get(path)["status"] == value, timeout=10)


@pytest.mark.ovh_emulator(transition_seconds=1.0)
def test_registry_plan_change_and_users(ovh_emulator):
    c = ovh_emulator.ovh_client()
    base = _base(ovh_emulator) + "/containerRegistry"
    caps = c.get(_base(ovh_emulator) + "/capabilities/containerRegistry")
    gra = [x for x in caps if x["regionName"] == "GRA"][0]
    plans = {p["name"]: p["id"] for p in gra["plans"]}
    reg = c.post(base, name="keiko", region="GRA", planID=plans["SMALL"])
    path = base + f"/{reg['id']}"
    assert reg["status"] == "INSTALLING"
    with pytest.raises(BadParametersError):
        c.post(path + "/users", login="ci", email="ci@example.org")  # not ready yet: busy
    with pytest.raises(ResourceConflictError):
        c.post(base, name="keiko", region="GRA")
    _ready(c, path)
    c.put(path + "/plan", planID=plans["LARGE"])
    assert c.get(path)["status"] == "UPDATING" and c.get(path + "/plan")["name"] == "LARGE"
    _ready(c, path)
    user = c.post(path + "/users", login="ci", email="ci@example.org")
    assert user["password"] and user["user"] == "ci"
    assert c.get(path + f"/users/{user['id']}")["password"] is None
    with pytest.raises(ResourceConflictError):
        c.post(path + "/users", login="ci", email="ci@example.org")
    c.delete(path)
    wait_for(lambda: c.get(base) == [], timeout=10)


@pytest.mark.ovh_emulator(transition_seconds=1.0)
def test_cloud_user_roles_and_s3_credentials(ovh_emulator):
    c = ovh_emulator.ovh_client()
    base = _base(ovh_emulator) + "/user"
    user = c.post(base, description="backups", roles=["objectstore_operator"])
    path = base + f"/{user['id']}"
    assert user["status"] == "creating" and user["password"] and user["username"].startswith("user-")
    with pytest.raises(BadParametersError):
        c.post(path + "/s3Credentials")  # status is creating
    _ready(c, path, "ok")
    pair = c.post(path + "/s3Credentials")
    assert pair["secret"] and pair["userId"] == user["openstackId"]
    assert c.get(path + "/s3Credentials") == [{k: pair[k] for k in ("access", "tenantId", "userId")}]
    assert c.post(path + f"/s3Credentials/{pair['access']}/secret") == {"secret": pair["secret"]}
    roles = {r["name"]: r["id"] for r in c.get(_base(ovh_emulator) + "/role")["roles"]}
    c.put(path + "/role", rolesIds=[roles["objectstore_operator"], roles["network_operator"]])
    assert sorted(r["name"] for r in c.get(path)["roles"]) == ["network_operator", "objectstore_operator"]
    c.delete(path)
    assert c.get(path)["status"] == "deleting"
    wait_for(lambda: c.get(base) == [], timeout=10)
    with pytest.raises(ResourceNotFoundError):
        c.get(path)


def test_bucket_rules(ovh_emulator):
    c = ovh_emulator.ovh_client()
    users = _base(ovh_emulator) + "/user"
    user = c.post(users, description="owner", roles=["objectstore_operator"])
    base = _base(ovh_emulator) + "/region/GRA/storage"
    with pytest.raises(BadParametersError):
        c.post(base, name="backups", ownerId=user["id"])  # owner not ready yet
    _ready(c, users + f"/{user['id']}", "ok")
    with pytest.raises(BadParametersError):
        c.post(base, name="Bad_Name", ownerId=user["id"])
    bucket = c.post(base, name="keiko-backups", ownerId=user["id"], versioning={"status": "enabled"})
    assert bucket["versioning"] == {"status": "enabled"} and bucket["encryption"] == {"sseAlgorithm": "plaintext"}
    with pytest.raises(ResourceConflictError):
        c.post(base, name="keiko-backups", ownerId=user["id"])
    with pytest.raises(BadParametersError):
        c.put(base + "/keiko-backups", versioning={"status": "disabled"})
    assert c.put(base + "/keiko-backups", encryption={"sseAlgorithm": "AES256"})["encryption"] == \
        {"sseAlgorithm": "AES256"}
    c.delete(base + "/keiko-backups")
    assert c.get(base) == []


def test_walk_every_route(ovh_emulator):
    emu = ovh_emulator
    c = emu.ovh_client()
    base = _base(emu)
    # registry
    plans = c.get(base + "/capabilities/containerRegistry")[0]["plans"]
    reg = c.post(base + "/containerRegistry", name="walk", region="GRA")
    rpath = base + f"/containerRegistry/{reg['id']}"
    c.get(base + "/containerRegistry")
    _ready(c, rpath)
    c.put(rpath, name="walk-renamed")
    c.get(rpath + "/capabilities/plan")
    c.get(rpath + "/plan")
    c.put(rpath + "/plan", planID=plans[1]["id"])
    _ready(c, rpath)
    ru = c.post(rpath + "/users", login="walker", email="walker@example.org")
    c.get(rpath + "/users")
    c.get(rpath + f"/users/{ru['id']}")
    c.delete(rpath + f"/users/{ru['id']}")
    c.delete(rpath)
    # users
    c.get(base + "/role")
    user = c.post(base + "/user", description="walk", role="objectstore_operator")
    upath = base + f"/user/{user['id']}"
    c.get(base + "/user")
    _ready(c, upath, "ok")
    c.post(upath + "/regeneratePassword")
    roles = {r["name"]: r["id"] for r in c.get(base + "/role")["roles"]}
    c.post(upath + "/role", roleId=roles["compute_operator"])
    c.get(upath + "/role")
    c.get(upath + f"/role/{roles['compute_operator']}")
    c.delete(upath + f"/role/{roles['compute_operator']}")
    c.put(upath + "/role", rolesIds=[roles["objectstore_operator"]])
    pair = c.post(upath + "/s3Credentials")
    c.get(upath + "/s3Credentials")
    c.get(upath + f"/s3Credentials/{pair['access']}")
    c.post(upath + f"/s3Credentials/{pair['access']}/secret")
    c.delete(upath + f"/s3Credentials/{pair['access']}")
    # storage
    spath = base + "/region/GRA/storage"
    c.post(spath, name="walk", ownerId=user["id"], encryption={"sseAlgorithm": "AES256"})
    c.get(spath)
    c.get(spath + "/walk")
    c.put(spath + "/walk", versioning={"status": "enabled"})
    c.post(spath + f"/walk/policy/{user['id']}", roleName="readOnly")
    c.delete(spath + "/walk")
    c.delete(upath)

    served = {(r["method"], r["path"]) for r in emu.admin("GET", "routes") if r["module"] in MODULES}
    hit = {(e["method"], e["operation"]) for e in emu.requests() if e.get("operation") and e["status"] == 200}
    assert sorted(served - hit) == []
    assert emu.violations() == []
