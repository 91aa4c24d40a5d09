"""The waits of the modules against the emulator's request log: a cluster and a node pool that answer 404 for a
while right after their create (as the real API does) are waited for, not created again; a task that finds
nothing to change on an object that is still busy waits for it (what the roles rely on), unless wait=false.
"""

from ovh_scenario import Step, wait_status

CLUSTER = {"name": "keiko-waits", "region": "GRA11"}
POOL = {"cluster": "keiko-waits", "name": "workers", "flavor": "b2-7", "desired_nodes": 1}
CLUSTER_PATH = "/cloud/project/{serviceName}/kube/{kubeId}"
POOL_PATH = CLUSTER_PATH + "/nodepool/{nodePoolId}"


def answers(run, label, operation):
    return [e["status"] for e in run.requests[label] if e["method"] == "GET" and e["operation"] == operation]


def test_a_404_right_after_a_create_is_waited_for_and_nothing_is_created_twice(emu, play):
    emu.set_settings(not_found_after_create_seconds=1.5)
    run = play([Step("cluster", "ovh_kube_cluster", CLUSTER), Step("pool", "ovh_kube_nodepool", POOL)],
               defaults={"wait_sleep": 0.2})
    assert run["cluster"]["cluster"]["status"] == "READY" and run["pool"]["nodepool"]["status"] == "READY"
    assert run.writes("cluster") == [("POST", "/cloud/project/{serviceName}/kube")]
    assert run.writes("pool") == [("POST", "/cloud/project/{serviceName}/kube/{kubeId}/nodepool")]
    for label, operation in (("cluster", CLUSTER_PATH), ("pool", POOL_PATH)):
        statuses = answers(run, label, operation)
        assert statuses[0] == 404 and statuses[-1] == 200, statuses  # not found at first, then found
        assert 404 not in statuses[statuses.index(200):], statuses


def test_an_unchanged_object_that_is_still_busy_is_waited_for_only_with_wait(emu, play):
    client = emu.ovh_client()
    base = "/cloud/project/%s/kube" % emu.service_name
    cluster = client.post(base, name=CLUSTER["name"], region=CLUSTER["region"])
    wait_status(client, "%s/%s" % (base, cluster["id"]))
    emu.set_settings(transition_seconds=20)  # the next two tasks find the pool still installing
    ref = {"cluster": POOL["cluster"], "name": POOL["name"]}
    run = play([Step("create", "ovh_kube_nodepool", dict(POOL, wait=False)),
                Step("nowait", "ovh_kube_nodepool", dict(ref, wait=False)),
                Step("again", "ovh_kube_nodepool", ref)], defaults={"wait_sleep": 0.2})
    assert run["create"]["nodepool"]["status"] == "INSTALLING"
    nowait = run["nowait"]
    assert not nowait["changed"] and nowait["nodepool"]["status"] == "INSTALLING" and "waited" not in nowait
    again = run["again"]
    assert not again["changed"] and again["nodepool"]["status"] == "READY" and again["waited"]["status"] == "READY"
    assert run.writes("nowait") == run.writes("again") == []
