"""ovh_database against the emulator, in the request log: what a create and an update send (one in-place PUT,
never a delete), and forks (the fixed order and the refusals are the integration target and
tests/integration/test_bad_input.py)."""

from ovh_scenario import Step, wait_status

M = "ovh_database"
SERVICES = "/cloud/project/{serviceName}/database/postgresql"
SERVICE = SERVICES + "/{clusterId}"
ADVANCED = SERVICE + "/advancedConfiguration"


def test_create_and_update_requests(play, emu):
    create = {"description": "keiko-prod", "engine": "postgresql", "plan": "business", "flavor": "db1-7",
              "version": "16", "nodes": 2, "region": "GRA", "disk_size": 160, "backup_time": "02:00",
              "maintenance_time": "04:30",
              "ip_restrictions": [{"ip": "10.42.0.0/16", "description": "kube nodes"}, {"ip": "203.0.113.7"}],
              "advanced_configuration": {"work_mem": 64, "jit": False}}
    update = dict(create, plan="production", nodes=3, disk_size=320, version="17",
                  ip_restrictions=[{"ip": "10.42.0.0/16", "description": "kube nodes"}])
    run = play([
        Step("create", M, create),
        Step("update", M, update, diff=True),
        Step("add_ip_without_purge", M, {"description": "keiko-prod", "purge_ip_restrictions": False,
                                         "ip_restrictions": [{"ip": "198.51.100.0/24", "description": "vpn"}]}),
    ])
    created = run["create"]["database"]
    assert run.writes("create") == [("POST", SERVICES), ("PUT", ADVANCED)]
    post = run.bodies("create", "POST")[0]
    assert post["nodesPattern"] == {"flavor": "db1-7", "number": 2, "region": "GRA"}
    assert post["backups"] == {"time": "02:00:00"} and post["maintenanceTime"] == "04:30:00"
    assert post["ipRestrictions"] == [{"ip": "10.42.0.0/16", "description": "kube nodes"},
                                      {"ip": "203.0.113.7/32", "description": ""}]
    assert created["status"] == "READY" and created["nodeNumber"] == 2 and created["disk"]["size"] == 160
    assert run["create"]["advanced_configuration"] == {"work_mem": "64", "jit": "false"}

    # Plan, nodes, disk, version and IP restrictions: ONE in-place PUT, never a delete.
    assert run.writes("update") == [("PUT", SERVICE)]
    put = run.bodies("update", "PUT")[0]
    assert put == {"plan": "production", "version": "17", "nodeNumber": 3, "disk": {"size": 320},
                   "ipRestrictions": [{"ip": "10.42.0.0/16", "description": "kube nodes"}]}
    svc = run["update"]["database"]
    assert (svc["id"], svc["plan"], svc["nodeNumber"], svc["status"]) == (created["id"], "production", 3, "READY")
    assert run["update"]["diff"]["before"]["service"]["plan"] == "business"
    assert run["update"]["diff"]["after"]["service"]["plan"] == "production"
    assert run.bodies("add_ip_without_purge", "PUT")[0] == {"ipRestrictions": [
        {"ip": "198.51.100.0/24", "description": "vpn"}, {"ip": "10.42.0.0/16", "description": "kube nodes"}]}
    # Nothing deleted the service implicitly: it is the one that was created.
    assert all(w[0] != "DELETE" for label in run.requests for w in run.writes(label))
    assert emu.ovh_client().get("/cloud/project/%s/database/service" % emu.service_name) == [created["id"]]


def test_forks_from_a_backup_and_a_point_in_time_reach_ready(play, emu, pg):
    client = emu.ovh_client()
    backup_id = client.get(pg["path"] + "/backup")[0]
    pitr = client.get(pg["path"])["backups"]["pitr"]
    base = {"plan": "business", "flavor": "db1-7", "version": "16", "nodes": 2, "region": "GRA"}
    from_backup = dict(base, description="keiko-restore-backup",
                       fork_from={"cluster": "keiko-pg", "backup_id": backup_id})
    from_pit = dict(base, description="keiko-restore-pit", fork_from={"service_id": pg["id"], "point_in_time": pitr})
    run = play([
        Step("bad_backup", M, dict(from_backup, fork_from={"cluster": "keiko-pg", "backup_id": "nope"}), fails=True),
        Step("both", M, dict(from_backup, fork_from={"cluster": "keiko-pg", "backup_id": backup_id,
                                                     "point_in_time": pitr}), fails=True),
        Step("check_fork", M, from_backup, check=True),
        Step("fork_backup", M, from_backup),
        Step("fork_backup_again", M, from_backup),
        Step("fork_pit", M, from_pit),
        Step("fork_pit_again", M, from_pit),
    ])
    assert run.requests["bad_backup"] == [] and run.requests["both"] == []
    assert run.writes("check_fork") == []
    for label, fork in (("fork_backup", {"serviceId": pg["id"], "backupId": backup_id}),
                        ("fork_pit", {"serviceId": pg["id"], "pointInTime": pitr})):
        assert run.writes(label) == [("POST", SERVICES)]
        assert run.bodies(label, "POST")[0]["forkFrom"] == fork
        svc = run[label]["database"]
        assert svc["status"] == "READY" and svc["id"] != pg["id"]
        assert run[label + "_again"]["changed"] is False and run.writes(label + "_again") == []
    ids = client.get("/cloud/project/%s/database/service" % emu.service_name)
    assert len(ids) == 3
    # The forks carry the source's databases (what a restore is for).
    fork = run["fork_pit"]["database"]
    path = "/cloud/project/%s/database/postgresql/%s" % (emu.service_name, fork["id"])
    assert wait_status(client, path)["description"] == "keiko-restore-pit"
