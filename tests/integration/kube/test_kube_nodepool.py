"""ovh_kube_nodepool against the emulator, in the request log: the bodies of an update and of autoscaling, the
order of the safe replacement, an interrupted replacement finished (the fixed order and the refusals are the
integration target and tests/integration/test_bad_input.py)."""

import re

from ovh_scenario import Step

M = "ovh_kube_nodepool"
POOLS = "/cloud/project/{serviceName}/kube/{kubeId}/nodepool"
POOL = POOLS + "/{nodePoolId}"


def test_nodepool_updates_and_safe_replacement(play, cluster):
    c = cluster["id"]
    create = {"cluster": "keiko-test", "name": "workers", "flavor": "b2-7", "desired_nodes": 2, "min_nodes": 1,
              "max_nodes": 4, "autoscale": False,
              "template": {"labels": {"pool": "workers"},
                           "taints": [{"key": "dedicated", "value": "workers", "effect": "NoSchedule"}]}}
    update = dict(create, desired_nodes=3, template={"labels": {"pool": "workers", "tier": "apps"}})
    run = play([
        Step("create", M, create),
        Step("update", M, update, diff=True),
        Step("replace", M, dict(update, flavor="b2-15", replace_on_change=True)),
        Step("replace_again", M, dict(update, flavor="b2-15", replace_on_change=True)),
        Step("pools_after_replace", "ovh_kube_nodepool_info", {"cluster": c}),
        Step("autoscale", M, {"cluster": c, "name": "workers", "autoscale": True, "desired_nodes": 3,
                              "autoscaling": {"scale_down_utilization_threshold": 0.6}}),
        Step("autoscale_again", M, {"cluster": c, "name": "workers", "autoscale": True, "desired_nodes": 1}),
    ])

    pool = run["create"]["nodepool"]
    assert run.writes("create") == [("POST", POOLS)]
    assert pool["status"] == "READY" and pool["desiredNodes"] == 2 and pool["currentNodes"] == 2
    assert pool["template"]["spec"]["taints"] == [{"key": "dedicated", "value": "workers", "effect": "NoSchedule"}]

    assert run.writes("update") == [("PUT", POOL)]
    body = [e for e in run.requests["update"] if e["method"] == "PUT"][0]["body"]
    assert body["desiredNodes"] == 3 and body["template"]["metadata"]["labels"] == {"pool": "workers", "tier": "apps"}
    assert body["template"]["spec"]["taints"] == pool["template"]["spec"]["taints"]  # the unset part is kept
    assert run["update"]["nodepool"]["currentNodes"] == 3

    # The replacement: the new pool is created, polled until READY, and only then the old one is deleted.
    entries = run.requests["replace"]
    writes = [e for e in entries if e["method"] != "GET"]
    assert [(e["method"], e["operation"]) for e in writes] == [("POST", POOLS), ("DELETE", POOL)]
    post, delete = writes
    assert post["body"]["name"] == "workers-r1" and post["body"]["flavorName"] == "b2-15"
    assert post["body"]["desiredNodes"] == 3 and post["body"]["template"]["metadata"]["labels"]["tier"] == "apps"
    new_id = run["replace"]["nodepool"]["id"]
    assert delete["path"].endswith("/nodepool/" + pool["id"])
    polls = [e for e in entries if post["seq"] < e["seq"] < delete["seq"] and e["path"].endswith("/nodepool/" + new_id)]
    assert len(polls) >= 2, "the new pool was not waited for"
    assert delete["time"] - post["time"] >= 0.3  # INSTALLING lasts 0.3 s in this emulator
    assert run["replace"]["replaced"] == [{"name": "workers", "id": pool["id"], "flavor": "b2-7"}]
    assert run["replace"]["nodepool"]["name"] == "workers-r1"
    pools = run["pools_after_replace"]["nodepools"]
    assert [(p["name"], p["flavor"], p["status"]) for p in pools] == [("workers-r1", "b2-15", "READY")]
    assert len(pools[0]["nodes"]) == 3 and {n["flavor"] for n in pools[0]["nodes"]} == {"b2-15"}
    assert run["replace_again"]["changed"] is False and run.writes("replace_again") == []

    # With the autoscaler on, desired_nodes is not fought over.
    body = [e for e in run.requests["autoscale"] if e["method"] == "PUT"][0]["body"]
    assert body == {"autoscale": True, "autoscaling": {"scaleDownUnneededTimeSeconds": 600,
                                                       "scaleDownUnreadyTimeSeconds": 1200,
                                                       "scaleDownUtilizationThreshold": 0.6}}
    assert run["autoscale_again"]["changed"] is False and run.writes("autoscale_again") == []


def test_interrupted_replacement_is_finished_and_nodes_to_remove(play, emu, cluster):
    client = emu.ovh_client()
    pools = cluster["path"] + "/nodepool"
    client.post(pools, name="web", flavorName="b2-7", desiredNodes=3, minNodes=0, maxNodes=5)
    # A replacement that stopped after creating the new pool.
    client.post(pools, name="web-r1", flavorName="b3-8", desiredNodes=3, minNodes=0, maxNodes=5)
    run = play([
        Step("ambiguous", M, {"cluster": "keiko-test", "name": "web", "flavor": "b3-8"}, fails=True),
        Step("finish", M, {"cluster": "keiko-test", "name": "web", "flavor": "b3-8", "replace_on_change": True}),
        Step("remove_one", M, {"cluster": "keiko-test", "name": "web", "nodes_to_remove": ["__node__"]}),
    ])
    assert "interrupted replacement" in run["ambiguous"]["msg"] and run.writes("ambiguous") == []
    assert run.writes("finish") == [("DELETE", POOL)]
    assert [p["name"] for p in client.get(pools)] == ["web-r1"]
    # An unknown node is ignored: nothing to remove, nothing written.
    assert run["remove_one"]["changed"] is False and run.writes("remove_one") == []

    new = client.get(pools)[0]
    node = client.get("%s/%s/nodes" % (pools, new["id"]))[0]
    run = play([
        # By OpenStack instance ID, one of the three ways the API accepts.
        Step("remove", M, {"cluster": "keiko-test", "name": "web", "nodes_to_remove": [node["instanceId"]]}),
        Step("remove_again", M, {"cluster": "keiko-test", "name": "web", "nodes_to_remove": [node["instanceId"]]}),
    ], name="remove")
    body = [e for e in run.requests["remove"] if e["method"] == "PUT"][0]["body"]
    assert body == {"nodesToRemove": [node["instanceId"]], "desiredNodes": 2}
    assert node["id"] not in [n["id"] for n in client.get("%s/%s/nodes" % (pools, new["id"]))]
    assert run["remove"]["nodepool"]["currentNodes"] == 2
    assert run["remove_again"]["changed"] is False and run.writes("remove_again") == []
    assert re.match(r"^web-r1$", run["remove_again"]["nodepool"]["name"])
