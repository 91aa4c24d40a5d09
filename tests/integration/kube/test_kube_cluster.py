"""ovh_kube_cluster against the emulator, in the request log: the order of an upgrade over two minors, the
NEVER_UPDATE refusal before any write, the bodies of the actions (the fixed order and the other refusals before
any write are the integration target and tests/integration/test_bad_input.py)."""

from ovh_scenario import Step

M = "ovh_kube_cluster"


def test_upgrade_order_api_refusal_and_actions(play, emu):
    client = emu.ovh_client()
    base = "/cloud/project/%s/kube" % emu.service_name
    client.post(base, region="GRA11", name="upg", version="1.30", updatePolicy="ALWAYS_UPDATE")
    run = play([
        Step("never_set", M, {"name": "upg", "update_policy": "NEVER_UPDATE"}),
        Step("never_refused", M, {"name": "upg", "version": "1.31"}, fails=True),
        Step("two_minors", M, {"name": "upg", "version": "1.32", "update_policy": "MINIMAL_DOWNTIME"}),
        Step("patch_forced", M, {"name": "upg", "upgrade": "latest_patch", "force": True}),
        Step("restart", M, {"name": "upg", "action": "restart"}),
        Step("reset", M, {"name": "upg", "action": "reset", "worker_nodes_policy": "reinstall",
                          "kube_proxy_mode": "ipvs"}),
    ])
    # The update policy refuses version updates: known before anything is sent (no API refusal any more).
    assert "update_policy" in run["never_refused"]["msg"] and "NEVER_UPDATE" in run["never_refused"]["msg"]
    assert run.writes("never_refused") == [] and "failure" not in run["never_refused"]

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

    # Not idempotent by design: forced patch, restart, reset.
    post = [e for e in run.requests["patch_forced"] if e["method"] == "POST"]
    assert [e["body"] for e in post] == [{"strategy": "LATEST_PATCH", "force": True}]
    assert run.writes("restart") == [("POST", "/cloud/project/{serviceName}/kube/{kubeId}/restart")]
    assert run.writes("reset") == [("POST", "/cloud/project/{serviceName}/kube/{kubeId}/reset")]
    reset_body = [e for e in run.requests["reset"] if e["method"] == "POST"][0]["body"]
    assert reset_body == {"kubeProxyMode": "ipvs", "workerNodesPolicy": "reinstall"}
    assert run["reset"]["cluster"]["kubeProxyMode"] == "ipvs" and run["reset"]["cluster"]["status"] == "READY"
