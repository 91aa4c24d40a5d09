"""ovh_container_registry and ovh_container_registry_user against the emulator, in the fixed order."""

from ovh_playbook import Step

REGS = "/cloud/project/{serviceName}/containerRegistry"
REG = REGS + "/{registryID}"


def test_registry_and_user_lifecycle(play, emu):
    reg = {"name": "keiko-prod", "region": "GRA", "plan": "small"}
    user = {"registry": "keiko-prod", "login": "ci-pusher", "email": "ci@keiko.example"}
    run = play([
        Step("invalid", "ovh_container_registry", dict(reg, name="Keiko_Prod"), fails=True),
        Step("check_create", "ovh_container_registry", reg, check=True),
        Step("create", "ovh_container_registry", reg),
        Step("create_again", "ovh_container_registry", reg),
        Step("update", "ovh_container_registry", dict(reg, plan="MEDIUM"), diff=True),
        Step("update_again", "ovh_container_registry", dict(reg, plan="MEDIUM")),
        Step("bad_plan", "ovh_container_registry", dict(reg, plan="HUGE"), fails=True),
        Step("region_change", "ovh_container_registry", dict(reg, region="DE"), fails=True),
        Step("user_missing_email", "ovh_container_registry_user", dict(user, email=None), fails=True),
        Step("user_check_create", "ovh_container_registry_user", user, check=True),
        Step("user_create", "ovh_container_registry_user", user),
        Step("user_create_again", "ovh_container_registry_user", user),
        Step("user_email_change", "ovh_container_registry_user", dict(user, email="other@keiko.example"),
             fails=True),
        Step("user_delete", "ovh_container_registry_user", dict(user, state="absent")),
        Step("user_delete_again", "ovh_container_registry_user", dict(user, state="absent")),
        Step("delete", "ovh_container_registry", {"name": "keiko-prod", "state": "absent"}),
        Step("delete_again", "ovh_container_registry", {"name": "keiko-prod", "state": "absent"}),
    ])
    assert "name must be" in run["invalid"]["msg"] and run.requests["invalid"] == []
    assert run["check_create"]["changed"] and run.writes("check_create") == []
    assert run["check_create"]["plan"]["name"] == "SMALL"

    assert run.writes("create") == [("POST", REGS)]
    assert run.bodies("create", "POST")[0]["planID"] == run["check_create"]["plan"]["id"]
    created = run["create"]
    assert created["registry"]["status"] == "READY" and created["plan"]["name"] == "SMALL"
    assert run["create_again"]["changed"] is False and run.writes("create_again") == []

    # The plan changes in place: one PUT on .../plan, the registry keeps its ID.
    assert run.writes("update") == [("PUT", REG + "/plan")]
    assert run["update"]["plan"]["name"] == "MEDIUM" and run["update"]["registry"]["id"] == created["registry"]["id"]
    assert run["update"]["diff"]["before"]["plan"]["name"] == "SMALL"
    assert run["update_again"]["changed"] is False and run.writes("update_again") == []
    assert "Unknown registry plan 'HUGE'" in run["bad_plan"]["msg"] and run.writes("bad_plan") == []
    assert "region of registry keiko-prod cannot be updated" in run["region_change"]["msg"]
    assert run.writes("region_change") == []

    assert run.writes("user_missing_email") == []
    assert run.writes("user_check_create") == [] and run["user_check_create"]["user"]["password"] is None
    assert run.writes("user_create") == [("POST", REG + "/users")]
    assert run["user_create"]["user"]["user"] == "ci-pusher" and len(run["user_create"]["user"]["password"]) >= 12
    assert run["user_create_again"]["changed"] is False and run["user_create_again"]["user"]["password"] is None
    assert run.writes("user_create_again") == []
    assert "cannot be updated" in run["user_email_change"]["msg"] and run.writes("user_email_change") == []
    assert run.writes("user_delete") == [("DELETE", REG + "/users/{userID}")]
    assert run["user_delete_again"]["changed"] is False and run.writes("user_delete_again") == []

    assert run.writes("delete") == [("DELETE", REG)]
    assert run["delete_again"]["changed"] is False and run.writes("delete_again") == []
    assert emu.ovh_client().get("/cloud/project/%s/containerRegistry" % emu.service_name) == []
