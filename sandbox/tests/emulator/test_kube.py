"""Managed Kubernetes behaviour: statuses over time, busy pools, updates, kubeconfig, restart."""

import base64
import json
import time

import pytest
import yaml
from ovh.exceptions import BadParametersError, ResourceConflictError, ResourceNotFoundError

from helpers import wait_for


def _base(emu):
    return f"/cloud/project/{emu.service_name}"


def _create(emu, client, **kw):
    body = {"name": "keiko", "region": "GRA7", "version": "1.31",
            "nodepool": {"name": "system", "flavorName": "b2-7", "desiredNodes": 2}}
    body.update(kw)
    return client.post(_base(emu) + "/kube", **body)


def _status(client, path):
    return client.get(path)["status"]


def test_statuses_move_with_real_time(ovh_emulator):
    """INSTALLING -> READY with the clock alone (transition 0.2 s)."""
    c = ovh_emulator.ovh_client()
    kube = _create(ovh_emulator, c)
    kpath = _base(ovh_emulator) + f"/kube/{kube['id']}"
    assert kube["status"] == "INSTALLING"
    wait_for(lambda: _status(c, kpath) == "READY", timeout=10)
    wait_for(lambda: c.get(kpath + "/nodepool")[0]["availableNodes"] == 2, timeout=10)


SLOW = 60  # transitions that cannot end by themselves during a test; emu.advance() ends them


def settle(emu):
    emu.advance(SLOW + 1)


@pytest.mark.ovh_emulator(transition_seconds=SLOW)
def test_cluster_and_pool_statuses_move_with_time(ovh_emulator):
    c = ovh_emulator.ovh_client()
    kube = _create(ovh_emulator, c)
    kpath = _base(ovh_emulator) + f"/kube/{kube['id']}"
    assert kube["status"] == "INSTALLING" and kube["version"] == "1.31" and kube["nextUpgradeVersions"] == ["1.32"]
    pool = c.get(kpath + "/nodepool")[0]
    assert (pool["status"], pool["currentNodes"], pool["availableNodes"], pool["sizeStatus"]) == \
        ("INSTALLING", 0, 0, "UNDER_CAPACITY")
    assert [n["status"] for n in c.get(kpath + "/node")] == ["INSTALLING", "INSTALLING"]
    settle(ovh_emulator)
    assert _status(c, kpath) == "READY"
    pool = c.get(kpath + f"/nodepool/{pool['id']}")
    assert (pool["status"], pool["currentNodes"], pool["availableNodes"], pool["sizeStatus"]) == \
        ("READY", 2, 2, "CAPACITY_OK")
    nodes = c.get(kpath + f"/nodepool/{pool['id']}/nodes")
    assert all(n["status"] == "READY" and n["deployedAt"] and n["instanceId"] for n in nodes)

    # scale up: UPSCALING then READY with 4 nodes; busy pools refuse changes with the real 400
    c.put(kpath + f"/nodepool/{pool['id']}", desiredNodes=4)
    p = c.get(kpath + f"/nodepool/{pool['id']}")
    assert (p["status"], p["desiredNodes"], p["currentNodes"]) == ("UPSCALING", 4, 2)
    with pytest.raises(BadParametersError) as exc:
        c.delete(kpath + f"/nodepool/{pool['id']}")
    assert str(exc.value).startswith("[IntegrityError] 400: Cannot delete NodePool: NodePool status is UPSCALING")
    with pytest.raises(BadParametersError) as exc:
        c.put(kpath + f"/nodepool/{pool['id']}", desiredNodes=1)
    assert "NodePool status is UPSCALING" in str(exc.value)
    settle(ovh_emulator)
    assert _status(c, kpath + f"/nodepool/{pool['id']}") == "READY"
    assert c.get(kpath + f"/nodepool/{pool['id']}")["availableNodes"] == 4

    # scale down, naming the node to remove
    victim = c.get(kpath + f"/nodepool/{pool['id']}/nodes")[0]
    c.put(kpath + f"/nodepool/{pool['id']}", desiredNodes=3, nodesToRemove=[victim["id"]])
    p = c.get(kpath + f"/nodepool/{pool['id']}")
    assert p["status"] == "DOWNSCALING" and p["availableNodes"] == 3
    settle(ovh_emulator)
    assert _status(c, kpath + f"/nodepool/{pool['id']}") == "READY"
    ids = [n["id"] for n in c.get(kpath + f"/nodepool/{pool['id']}/nodes")]
    assert len(ids) == 3 and victim["id"] not in ids

    # delete: DELETING, then gone
    c.delete(kpath + f"/nodepool/{pool['id']}")
    assert _status(c, kpath + f"/nodepool/{pool['id']}") == "DELETING"
    settle(ovh_emulator)
    assert c.get(kpath + "/nodepool") == []
    with pytest.raises(ResourceNotFoundError):
        c.get(kpath + f"/nodepool/{pool['id']}")

    c.delete(kpath)
    assert _status(c, kpath) == "DELETING"
    settle(ovh_emulator)
    assert c.get(_base(ovh_emulator) + "/kube") == []


@pytest.mark.ovh_emulator(transition_seconds=SLOW)
def test_pool_rules(ovh_emulator):
    c = ovh_emulator.ovh_client()
    kube = c.post(_base(ovh_emulator) + "/kube", region="GRA7")
    kpath = _base(ovh_emulator) + f"/kube/{kube['id']}"
    with pytest.raises(BadParametersError) as exc:
        c.post(kpath + "/nodepool", flavorName="b2-7")
    assert "Cluster status is INSTALLING" in str(exc.value)
    settle(ovh_emulator)
    assert _status(c, kpath) == "READY"
    pool = c.post(kpath + "/nodepool", name="apps", flavorName="B2-15", desiredNodes=1, minNodes=1, maxNodes=3,
                  antiAffinity=True, monthlyBilled=False)
    assert pool["flavor"] == "b2-15" and pool["status"] == "INSTALLING"
    with pytest.raises(ResourceConflictError):
        c.post(kpath + "/nodepool", name="apps", flavorName="b2-7")
    with pytest.raises(BadParametersError) as exc:
        c.post(kpath + "/nodepool", name="Bad_Name", flavorName="b2-7")
    assert "[InvalidDataError] 400:" in str(exc.value) and "(request ID: " in str(exc.value)
    with pytest.raises(BadParametersError):
        c.post(kpath + "/nodepool", flavorName="z9-999")
    with pytest.raises(BadParametersError):
        c.post(kpath + "/nodepool", flavorName="b2-7", desiredNodes=5, maxNodes=3)
    settle(ovh_emulator)
    assert _status(c, kpath + f"/nodepool/{pool['id']}") == "READY"
    # flavor, antiAffinity, monthlyBilled and name cannot change: the update model does not have them
    for field, value in (("flavorName", "b2-30"), ("antiAffinity", False), ("monthlyBilled", True), ("name", "x")):
        with pytest.raises(BadParametersError) as exc:
            c.put(kpath + f"/nodepool/{pool['id']}", **{field: value})
        assert str(exc.value).startswith(f"Unknown body parameter {field}")
    # autoscaling settings change in place
    c.put(kpath + f"/nodepool/{pool['id']}", autoscale=True, autoscaling={"scaleDownUtilizationThreshold": 0.7})
    p = c.get(kpath + f"/nodepool/{pool['id']}")
    assert p["status"] == "READY" and p["autoscale"] and p["autoscaling"]["scaleDownUtilizationThreshold"] == 0.7
    # anti-affinity pools stop at 5 nodes
    with pytest.raises(BadParametersError):
        c.put(kpath + f"/nodepool/{pool['id']}", maxNodes=6, desiredNodes=6)


@pytest.mark.ovh_emulator(transition_seconds=SLOW)
def test_version_updates(ovh_emulator):
    c = ovh_emulator.ovh_client()
    kube = _create(ovh_emulator, c, version="1.32")
    kpath = _base(ovh_emulator) + f"/kube/{kube['id']}"
    settle(ovh_emulator)
    assert _status(c, kpath) == "READY"
    c.post(kpath + "/update", strategy="NEXT_MINOR")
    k = c.get(kpath)
    assert k["status"] == "UPDATING" and k["version"] == "1.32" and not k["isUpToDate"]
    settle(ovh_emulator)
    assert _status(c, kpath) == "READY"
    k = c.get(kpath)
    assert k["version"] == "1.33" and k["nextUpgradeVersions"] == [] and k["isUpToDate"]
    settle(ovh_emulator)
    assert all(n["version"].startswith("1.33.") and n["status"] == "READY" for n in c.get(kpath + "/node"))
    with pytest.raises(BadParametersError):  # no newer minor
        c.post(kpath + "/update", strategy="NEXT_MINOR")
    c.post(kpath + "/update", strategy="LATEST_PATCH", force=True)
    settle(ovh_emulator)
    assert _status(c, kpath) == "READY"
    c.put(kpath + "/updatePolicy", updatePolicy="NEVER_UPDATE")
    with pytest.raises(ResourceConflictError) as exc:
        c.post(kpath + "/update", strategy="LATEST_PATCH")
    assert str(exc.value).startswith(f"409: Update aborted for service {kube['id']} because of policy NEVER_UPDATE")
    c.put(kpath, updatePolicy="ALWAYS_UPDATE", name="renamed")
    assert c.get(kpath)["name"] == "renamed"
    c.post(kpath + "/update")  # strategy defaults to LATEST_PATCH
    assert _status(c, kpath) == "UPDATING"


@pytest.mark.ovh_emulator(transition_seconds=SLOW)
def test_synthetic_kubeconfig_is_well_formed(ovh_emulator):
    c = ovh_emulator.ovh_client()
    kube = _create(ovh_emulator, c, name="cfg")
    kpath = _base(ovh_emulator) + f"/kube/{kube['id']}"
    with pytest.raises(BadParametersError):  # not while INSTALLING
        c.post(kpath + "/kubeconfig")
    settle(ovh_emulator)
    assert _status(c, kpath) == "READY"
    content = c.post(kpath + "/kubeconfig")["content"]
    cfg = yaml.safe_load(content)
    assert cfg["kind"] == "Config" and cfg["current-context"]
    cluster = cfg["clusters"][0]["cluster"]
    assert cluster["server"] == "https://" + c.get(kpath)["url"]
    assert base64.b64decode(cluster["certificate-authority-data"]).startswith(b"-----BEGIN CERTIFICATE-----")
    user = cfg["users"][0]["user"]
    assert base64.b64decode(user["client-certificate-data"]).startswith(b"-----BEGIN CERTIFICATE-----")
    assert b"PRIVATE KEY-----" in base64.b64decode(user["client-key-data"])
    ctx = cfg["contexts"][0]
    assert ctx["name"] == cfg["current-context"] and ctx["context"]["cluster"] == cfg["clusters"][0]["name"]
    assert c.post(kpath + "/kubeconfig")["content"] == content  # stable until reset
    c.post(kpath + "/kubeconfig/reset")
    settle(ovh_emulator)
    assert _status(c, kpath) == "READY"
    assert c.post(kpath + "/kubeconfig")["content"] != content
    # it is a POST, so it is one of the "writes" of the request log
    assert [e["status"] for e in ovh_emulator.writes() if e["path"].endswith("/kubeconfig")] == [400, 200, 200, 200]


def test_kubeconfig_and_nodes_follow_localkube(tmp_path, ovh_emulator_factory):
    """With --kubeconfig: the file is returned and pools drive localkube.nodes (a recording double)."""
    fake = tmp_path / "fake"
    (fake / "localkube").mkdir(parents=True)
    calls = tmp_path / "calls.jsonl"
    (fake / "localkube" / "__init__.py").write_text("")
    (fake / "localkube" / "nodes.py").write_text(
        "import json\n"
        f"CALLS = {str(calls)!r}\n"
        "def _rec(**kw):\n"
        "    with open(CALLS, 'a') as fh: fh.write(json.dumps(kw) + '\\n')\n"
        "def sync_pool_nodes(kubeconfig, pool_name, flavor, count, labels=None):\n"
        "    _rec(op='sync', kubeconfig=kubeconfig, pool=pool_name, flavor=flavor, count=count, labels=labels)\n"
        "    return sorted(f'{pool_name}-node-{i:06x}' for i in range(count))\n"
        "def delete_pool_nodes(kubeconfig, pool_name):\n"
        "    _rec(op='delete', kubeconfig=kubeconfig, pool=pool_name)\n"
        "    return []\n")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://127.0.0.1:16443\n"
                          "  name: localkube\n")
    emu = ovh_emulator_factory(kubeconfig=kubeconfig, pythonpath=[fake], transition_seconds=0.3)
    c = emu.ovh_client()

    def recorded():
        return [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []

    kube = _create(emu, c, nodepool={"name": "system", "flavorName": "b2-7", "desiredNodes": 2,
                                     "template": {"metadata": {"labels": {"tier": "system"}, "annotations": {},
                                                               "finalizers": []},
                                                  "spec": {"taints": [], "unschedulable": False}}})
    kpath = _base(emu) + f"/kube/{kube['id']}"
    assert kube["url"] == "127.0.0.1:16443"
    # the background tick completes the pool without anyone polling it
    wait_for(lambda: any(r["op"] == "sync" for r in recorded()), timeout=10)
    sync = [r for r in recorded() if r["op"] == "sync"][0]
    assert sync["pool"] == "system" and sync["flavor"] == "b2-7" and sync["count"] == 2
    assert sync["kubeconfig"] == str(kubeconfig) and sync["labels"]["tier"] == "system"
    assert c.post(kpath + "/kubeconfig")["content"] == kubeconfig.read_text()
    # OVH node names become the Kubernetes node names
    expected = ["system-node-000000", "system-node-000001"]
    wait_for(lambda: sorted(n["name"] for n in c.get(kpath + "/node")) == expected, timeout=5)
    pool_id = c.get(kpath + "/nodepool")[0]["id"]
    c.put(kpath + f"/nodepool/{pool_id}", desiredNodes=3)
    wait_for(lambda: [r["count"] for r in recorded() if r["op"] == "sync"][-1] == 3, timeout=10)
    c.delete(kpath + f"/nodepool/{pool_id}")
    wait_for(lambda: recorded()[-1] == {"op": "delete", "kubeconfig": str(kubeconfig), "pool": "system"}, timeout=10)
    # a second cluster is not bound: synthetic kubeconfig, no node calls
    other = c.post(_base(emu) + "/kube", region="GRA9", name="other")
    wait_for(lambda: _status(c, _base(emu) + f"/kube/{other['id']}") == "READY", timeout=5)
    assert "https://127.0.0.1:16443" not in c.post(_base(emu) + f"/kube/{other['id']}/kubeconfig")["content"]
    assert emu.state()["side_effect_errors"] == []


@pytest.mark.ovh_emulator(transition_seconds=0.3, not_found_after_create_seconds=SLOW)
def test_not_found_right_after_create_is_opt_in(ovh_emulator):
    c = ovh_emulator.ovh_client()
    kube = c.post(_base(ovh_emulator) + "/kube", region="GRA7")
    kpath = _base(ovh_emulator) + f"/kube/{kube['id']}"
    with pytest.raises(ResourceNotFoundError):
        c.get(kpath)
    assert kube["id"] in c.get(_base(ovh_emulator) + "/kube")
    settle(ovh_emulator)
    assert _get_or_none(c, kpath)["id"] == kube["id"]


def _get_or_none(c, path):
    try:
        return c.get(path)
    except ResourceNotFoundError:
        return None


def test_not_found_window_is_off_by_default(ovh_emulator):
    c = ovh_emulator.ovh_client()
    kube = c.post(_base(ovh_emulator) + "/kube", region="GRA7")
    assert c.get(_base(ovh_emulator) + f"/kube/{kube['id']}")["id"] == kube["id"]


def test_state_survives_a_restart_and_time_keeps_running(ovh_emulator_factory):
    emu = ovh_emulator_factory(transition_seconds=1.0)
    c = emu.ovh_client()
    kube = _create(emu, c)
    creds = emu.credentials
    assert kube["status"] == "INSTALLING"
    emu.stop()
    time.sleep(1.1)  # the transition ends while the emulator is down
    emu.start()
    assert emu.credentials == creds
    c = emu.ovh_client()
    k = c.get(_base(emu) + f"/kube/{kube['id']}")
    assert k["status"] == "READY" and k["name"] == "keiko"
    assert c.get(_base(emu) + f"/kube/{kube['id']}/nodepool")[0]["status"] == "READY"


@pytest.mark.ovh_emulator(transition_seconds=600)
def test_advance_moves_the_resource_clock(ovh_emulator):
    c = ovh_emulator.ovh_client()
    kube = _create(ovh_emulator, c)
    kpath = _base(ovh_emulator) + f"/kube/{kube['id']}"
    assert _status(c, kpath) == "INSTALLING"
    ovh_emulator.advance(601)
    assert _status(c, kpath) == "READY"


@pytest.mark.ovh_emulator(transition_seconds=SLOW)
def test_cluster_satellites(ovh_emulator):
    c = ovh_emulator.ovh_client()
    base = _base(ovh_emulator)
    kube = _create(ovh_emulator, c)
    kpath = base + f"/kube/{kube['id']}"
    settle(ovh_emulator)
    assert _status(c, kpath) == "READY"
    assert c.get(base + "/capabilities/kube/regions") == c.get(base + "/kube/regions")
    assert "GRA7" in c.get(base + "/capabilities/kube/regions")
    assert c.get(base + "/capabilities/kube/admissionplugins") == ["AlwaysPullImages", "NodeRestriction"]
    assert {f["name"] for f in c.get(kpath + "/flavors")} >= {"b2-7", "c2-15", "r2-30", "d2-8"}
    assert c.put(kpath + "/ipRestrictions", ips=["10.0.0.0/8"]) == ["10.0.0.0/8"]
    assert c.post(kpath + "/ipRestrictions", ips=["192.168.1.1"]) == ["10.0.0.0/8", "192.168.1.1/32"]
    c.delete(kpath + "/ipRestrictions/192.168.1.1%2F32")
    assert c.get(kpath + "/ipRestrictions") == ["10.0.0.0/8"]
    msg = c.put(kpath + "/customization", apiServer={"admissionPlugins": {"enabled": ["NodeRestriction"],
                                                                          "disabled": ["AlwaysPullImages"]}})
    assert msg["message"] and _status(c, kpath) == "REDEPLOYING"
    settle(ovh_emulator)
    assert _status(c, kpath) == "READY"
    assert c.get(kpath + "/customization")["apiServer"]["admissionPlugins"]["disabled"] == ["AlwaysPullImages"]
    with pytest.raises(ResourceNotFoundError):
        c.get(kpath + "/openIdConnect")
    oidc = c.post(kpath + "/openIdConnect", clientId="keiko", issuerUrl="https://id.example.org")
    assert oidc["clientId"] == "keiko"
    settle(ovh_emulator)
    assert _status(c, kpath) == "READY"
    c.put(kpath + "/openIdConnect", usernameClaim="email")
    settle(ovh_emulator)
    assert _status(c, kpath) == "READY"
    assert c.get(kpath + "/openIdConnect")["usernameClaim"] == "email"
    c.delete(kpath + "/openIdConnect")
    settle(ovh_emulator)
    assert _status(c, kpath) == "READY"
    node = c.get(kpath + "/node")[0]
    assert c.get(kpath + f"/node/{node['id']}")["id"] == node["id"]
    c.delete(kpath + f"/node/{node['id']}")
    settle(ovh_emulator)
    assert len(c.get(kpath + "/node")) == 1
    c.post(kpath + "/restart", force=False)
    settle(ovh_emulator)
    assert _status(c, kpath) == "READY"
    c.post(kpath + "/reset", workerNodesPolicy="delete")
    assert _status(c, kpath) == "RESETTING" and c.get(kpath + "/nodepool") == []
    settle(ovh_emulator)
    assert _status(c, kpath) == "READY"
