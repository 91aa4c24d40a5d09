"""A -vvv run that creates and resets every kind of secret these modules return prints none of them, nor the
application secret or the consumer key; register still receives them."""

from ovh_scenario import Step, wait_status


def test_vvv_output_holds_no_password_secret_or_consumer_key(play, emu, pg):
    client = emu.ovh_client()
    base = "/cloud/project/%s/containerRegistry" % emu.service_name
    reg = client.post(base, name="keiko-secrets", region="GRA")
    wait_status(client, "%s/%s" % (base, reg["id"]))
    db_user = {"cluster": "keiko-pg", "name": "app"}
    cloud_user = {"description": "keiko-secrets", "roles": ["objectstore_operator"]}
    run = play([
        Step("db_user", "ovh_database_user", db_user),
        Step("db_user_again", "ovh_database_user", db_user, diff=True),
        Step("db_user_reset", "ovh_database_user", dict(db_user, reset_password=True), diff=True),
        Step("cloud_user", "ovh_cloud_user", cloud_user),
        Step("cloud_user_reset", "ovh_cloud_user", dict(cloud_user, reset_password=True)),
        Step("s3", "ovh_s3_credentials", {"user": "keiko-secrets"}),
        Step("s3_fetch", "ovh_s3_credentials", {"user": "keiko-secrets", "fetch_secret": True}),
        Step("registry_user", "ovh_container_registry_user",
             {"registry": "keiko-secrets", "login": "ci", "email": "ci@keiko.example"}),
    ], verbosity=3)
    secrets = {
        "db password": run["db_user"]["user"]["password"],
        "db password after reset": run["db_user_reset"]["user"]["password"],
        "cloud user password": run["cloud_user"]["user"]["password"],
        "cloud user password after reset": run["cloud_user_reset"]["user"]["password"],
        "S3 secret": run["s3"]["credentials"]["secret"],
        "registry password": run["registry_user"]["user"]["password"],
        "application secret": emu.info["application_secret"],
        "consumer key": emu.info["consumer_key"],
    }
    assert run["s3_fetch"]["credentials"]["secret"] == secrets["S3 secret"]
    assert all(len(v) >= 12 for v in secrets.values()), "a secret was not returned to register"
    for what, value in secrets.items():
        assert value not in run.output, "%s leaked in the -vvv output" % what
    # The run was verbose: the results without a secret are printed, those with one are hidden.
    assert run["db_user_again"]["user"]["id"] in run.output
    assert run.output.count("the output has been hidden") >= 6
