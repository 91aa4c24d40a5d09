"""ovh_cloud_user, ovh_s3_credentials and ovh_s3_bucket against the emulator, in the fixed order;
S3 credentials run twice leave one key pair."""

from ovh_playbook import Step

USERS = "/cloud/project/{serviceName}/user"
USER = USERS + "/{userId}"
S3 = USER + "/s3Credentials"
BUCKETS = "/cloud/project/{serviceName}/region/{regionName}/storage"
BUCKET = BUCKETS + "/{name}"


def test_backup_user_key_pair_and_bucket(play, emu):
    user = {"description": "keiko-backups", "roles": ["objectstore_operator"]}
    creds = {"user": "keiko-backups"}
    bucket = {"name": "keiko-backups", "region": "GRA", "owner": "keiko-backups", "versioning": "enabled"}
    run = play([
        Step("user_invalid", "ovh_cloud_user", dict(user, roles=["superuser"]), fails=True),
        Step("user_check_create", "ovh_cloud_user", user, check=True),
        Step("user_create", "ovh_cloud_user", user),
        Step("user_create_again", "ovh_cloud_user", user),
        Step("user_update", "ovh_cloud_user", dict(user, roles=["objectstore_operator", "network_operator"])),
        Step("user_update_again", "ovh_cloud_user", dict(user, roles=["network_operator", "objectstore_operator"])),
        Step("s3_check_create", "ovh_s3_credentials", creds, check=True),
        Step("s3_create", "ovh_s3_credentials", creds),
        Step("s3_create_again", "ovh_s3_credentials", creds),
        Step("s3_fetch", "ovh_s3_credentials", dict(creds, fetch_secret=True)),
        Step("bucket_invalid", "ovh_s3_bucket", dict(bucket, name="Not_A_Bucket"), fails=True),
        Step("bucket_check_create", "ovh_s3_bucket", bucket, check=True),
        Step("bucket_create", "ovh_s3_bucket", bucket),
        Step("bucket_create_again", "ovh_s3_bucket", bucket),
        Step("bucket_update", "ovh_s3_bucket", dict(bucket, versioning="suspended", encryption="AES256")),
        Step("bucket_update_again", "ovh_s3_bucket", dict(bucket, versioning="suspended", encryption="AES256")),
        Step("bucket_disable", "ovh_s3_bucket", dict(bucket, versioning="disabled"), fails=True),
        Step("bucket_delete", "ovh_s3_bucket", {"name": "keiko-backups", "region": "GRA", "state": "absent"}),
        Step("bucket_delete_again", "ovh_s3_bucket", {"name": "keiko-backups", "region": "GRA", "state": "absent"}),
        Step("s3_delete", "ovh_s3_credentials", dict(creds, state="absent")),
        Step("s3_delete_again", "ovh_s3_credentials", dict(creds, state="absent")),
        Step("user_delete", "ovh_cloud_user", {"description": "keiko-backups", "state": "absent"}),
        Step("user_delete_again", "ovh_cloud_user", {"description": "keiko-backups", "state": "absent"}),
    ])
    assert run.requests["user_invalid"] == [] and "superuser" in run["user_invalid"]["msg"]
    assert run.writes("user_check_create") == [] and run["user_check_create"]["changed"]
    created = run["user_create"]["user"]
    assert run.writes("user_create") == [("POST", USERS)]
    assert run.bodies("user_create", "POST") == [{"description": "keiko-backups", "roles": ["objectstore_operator"]}]
    assert created["status"] == "ok" and created["password"] and created["username"].startswith("user-")
    assert run["user_create_again"]["changed"] is False and "password" not in run["user_create_again"]["user"]
    assert run.writes("user_create_again") == []
    assert run.writes("user_update") == [("PUT", USER + "/role")]
    roles = sorted(r["name"] for r in run["user_update"]["user"]["roles"])
    assert roles == ["network_operator", "objectstore_operator"]
    assert run["user_update_again"]["changed"] is False and run.writes("user_update_again") == []

    # S3 credentials twice: one key pair; the secret comes with the creation and with fetch_secret only.
    assert run.writes("s3_check_create") == []
    assert run.writes("s3_create") == [("POST", S3)]
    pair = run["s3_create"]["credentials"]
    assert pair["secret"] and pair["userId"] == created["openstackId"]
    assert run["s3_create_again"]["changed"] is False and run.writes("s3_create_again") == []
    assert run["s3_create_again"]["credentials"] == {k: pair[k] for k in ("access", "tenantId", "userId")}
    assert run["s3_fetch"]["changed"] is False and run["s3_fetch"]["credentials"]["secret"] == pair["secret"]
    # Over the whole scenario, one key pair was ever created.
    assert sum(run.writes(step.label).count(("POST", S3)) for step in run.steps) == 1

    assert run.requests["bucket_invalid"] == []
    assert run.writes("bucket_check_create") == []
    assert run.writes("bucket_create") == [("POST", BUCKETS)]
    assert run.bodies("bucket_create", "POST") == [{"name": "keiko-backups", "ownerId": created["id"],
                                                   "versioning": {"status": "enabled"}}]
    assert run["bucket_create"]["bucket"]["ownerId"] == created["id"]
    assert run["bucket_create_again"]["changed"] is False and run.writes("bucket_create_again") == []
    assert run.bodies("bucket_update", "PUT") == [{"versioning": {"status": "suspended"},
                                                  "encryption": {"sseAlgorithm": "AES256"}}]
    assert run["bucket_update_again"]["changed"] is False and run.writes("bucket_update_again") == []
    assert "can be suspended, not disabled" in run["bucket_disable"]["msg"] and run.writes("bucket_disable") == []
    assert run.writes("bucket_delete") == [("DELETE", BUCKET)]
    assert run["bucket_delete_again"]["changed"] is False and run.writes("bucket_delete_again") == []

    assert run.writes("s3_delete") == [("DELETE", S3 + "/{access}")]
    assert run["s3_delete_again"]["changed"] is False and run.writes("s3_delete_again") == []
    assert run.writes("user_delete") == [("DELETE", USER)]
    assert run["user_delete_again"]["changed"] is False and run.writes("user_delete_again") == []
    assert emu.ovh_client().get("/cloud/project/%s/user" % emu.service_name) == []
