"""ovh_kube_cluster against the emulator: the fixed order, upgrades, refusals, actions."""

from conftest import Step

M = "ovh_kube_cluster"
CREATE = {"name": "keiko-it", "region": "GRA11", "version": "1.31", "update_policy": "MINIMAL_DOWNTIME",
          "kube_proxy_mode": "iptables",
          "customization": {"api_server": {"admission_plugins": {"enabled": ["NodeRestriction"],
                                                                 "disabled": ["AlwaysPullImages"]}}}}
UPDATE = {"name": "keiko-it", "update_policy": "ALWAYS_UPDATE", "version": "1.31",
          "customization": {"kube_proxy": {"iptables": {"sync_period": "PT1M", "min_sync_period": "PT2S"}}}}


def test_cluster_lifecycle_in_the_fixed_order(play):
    run = play([
        Step("invalid", M, dict(CREATE, version="1.31.2"), fails=True),
        Step("check_create", M, CREATE, check=True, diff=True),
        Step("create", M, CREATE),
        Step("create_again", M, CREATE),
        Step("update", M, UPDATE, diff=True),
        Step("update_again", M, dict(UPDATE, customization={"kube_proxy": {"iptables": {"sync_period": "PT60S"}}})),
        Step("delete", M, {"name": "keiko-it", "state": "absent"}),
        Step("delete_again", M, {"name": "keiko-it", "state": "absent"}),
    ])
    assert "MAJOR.MINOR" in run["invalid"]["msg"]
    assert run.requests["invalid"] == []  # rejected before any request

    assert run["check_create"]["changed"] is True
    assert run.writes("check_create") == []
    assert run["check_create"]["cluster"]["name"] == "keiko-it"
    assert run["check_create"]["diff"]["after"]["region"] == "GRA11"

    created = run["create"]
    assert created["changed"] is True and created["cluster"]["status"] == "READY"
    assert run.writes("create") == [("POST", "/cloud/project/{serviceName}/kube")]
    assert created["cluster"]["customization"]["apiServer"]["admissionPlugins"]["disabled"] == ["AlwaysPullImages"]

    assert run["create_again"]["changed"] is False
    assert run.writes("create_again") == []

    updated = run["update"]
    assert updated["changed"] is True
    assert run.writes("update") == [("PUT", "/cloud/project/{serviceName}/kube/{kubeId}/updatePolicy"),
                                    ("PUT", "/cloud/project/{serviceName}/kube/{kubeId}/customization")]
    assert updated["cluster"]["updatePolicy"] == "ALWAYS_UPDATE"
    assert updated["cluster"]["customization"]["kubeProxy"]["iptables"]["syncPeriod"] == "PT1M"
    assert updated["cluster"]["status"] == "READY"
    assert updated["diff"]["before"]["updatePolicy"] == "MINIMAL_DOWNTIME"

    # PT60S is PT1M: no change, no write.
    assert run["update_again"]["changed"] is False
    assert run.writes("update_again") == []

    assert run["delete"]["changed"] is True
    assert run.writes("delete") == [("DELETE", "/cloud/project/{serviceName}/kube/{kubeId}")]
    assert "cluster" not in run["delete"]
    assert run["delete_again"]["changed"] is False
    assert run.writes("delete_again") == []


def test_upgrades_refusals_and_actions(play, emu):
    client = emu.ovh_client()
    base = "/cloud/project/%s/kube" % emu.service_name
    client.post(base, region="GRA11", name="upg", version="1.30", updatePolicy="ALWAYS_UPDATE")
    run = play([
        Step("downgrade", M, {"name": "upg", "version": "1.29"}, fails=True),
        Step("immutable", M, {"name": "upg", "region": "SBG5", "update_policy": "NEVER_UPDATE"}, fails=True),
        Step("never_set", M, {"name": "upg", "update_policy": "NEVER_UPDATE"}),
        Step("never_refused", M, {"name": "upg", "version": "1.31"}, fails=True),
        Step("two_minors", M, {"name": "upg", "version": "1.32", "update_policy": "MINIMAL_DOWNTIME"}),
        Step("two_minors_again", M, {"name": "upg", "version": "1.32"}),
        Step("patch_forced", M, {"name": "upg", "upgrade": "latest_patch", "force": True}),
        Step("restart", M, {"name": "upg", "action": "restart"}),
        Step("reset", M, {"name": "upg", "action": "reset", "worker_nodes_policy": "reinstall",
                          "kube_proxy_mode": "ipvs"}),
    ])
    # Refusals: explained, and nothing written.
    assert "downgrade is refused" in run["downgrade"]["msg"]
    assert run.writes("downgrade") == []
    assert "region cannot be updated" in run["immutable"]["msg"]
    assert run.writes("immutable") == []  # the update policy in the same task was not applied either
    assert "update_policy" in run["never_refused"]["msg"] and "NEVER_UPDATE" in run["never_refused"]["msg"]
    assert run["never_refused"]["failure"]["http_status"] == 409

    # Two minors: two NEXT_MINOR steps, each after the cluster is READY on the previous minor.
    entries = run.requests["two_minors"]
    posts = [e for e in entries if e["method"] == "POST"]
    assert [e["body"] for e in posts] == [{"strategy": "NEXT_MINOR"}, {"strategy": "NEXT_MINOR"}]
    assert run.writes("two_minors")[0] == ("PUT", "/cloud/project/{serviceName}/kube/{kubeId}/updatePolicy")
    between = [e for e in entries if posts[0]["seq"] < e["seq"] < posts[1]["seq"] and e["method"] == "GET"]
    assert len(between) >= 2, "no wait between the two steps"
    assert posts[1]["time"] - posts[0]["time"] >= 0.3  # the first step's UPDATING lasted 0.3 s
    assert run["two_minors"]["cluster"]["version"] == "1.32"
    assert run["two_minors"]["actions"][-2:] == ["update version 1.30 -> 1.31 (NEXT_MINOR)",
                                                 "update version 1.31 -> 1.32 (NEXT_MINOR)"]
    assert run["two_minors_again"]["changed"] is False and run.writes("two_minors_again") == []

    # Not idempotent by design: forced patch, restart, reset.
    post = [e for e in run.requests["patch_forced"] if e["method"] == "POST"]
    assert [e["body"] for e in post] == [{"strategy": "LATEST_PATCH", "force": True}]
    assert run.writes("restart") == [("POST", "/cloud/project/{serviceName}/kube/{kubeId}/restart")]
    assert run.writes("reset") == [("POST", "/cloud/project/{serviceName}/kube/{kubeId}/reset")]
    reset_body = [e for e in run.requests["reset"] if e["method"] == "POST"][0]["body"]
    assert reset_body == {"kubeProxyMode": "ipvs", "workerNodesPolicy": "reinstall"}
    assert run["reset"]["cluster"]["kubeProxyMode"] == "ipvs" and run["reset"]["cluster"]["status"] == "READY"
