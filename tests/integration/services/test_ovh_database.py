"""ovh_database against the emulator: the fixed order, one in-place PUT, refusals before any write, forks."""

from ovh_scenario import Step, wait_status

M = "ovh_database"
SERVICES = "/cloud/project/{serviceName}/database/postgresql"
SERVICE = SERVICES + "/{clusterId}"
ADVANCED = SERVICE + "/advancedConfiguration"


def test_database_lifecycle(play, emu):
    create = {"description": "keiko-prod", "engine": "postgresql", "plan": "business", "flavor": "db1-7",
              "version": "16", "nodes": 2, "region": "GRA", "disk_size": 160, "backup_time": "02:00",
              "maintenance_time": "04:30",
              "ip_restrictions": [{"ip": "10.42.0.0/16", "description": "kube nodes"}, {"ip": "203.0.113.7"}],
              "advanced_configuration": {"work_mem": 64, "jit": False}}
    update = dict(create, plan="production", nodes=3, disk_size=320, version="17",
                  ip_restrictions=[{"ip": "10.42.0.0/16", "description": "kube nodes"}])
    run = play([
        Step("invalid_nodes", M, dict(create, nodes="three"), fails=True),
        Step("invalid_time", M, dict(create, backup_time="25:00"), fails=True),
        Step("invalid_network", M, dict(create, network_id="pn-123_4", subnet_id="x"), fails=True),
        Step("check_create", M, create, check=True, diff=True),
        Step("create", M, create),
        Step("create_again", M, create),
        Step("update", M, update, diff=True),
        Step("update_again", M, update),
        Step("add_ip_without_purge", M, {"description": "keiko-prod", "purge_ip_restrictions": False,
                                         "ip_restrictions": [{"ip": "198.51.100.0/24", "description": "vpn"}]}),
        Step("engine_change", M, dict(update, engine="mysql"), fails=True),
        Step("region_change", M, dict(update, region="SBG"), fails=True),
        Step("protected", M, {"description": "keiko-prod", "state": "absent"}, fails=True),
        Step("check_delete", M, {"description": "keiko-prod", "state": "absent", "deletion_protection": False},
             check=True),
        Step("delete", M, {"description": "keiko-prod", "state": "absent", "deletion_protection": False}),
        Step("delete_again", M, {"description": "keiko-prod", "state": "absent", "deletion_protection": False}),
    ])
    for label, text in (("invalid_nodes", "nodes must be"), ("invalid_time", "backup_time"),
                        ("invalid_network", "network_id must be a UUID")):
        assert text in run[label]["msg"] and run.requests[label] == [], label

    assert run["check_create"]["changed"] is True and run.writes("check_create") == []
    predicted = run["check_create"]["database"]
    assert (predicted["plan"], predicted["nodeNumber"], predicted["status"]) == ("business", 2, "CREATING")
    assert run["check_create"]["advanced_configuration"] == {"work_mem": "64", "jit": "false"}

    created = run["create"]["database"]
    assert run.writes("create") == [("POST", SERVICES), ("PUT", ADVANCED)]
    post = run.bodies("create", "POST")[0]
    assert post["nodesPattern"] == {"flavor": "db1-7", "number": 2, "region": "GRA"}
    assert post["backups"] == {"time": "02:00:00"} and post["maintenanceTime"] == "04:30:00"
    assert post["ipRestrictions"] == [{"ip": "10.42.0.0/16", "description": "kube nodes"},
                                      {"ip": "203.0.113.7/32", "description": ""}]
    assert created["status"] == "READY" and created["nodeNumber"] == 2 and created["disk"]["size"] == 160
    assert run["create"]["advanced_configuration"] == {"work_mem": "64", "jit": "false"}
    assert run["create_again"]["changed"] is False and run.writes("create_again") == []

    # Plan, nodes, disk, version and IP restrictions: ONE in-place PUT, never a delete.
    assert run.writes("update") == [("PUT", SERVICE)]
    put = run.bodies("update", "PUT")[0]
    assert put == {"plan": "production", "version": "17", "nodeNumber": 3, "disk": {"size": 320},
                   "ipRestrictions": [{"ip": "10.42.0.0/16", "description": "kube nodes"}]}
    svc = run["update"]["database"]
    assert (svc["id"], svc["plan"], svc["nodeNumber"], svc["status"]) == (created["id"], "production", 3, "READY")
    assert run["update"]["diff"]["before"]["database"]["plan"] == "business"
    assert run["update"]["diff"]["after"]["database"]["plan"] == "production"
    assert run["update_again"]["changed"] is False and run.writes("update_again") == []
    assert run.bodies("add_ip_without_purge", "PUT")[0] == {"ipRestrictions": [
        {"ip": "198.51.100.0/24", "description": "vpn"}, {"ip": "10.42.0.0/16", "description": "kube nodes"}]}

    # Refused before any write: an engine change, a region change, a protected delete.
    assert "engine of database service keiko-prod cannot be updated" in run["engine_change"]["msg"]
    assert "region of database service keiko-prod cannot be updated" in run["region_change"]["msg"]
    assert "deletion_protection" in run["protected"]["msg"]
    for label in ("engine_change", "region_change", "protected", "check_delete"):
        assert run.writes(label) == [], label
    assert run["check_delete"]["changed"] is True

    assert run.writes("delete") == [("DELETE", SERVICE)]
    assert run["delete"]["database"]["id"] == created["id"] and run["delete"]["waited"]["status"] is None
    assert run["delete_again"]["changed"] is False and run.writes("delete_again") == []
    assert emu.ovh_client().get("/cloud/project/%s/database/service" % emu.service_name) == []
    # Nothing in the whole scenario deleted a service implicitly.
    deletes = [label for label in run.requests if ("DELETE", SERVICE) in run.writes(label)]
    assert deletes == ["delete"]


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
