"""Users, databases, connection pools and the info modules of a PostgreSQL service, against the emulator;
"500 but created" ends adopted, never duplicated."""

from ovh_playbook import Step

SVC = "/cloud/project/{serviceName}/database/postgresql/{clusterId}"
USERS = SVC + "/user"
USER = USERS + "/{userId}"
DBS = SVC + "/database"
DB = DBS + "/{databaseId}"
POOLS = SVC + "/connectionPool"
POOL = POOLS + "/{connectionPoolId}"


def test_user_database_and_pool_lifecycles(play, emu, pg):
    user = {"cluster": "keiko-pg", "name": "identity", "roles": []}
    db = {"cluster": pg["id"], "name": "identity"}
    pool = {"cluster": "keiko-pg", "name": "identity-pool", "database": "identity", "user": "identity",
            "mode": "transaction", "size": 10}
    run = play([
        # users
        Step("user_invalid", "ovh_database_user", dict(user, state="absent", reset_password=True), fails=True),
        Step("user_unknown_cluster", "ovh_database_user", dict(user, cluster="nope"), fails=True),
        Step("user_check_create", "ovh_database_user", user, check=True),
        Step("user_create", "ovh_database_user", user),
        Step("user_create_again", "ovh_database_user", user),
        Step("user_update", "ovh_database_user", dict(user, roles=["replication"])),
        Step("user_update_again", "ovh_database_user", dict(user, roles=["replication"])),
        Step("user_reset", "ovh_database_user", {"cluster": "keiko-pg", "name": "identity", "reset_password": True}),
        # databases
        Step("db_check_create", "ovh_database_database", db, check=True),
        Step("db_create", "ovh_database_database", db),
        Step("db_create_again", "ovh_database_database", db),
        # pools: created right after the database, which the API does not know yet (403, retried)
        Step("pool_invalid", "ovh_database_connection_pool", dict(pool, size=0), fails=True),
        Step("pool_check_create", "ovh_database_connection_pool", pool, check=True),
        Step("pool_create", "ovh_database_connection_pool", pool),
        Step("pool_create_again", "ovh_database_connection_pool", pool),
        Step("pool_update", "ovh_database_connection_pool", dict(pool, mode="session", size=20, user="")),
        Step("pool_update_again", "ovh_database_connection_pool", dict(pool, mode="session", size=20, user="")),
        Step("info", "ovh_database_info", {"cluster": "keiko-pg",
                                           "include": ["certificates", "users", "databases", "connection_pools",
                                                       "advanced_configuration"]}),
        Step("backups", "ovh_database_backup_info", {"cluster": "keiko-pg", "status": ["READY"]}),
        Step("pool_delete", "ovh_database_connection_pool", {"cluster": "keiko-pg", "name": "identity-pool",
                                                             "state": "absent"}),
        Step("pool_delete_again", "ovh_database_connection_pool", {"cluster": "keiko-pg", "name": "identity-pool",
                                                                   "state": "absent"}),
        Step("db_delete", "ovh_database_database", dict(db, state="absent")),
        Step("db_delete_again", "ovh_database_database", dict(db, state="absent")),
        Step("db_default", "ovh_database_database", dict(db, name="defaultdb", state="absent"), fails=True),
        Step("user_delete", "ovh_database_user", dict(user, state="absent")),
        Step("user_delete_again", "ovh_database_user", dict(user, state="absent")),
    ])
    assert run.requests["user_invalid"] == []
    assert "No database service with the ID or description 'nope'" in run["user_unknown_cluster"]["msg"]
    assert run.writes("user_unknown_cluster") == []

    assert run["user_check_create"]["changed"] and run.writes("user_check_create") == []
    assert "password" not in run["user_check_create"]["user"]
    created = run["user_create"]
    assert run.writes("user_create") == [("POST", USERS)]
    assert created["user"]["username"] == "identity" and created["user"]["status"] == "READY"
    assert len(created["user"]["password"]) >= 16
    assert run["user_create_again"]["changed"] is False and run.writes("user_create_again") == []
    assert "password" not in run["user_create_again"]["user"]
    assert run.writes("user_update") == [("PUT", USER)]
    assert run.bodies("user_update", "PUT") == [{"roles": ["replication"]}]
    assert run["user_update_again"]["changed"] is False and run.writes("user_update_again") == []
    assert run.writes("user_reset") == [("POST", USER + "/credentials/reset")]
    assert run["user_reset"]["user"]["password"] not in ("", created["user"]["password"])

    assert run.writes("db_check_create") == [] and run["db_check_create"]["changed"]
    assert run.writes("db_create") == [("POST", DBS)] and run["db_create"]["database"]["name"] == "identity"
    assert run["db_create_again"]["changed"] is False and run.writes("db_create_again") == []

    assert run.requests["pool_invalid"] == []
    assert run.writes("pool_check_create") == []
    posts = run.writes("pool_create")
    statuses = [e["status"] for e in run.requests["pool_create"] if e["method"] == "POST"]
    assert set(posts) == {("POST", POOLS)} and statuses[-1] == 200
    assert all(s == 403 for s in statuses[:-1])  # only refusals were sent again, never an applied create
    new_pool = run["pool_create"]["connection_pool"]
    assert (new_pool["mode"], new_pool["size"], new_pool["userId"]) == ("transaction", 10, created["user"]["id"])
    assert run["pool_create_again"]["changed"] is False and run.writes("pool_create_again") == []
    assert run.writes("pool_update") == [("PUT", POOL)]
    assert run.bodies("pool_update", "PUT")[0] == {"databaseId": new_pool["databaseId"], "mode": "session",
                                                   "size": 20, "userId": None}
    assert run["pool_update_again"]["changed"] is False and run.writes("pool_update_again") == []

    info = run["info"]["services"]
    assert len(info) == 1 and info[0]["service"]["id"] == pg["id"]
    assert info[0]["certificates"]["ca"].startswith("-----BEGIN CERTIFICATE-----")
    assert sorted(u["username"] for u in info[0]["users"]) == ["avnadmin", "identity"]
    assert not any("password" in u for u in info[0]["users"])
    assert sorted(d["name"] for d in info[0]["databases"]) == ["defaultdb", "identity"]
    assert [p["name"] for p in info[0]["connection_pools"]] == ["identity-pool"]
    assert info[0]["service"]["endpoints"][0]["component"] == "postgresql"
    assert run.writes("info") == [] and run.writes("backups") == []
    assert run["backups"]["cluster_id"] == pg["id"] and run["backups"]["backups"][0]["status"] == "READY"
    assert run["backups"]["pitr"]["until"]

    for kind, write in (("pool", ("DELETE", POOL)), ("db", ("DELETE", DB)), ("user", ("DELETE", USER))):
        assert run.writes(kind + "_delete") == [write]
        assert run[kind + "_delete_again"]["changed"] is False and run.writes(kind + "_delete_again") == []
    assert "default database" in run["db_default"]["msg"] and run.writes("db_default") == []


def test_500_but_created_is_adopted_not_duplicated(play, emu, pg):
    client = emu.ovh_client()
    emu.set_faults(fault_500_created_rate=1.0)
    run = play([
        Step("user", "ovh_database_user", {"cluster": "keiko-pg", "name": "app", "roles": ["replication"]}),
        Step("db", "ovh_database_database", {"cluster": "keiko-pg", "name": "app"}),
        Step("service", "ovh_database", {"description": "keiko-other", "plan": "essential", "flavor": "db1-4",
                                         "version": "16", "nodes": 1, "region": "GRA"}),
    ])
    emu.set_faults(fault_500_created_rate=0.0)
    again = play([
        Step("user_again", "ovh_database_user", {"cluster": "keiko-pg", "name": "app", "roles": ["replication"]}),
        Step("db_again", "ovh_database_database", {"cluster": "keiko-pg", "name": "app"}),
    ], name="again")

    # The create answered 500, was not sent again, and the user was adopted with a fresh password.
    assert [(e["method"], e["operation"], e["status"]) for e in run.requests["user"] if e["method"] != "GET"] == [
        ("POST", USERS, 500), ("POST", USER + "/credentials/reset", 200)]
    assert run["user"]["adopted"] is True and run["user"]["changed"] is True
    assert run["user"]["user"]["password"] and run["user"]["user"]["roles"] == ["replication"]
    assert any("adopted" in w for w in run["user"]["warnings"])
    assert [(e["method"], e["status"]) for e in run.requests["db"] if e["method"] != "GET"] == [("POST", 500)]
    assert run["db"]["adopted"] is True and run["db"]["database"]["name"] == "app"
    assert run["service"]["adopted"] is True and run["service"]["database"]["status"] == "READY"
    assert len([w for w in run.writes("service") if w[0] == "POST"]) == 1

    users = [client.get(pg["path"] + "/user/" + u)["username"] for u in client.get(pg["path"] + "/user")]
    dbs = [client.get(pg["path"] + "/database/" + d)["name"] for d in client.get(pg["path"] + "/database")]
    assert sorted(users) == ["app", "avnadmin"] and sorted(dbs) == ["app", "defaultdb"]
    services = client.get("/cloud/project/%s/database/service" % emu.service_name)
    assert len(services) == 2
    assert again["user_again"]["changed"] is False and again.writes("user_again") == []
    assert again["db_again"]["changed"] is False and again.writes("db_again") == []
