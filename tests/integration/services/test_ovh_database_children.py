"""The FACTS.md behaviours through the modules: "500 but created" (database users, databases, services, and
the Public Cloud user and S3 key pair too) ends adopted, never duplicated; a pool created on a database PgBouncer does not know yet is retried on the 403 only.
(The fixed-order lifecycles are the integration targets.)"""

from ovh_scenario import Step

SVC = "/cloud/project/{serviceName}/database/postgresql/{clusterId}"
USERS = SVC + "/user"
USER = USERS + "/{userId}"
DBS = SVC + "/database"
POOLS = SVC + "/connectionPool"
CLOUD_USERS = "/cloud/project/{serviceName}/user"
S3 = CLOUD_USERS + "/{userId}/s3Credentials"


def test_500_but_created_is_adopted_not_duplicated(play, emu, pg):
    client = emu.ovh_client()
    emu.set_faults(fault_500_created_rate=1.0)
    run = play([
        Step("user", "ovh_database_user", {"cluster": "keiko-pg", "name": "app", "roles": ["replication"]}),
        Step("db", "ovh_database_database", {"cluster": "keiko-pg", "name": "app"}),
        Step("service", "ovh_database", {"description": "keiko-other", "plan": "essential", "flavor": "db1-4",
                                         "version": "16", "nodes": 1, "region": "GRA"}),
        Step("cloud_user", "ovh_cloud_user", {"description": "keiko-backups", "roles": ["objectstore_operator"]}),
        Step("s3", "ovh_s3_credentials", {"user": "keiko-backups"}),
    ])
    emu.set_faults(fault_500_created_rate=0.0)
    # A new database stays unknown to PgBouncer for transition_seconds: much longer than the step to the pool
    # takes to start, even on a loaded machine (the pool retries the 403 every wait_sleep until it is known).
    emu.set_settings(transition_seconds=15.0)
    again = play([
        Step("user_again", "ovh_database_user", {"cluster": "keiko-pg", "name": "app", "roles": ["replication"]}),
        Step("db_again", "ovh_database_database", {"cluster": "keiko-pg", "name": "app"}),
        Step("db_new", "ovh_database_database", {"cluster": "keiko-pg", "name": "fresh"}),
        Step("pool", "ovh_database_connection_pool", {"cluster": "keiko-pg", "name": "fresh-pool",
                                                      "database": "fresh", "user": "app", "mode": "transaction",
                                                      "size": 10, "wait_sleep": 1.0}),
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
    assert sorted(users) == ["app", "avnadmin"] and sorted(dbs) == ["app", "defaultdb", "fresh"]
    services = client.get("/cloud/project/%s/database/service" % emu.service_name)
    assert len(services) == 2

    # The Public Cloud user gets a new password (nobody received the first); the key pair its secret.
    assert [(e["method"], e["status"]) for e in run.requests["cloud_user"] if e["method"] != "GET"] == [
        ("POST", 500), ("POST", 200)]
    assert run["cloud_user"]["adopted"] is True and run["cloud_user"]["user"]["password"]
    assert list(run.writes("s3")) == [("POST", S3), ("POST", S3 + "/{access}/secret")]
    assert run["s3"]["adopted"] is True and run["s3"]["credentials"]["secret"]
    users = client.get("/cloud/project/%s/user" % emu.service_name)
    assert len(users) == 1
    assert len(client.get("/cloud/project/%s/user/%s/s3Credentials" % (emu.service_name, users[0]["id"]))) == 1
    assert again["user_again"]["changed"] is False and again.writes("user_again") == []
    assert again["db_again"]["changed"] is False and again.writes("db_again") == []

    # The pool is created right after its database, which PgBouncer does not know yet: the 403 "Service
    # database ... does not exist" refusals are sent again, nothing else.
    statuses = [e["status"] for e in again.requests["pool"] if e["method"] == "POST"]
    assert set(again.writes("pool")) == {("POST", POOLS)} and statuses[-1] == 200
    assert len(statuses) >= 2 and all(s == 403 for s in statuses[:-1])
    pool = again["pool"]["connection_pool"]
    assert (pool["name"], pool["mode"], pool["size"]) == ("fresh-pool", "transaction", 10)
