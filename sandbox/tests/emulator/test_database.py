"""Managed databases in the emulator: statuses, FACTS.md behaviours, forks, and a walk of every route."""

import pytest
from ovh.exceptions import APIError, BadParametersError, ResourceConflictError, ResourceNotFoundError

from helpers import wait_for

MODULE = "ovh_emulator.routes.database"


def _base(emu):
    return f"/cloud/project/{emu.service_name}/database"


def _create(emu, c, **kw):
    body = {"description": "keiko", "plan": "business", "version": "16",
            "nodesPattern": {"flavor": "db1-7", "number": 2, "region": "GRA"}}
    body.update(kw)
    return c.post(_base(emu) + "/postgresql", **body)


def _ready(c, path):
    wait_for(lambda: c.get(path)["status"] == "READY", timeout=10)


@pytest.mark.ovh_emulator(transition_seconds=1.0)
def test_service_lifecycle_and_in_place_update(ovh_emulator):
    c = ovh_emulator.ovh_client()
    svc = _create(ovh_emulator, c, ipRestrictions=[{"ip": "10.0.0.1", "description": "one"}])
    path = _base(ovh_emulator) + f"/postgresql/{svc['id']}"
    assert svc["status"] == "CREATING" and svc["nodeNumber"] == 2 and svc["engine"] == "postgresql"
    assert svc["ipRestrictions"] == [{"description": "one", "ip": "10.0.0.1/32", "status": "CREATING"}]
    with pytest.raises(BadParametersError) as exc:
        c.put(path, plan="production")
    assert "status is CREATING" in str(exc.value)
    _ready(c, path)
    generic = c.get(_base(ovh_emulator) + f"/service/{svc['id']}")
    assert generic["id"] == svc["id"] and generic["backups"]["pitr"]

    updated = c.put(path, plan="production", nodeNumber=3, disk={"size": 320})
    assert updated["status"] == "UPDATING" and updated["nodeNumber"] == 3 and updated["disk"]["size"] == 320
    _ready(c, path)
    with pytest.raises(BadParametersError):
        c.put(path, version="15")  # no downgrade
    with pytest.raises(BadParametersError):
        c.put(path, plan="essential")  # 3 nodes do not fit the plan

    c.delete(path)
    assert c.get(path)["status"] == "DELETING"
    wait_for(lambda: svc["id"] not in c.get(_base(ovh_emulator) + "/postgresql"), timeout=10)
    with pytest.raises(ResourceNotFoundError):
        c.get(path)


@pytest.mark.ovh_emulator(transition_seconds=1.0)
def test_users_conflict_and_pools_while_provisioning(ovh_emulator):
    c = ovh_emulator.ovh_client()
    svc = _create(ovh_emulator, c)
    path = _base(ovh_emulator) + f"/postgresql/{svc['id']}"
    db0 = c.get(path + "/database")[0]
    # FACTS.md: a pool created while the service provisions answers 403 "Service database ... does not exist"
    with pytest.raises(APIError) as exc:
        c.post(path + "/connectionPool", name="p", databaseId=db0, mode="session", size=5)
    assert "Service database 'defaultdb' does not exist" in str(exc.value)
    _ready(c, path)

    user = c.post(path + "/user", name="app", roles=["replication"])
    assert user["password"] and user["status"] == "CREATING"
    assert "password" not in c.get(path + f"/user/{user['id']}")
    with pytest.raises(ResourceConflictError):
        c.post(path + "/user", name="app")
    wait_for(lambda: c.get(path + f"/user/{user['id']}")["status"] == "READY", timeout=10)
    reset = c.post(path + f"/user/{user['id']}/credentials/reset")
    assert reset["password"] and reset["password"] != user["password"]

    db = c.post(path + "/database", name="app")
    with pytest.raises(APIError) as exc:  # the new database is not known to PgBouncer yet
        c.post(path + "/connectionPool", name="p", databaseId=db["id"], mode="session", size=5)
    assert exc.value.__class__.__name__ == "APIError" and "does not exist" in str(exc.value)
    pool = wait_for(lambda: _try(lambda: c.post(path + "/connectionPool", name="p", databaseId=db["id"],
                                                mode="transaction", size=5, userId=user["id"])), timeout=10)
    assert pool["uri"].endswith("/p?sslmode=require") and pool["userId"] == user["id"]


def _try(fn):
    try:
        return fn()
    except APIError:
        return None


def test_500_but_created_user(ovh_emulator):
    c = ovh_emulator.ovh_client()
    svc = _create(ovh_emulator, c)
    path = _base(ovh_emulator) + f"/postgresql/{svc['id']}"
    _ready(c, path)
    ovh_emulator.set_faults(fault_500_created_rate=1.0)
    with pytest.raises(APIError) as exc:
        c.post(path + "/user", name="app")
    assert "Internal server error" in str(exc.value)
    ovh_emulator.set_faults(fault_500_created_rate=0.0)
    names = [c.get(path + f"/user/{u}")["username"] for u in c.get(path + "/user")]
    assert sorted(names) == ["app", "avnadmin"]
    with pytest.raises(ResourceConflictError) as exc:
        c.post(path + "/user", name="app")
    assert "already exists" in str(exc.value)


def test_forks_from_a_backup_and_a_point_in_time(ovh_emulator):
    c = ovh_emulator.ovh_client()
    src = _create(ovh_emulator, c)
    spath = _base(ovh_emulator) + f"/postgresql/{src['id']}"
    _ready(c, spath)
    c.post(spath + "/database", name="keep")
    backups = c.get(spath + "/backup")
    assert len(backups) == 1
    backup = c.get(spath + f"/backup/{backups[0]}")
    assert backup["status"] == "READY" and backup["type"] == "automatic"

    with pytest.raises(BadParametersError):
        _create(ovh_emulator, c, description="bad", forkFrom={"serviceId": src["id"], "backupId": src["id"]})
    with pytest.raises(BadParametersError):
        _create(ovh_emulator, c, description="bad",
                forkFrom={"serviceId": src["id"], "pointInTime": "2001-01-01T00:00:00Z"})
    fork = _create(ovh_emulator, c, description="from-backup",
                   forkFrom={"serviceId": src["id"], "backupId": backups[0]})
    pit = _create(ovh_emulator, c, description="from-pit",
                  forkFrom={"serviceId": src["id"], "pointInTime": c.get(spath)["backups"]["pitr"]})
    for svc in (fork, pit):
        path = _base(ovh_emulator) + f"/postgresql/{svc['id']}"
        assert svc["status"] == "CREATING"
        _ready(c, path)
        names = sorted(c.get(path + f"/database/{d}")["name"] for d in c.get(path + "/database"))
        assert names == ["defaultdb", "keep"]


@pytest.mark.ovh_emulator(transition_seconds=1.0)
def test_advanced_configuration_is_validated(ovh_emulator):
    c = ovh_emulator.ovh_client()
    svc = _create(ovh_emulator, c)
    path = _base(ovh_emulator) + f"/postgresql/{svc['id']}"
    _ready(c, path)
    with pytest.raises(BadParametersError):
        c.put(path + "/advancedConfiguration", **{"no.such.key": "1"})
    with pytest.raises(BadParametersError):
        c.put(path + "/advancedConfiguration", work_mem="999999")
    assert c.put(path + "/advancedConfiguration", work_mem="64") == {"work_mem": "64"}
    assert c.get(path)["status"] == "UPDATING"


def test_walk_every_database_route(ovh_emulator):
    emu = ovh_emulator
    c = emu.ovh_client()
    base = _base(emu)
    c.get(base + "/capabilities")
    c.get(base + "/availability")
    c.get(base + "/service")
    c.get(base + "/service", category="operational")
    svc = _create(emu, c)
    path = base + f"/postgresql/{svc['id']}"
    c.get(base + "/postgresql")
    c.get(base + f"/service/{svc['id']}")
    _ready(c, path)
    c.put(path, description="renamed", maintenanceTime="03:00:00", backups={"time": "01:00:00", "regions": ["GRA"]})
    _ready(c, path)
    c.get(path + "/roles")
    c.get(path + "/certificates")
    node = c.get(path + "/node")[0]
    c.get(path + f"/node/{node}")
    c.get(path + "/capabilities/advancedConfiguration")
    c.get(path + "/advancedConfiguration")
    c.put(path + "/advancedConfiguration", jit="true")
    _ready(c, path)
    c.post(path + "/ipRestriction", ip="192.0.2.0/24", description="doc")
    c.get(path + "/ipRestriction")
    c.get(path + "/ipRestriction/192.0.2.0%2F24")
    _ready(c, path)
    c.put(path + "/ipRestriction/192.0.2.0%2F24", description="doc2")
    c.delete(path + "/ipRestriction/192.0.2.0%2F24")
    _ready(c, path)
    user = c.post(path + "/user", name="walker")
    c.get(path + "/user")
    wait_for(lambda: c.get(path + f"/user/{user['id']}")["status"] == "READY", timeout=10)
    c.put(path + f"/user/{user['id']}", roles=["replication"])
    c.post(path + f"/user/{user['id']}/credentials/reset")
    db = c.post(path + "/database", name="walk")
    c.get(path + "/database")
    c.get(path + f"/database/{db['id']}")
    pool = wait_for(lambda: _try(lambda: c.post(path + "/connectionPool", name="walk", databaseId=db["id"],
                                                mode="session", size=3)), timeout=10)
    c.get(path + "/connectionPool")
    c.get(path + f"/connectionPool/{pool['id']}")
    c.put(path + f"/connectionPool/{pool['id']}", databaseId=db["id"], mode="transaction", size=4, userId=user["id"])
    c.delete(path + f"/connectionPool/{pool['id']}")
    c.delete(path + f"/database/{db['id']}")
    c.delete(path + f"/user/{user['id']}")
    backup = c.get(path + "/backup")[0]
    c.get(path + f"/backup/{backup}")
    c.delete(path)

    served = {(r["method"], r["path"]) for r in emu.admin("GET", "routes") if r["module"] == MODULE}
    hit = {(e["method"], e["operation"]) for e in emu.requests() if e.get("operation") and e["status"] == 200}
    assert sorted(served - hit) == []
    assert emu.violations() == []


def test_a_network_or_subnet_used_by_a_service_cannot_be_deleted(ovh_emulator):
    c = ovh_emulator.ovh_client()
    nets = f"/cloud/project/{ovh_emulator.service_name}/network/private"
    net = c.post(nets, name="db-net", regions=["GRA7"], vlanId=7)
    npath = f"{nets}/{net['id']}"
    wait_for(lambda: c.get(npath)["status"] == "ACTIVE", timeout=10)
    sub = c.post(npath + "/subnet", dhcp=True, start="10.7.0.2", end="10.7.0.254", network="10.7.0.0/24",
                 noGateway=False, region="GRA7")
    os_id = c.get(npath)["regions"][0]["openstackId"]
    with pytest.raises(BadParametersError):  # a subnet of another network
        _create(ovh_emulator, c, networkId=os_id, subnetId="0c1f8e34-51a2-4d6b-8a3e-7f9b0c2d1e4a")
    svc = _create(ovh_emulator, c, networkId=os_id, subnetId=sub["id"])
    assert svc["networkType"] == "private" and svc["endpoints"][0]["domain"].startswith("private-")
    with pytest.raises(BadParametersError) as exc:
        c.delete(npath + f"/subnet/{sub['id']}")
    assert "used by database service(s) " + svc["id"] in str(exc.value)
    with pytest.raises(BadParametersError) as exc:
        c.delete(npath)
    assert "used by database service(s) " + svc["id"] in str(exc.value)
