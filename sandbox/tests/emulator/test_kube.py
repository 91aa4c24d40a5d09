"""Managed Kubernetes behaviour: statuses over time, busy pools, updates, kubeconfig, restart."""

import base64
import json
import time

import pytest
import yaml
from ovh.exceptions import APIError, BadParametersError, ResourceConflictError, ResourceNotFoundError

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


FAKE_CLUSTER = """\
import json, os, pathlib, time
CALLS = {calls!r}
def _rec(**kw):
    with open(CALLS, 'a') as fh: fh.write(json.dumps(kw) + '\\n')
class Cluster:
    def __init__(self, d, port):
        self.kubeconfig = d / 'kubeconfig'
        self.server = f'https://127.0.0.1:{{port}}'
def up(data_dir, default_nodes=2, timeout=90, echo=print, owner_pid=None, apiserver_port=None):
    d = pathlib.Path(data_dir)
    name = d.parent.name
    _rec(op='up', dir=name, port=apiserver_port, attach=(d / 'kubeconfig').exists(), owner=owner_pid)
    gate = pathlib.Path(CALLS).parent / f'gate-{{name}}'
    end = time.monotonic() + 30
    while not gate.exists() and time.monotonic() < end:  # the test opens the gate: the start "takes" that long
        time.sleep(0.02)
    if 'broken' in name:
        raise RuntimeError('etcd exited while waiting for kube-apiserver /readyz')
    d.mkdir(parents=True, exist_ok=True)
    (d / 'kubeconfig').write_text(f'apiVersion: v1\\nclusters:\\n- cluster:\\n    server: https://127.0.0.1:{{apiserver_port}}\\n'
                                  f'  name: {{name}}\\n')
    return Cluster(d, apiserver_port)
def down(data_dir, echo=print):
    _rec(op='down', dir=pathlib.Path(data_dir).parent.name)
"""
FAKE_NODES = """\
import json
CALLS = {calls!r}
def _rec(**kw):
    with open(CALLS, 'a') as fh: fh.write(json.dumps(kw) + '\\n')
def sync_pool_nodes(kubeconfig, pool_name, flavor, count, labels=None):
    _rec(op='sync', kubeconfig=kubeconfig, pool=pool_name, flavor=flavor, count=count, labels=labels)
    return sorted(f'{{pool_name}}-node-{{i:06x}}' for i in range(count))
def delete_pool_nodes(kubeconfig, pool_name):
    _rec(op='delete', kubeconfig=kubeconfig, pool=pool_name)
    return []
"""


class FakeLocalkube:
    """A recording double of the localkube package: ``up`` waits for its gate file, ``down`` records."""

    def __init__(self, root):
        self.root = root
        self.calls = root / "calls.jsonl"
        pkg = root / "fake" / "localkube"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "cluster.py").write_text(FAKE_CLUSTER.format(calls=str(self.calls)))
        (pkg / "nodes.py").write_text(FAKE_NODES.format(calls=str(self.calls)))
        self.pythonpath = [root / "fake"]
        self.clusters = root / "clusters"

    def recorded(self, op=None):
        lines = self.calls.read_text().splitlines() if self.calls.exists() else []
        return [r for r in map(json.loads, lines) if op in (None, r["op"])]

    def open_gate(self, name):
        (self.root / f"gate-{name}").write_text("")


@pytest.fixture
def fake_localkube(tmp_path):
    return FakeLocalkube(tmp_path)


def _kubeconfig_server(c, kpath):
    return yaml.safe_load(c.post(kpath + "/kubeconfig")["content"])["clusters"][0]["cluster"]["server"]


def test_each_cluster_gets_its_own_control_plane(fake_localkube, ovh_emulator_factory):
    """With --clusters-dir: a control plane per cluster (a recording double of localkube), started in the
    background while the cluster is INSTALLING; its kubeconfig and node pools are the cluster's own; a delete
    stops it while DELETING."""
    fk = fake_localkube
    emu = ovh_emulator_factory(clusters_dir=fk.clusters, pythonpath=fk.pythonpath, transition_seconds=0.3)
    c = emu.ovh_client()
    kube = _create(emu, c, name="dev", nodepool={
        "name": "system", "flavorName": "b2-7", "desiredNodes": 2,
        "template": {"metadata": {"labels": {"tier": "system"}, "annotations": {}, "finalizers": []},
                     "spec": {"taints": [], "unschedulable": False}}})
    kpath = _base(emu) + f"/kube/{kube['id']}"
    port = int(kube["url"].rsplit(":", 1)[1])
    assert kube["url"] == f"127.0.0.1:{port}"  # known at once: the control plane will listen there
    wait_for(lambda: fk.recorded("up"), timeout=10)
    assert fk.recorded("up") == [{"op": "up", "dir": "dev", "port": port, "attach": False, "owner": emu.proc.pid}]
    emu.advance(SLOW)  # the transition is long over, the control plane is not up yet
    assert _status(c, kpath) == "INSTALLING"
    assert c.get(kpath + "/nodepool")[0]["status"] == "INSTALLING"
    with pytest.raises(BadParametersError, match="Cannot get kubeconfig of Cluster: Cluster status is INSTALLING"):
        c.post(kpath + "/kubeconfig")
    fk.open_gate("dev")
    wait_for(lambda: _status(c, kpath) == "READY", timeout=10)
    assert _kubeconfig_server(c, kpath) == f"https://127.0.0.1:{port}"
    assert c.post(kpath + "/kubeconfig")["content"] == (fk.clusters / "dev" / "kube" / "kubeconfig").read_text()
    # the pool reaches its own control plane once that is up, without anyone polling
    wait_for(lambda: fk.recorded("sync"), timeout=10)
    sync = fk.recorded("sync")[0]
    assert (sync["pool"], sync["flavor"], sync["count"], sync["labels"]["tier"]) == ("system", "b2-7", 2, "system")
    assert sync["kubeconfig"] == str(fk.clusters / "dev" / "kube" / "kubeconfig")
    # OVH node names become the Kubernetes node names
    expected = ["system-node-000000", "system-node-000001"]
    wait_for(lambda: sorted(n["name"] for n in c.get(kpath + "/node")) == expected, timeout=5)
    admin = {e["name"]: e for e in emu.admin("GET", "clusters")}
    assert admin["dev"]["phase"] == "ready" and admin["dev"]["server"] == f"https://127.0.0.1:{port}"

    # a second cluster: another control plane, another API server; its pools go to it
    fk.open_gate("staging")
    other = _create(emu, c, name="staging", nodepool={"name": "apps", "flavorName": "b2-7", "desiredNodes": 1})
    opath = _base(emu) + f"/kube/{other['id']}"
    wait_for(lambda: _status(c, opath) == "READY", timeout=10)
    assert other["url"] != kube["url"] and _kubeconfig_server(c, opath) == "https://" + other["url"]
    wait_for(lambda: any(r["pool"] == "apps" for r in fk.recorded("sync")), timeout=10)
    apps = [r for r in fk.recorded("sync") if r["pool"] == "apps"][-1]
    assert apps["kubeconfig"] == str(fk.clusters / "staging" / "kube" / "kubeconfig")

    # pool changes go to the cluster's own control plane
    pool_id = c.get(kpath + "/nodepool")[0]["id"]
    c.put(kpath + f"/nodepool/{pool_id}", desiredNodes=3)
    wait_for(lambda: [r["count"] for r in fk.recorded("sync") if r["pool"] == "system"][-1] == 3, timeout=10)
    c.delete(kpath + f"/nodepool/{pool_id}")
    wait_for(lambda: fk.recorded()[-1] == {"op": "delete", "pool": "system",
                                           "kubeconfig": str(fk.clusters / "dev" / "kube" / "kubeconfig")}, timeout=10)

    # deleting a cluster stops its control plane: DELETING until it is gone
    c.delete(kpath)
    wait_for(lambda: kube["id"] not in c.get(_base(emu) + "/kube"), timeout=10)
    assert {"op": "down", "dir": "dev"} in fk.recorded("down") and not (fk.clusters / "dev").exists()
    assert [r["dir"] for r in fk.recorded("down")] == ["dev"]
    assert _status(c, opath) == "READY"
    assert emu.state()["side_effect_errors"] == []
    # the emulator owns them (EmulatorProcess's default): stopping it stops the rest
    emu.stop()
    assert [r["dir"] for r in fk.recorded("down")] == ["dev", "staging"]
    assert not (fk.clusters / "staging").exists()


def test_clusters_past_the_limit_or_on_a_taken_name_are_refused(fake_localkube, ovh_emulator_factory):
    fk = fake_localkube
    emu = ovh_emulator_factory(clusters_dir=fk.clusters, pythonpath=fk.pythonpath, max_clusters=2)
    c = emu.ovh_client()
    for name in ("dev", "staging"):
        fk.open_gate(name)
        _create(emu, c, name=name)
    with pytest.raises(ResourceConflictError, match="the local control plane of cluster .* is named dev"):
        _create(emu, c, name="dev")
    emu.set_settings(max_clusters=3)
    fk.open_gate("production")
    _create(emu, c, name="production")
    with pytest.raises(APIError) as err:
        _create(emu, c, name="qa")
    assert err.value.response.status_code == 403 and err.value.response.json()["class"] == "Client::Forbidden"
    assert str(err.value).startswith("[QuotaExceededError] 403: Cannot create Cluster: the sandbox runs at most 3 "
                                     "Kubernetes clusters at once, each with its own local control plane (3 exist: "
                                     "dev, production, staging); delete one, or raise the emulator's max_clusters "
                                     "setting (OVH_EMULATOR_MAX_CLUSTERS)")
    assert len(c.get(_base(emu) + "/kube")) == 3  # nothing created past the limit
    assert [r["dir"] for r in fk.recorded("up")] == ["dev", "staging", "production"]
    # without --clusters-dir there is no limit
    plain = ovh_emulator_factory(max_clusters=1)
    pc = plain.ovh_client()
    for name in ("a", "b"):
        _create(plain, pc, name=name)
    assert len(pc.get(_base(plain) + "/kube")) == 2


def test_a_control_plane_that_cannot_start_turns_its_cluster_to_error(fake_localkube, ovh_emulator_factory):
    fk = fake_localkube
    emu = ovh_emulator_factory(clusters_dir=fk.clusters, pythonpath=fk.pythonpath, check_violations=False)
    c = emu.ovh_client()
    fk.open_gate("broken")
    kube = _create(emu, c, name="broken")
    kpath = _base(emu) + f"/kube/{kube['id']}"
    wait_for(lambda: _status(c, kpath) == "ERROR", timeout=10)
    assert c.get(kpath + "/nodepool")[0]["status"] == "ERROR"
    errors = emu.state()["side_effect_errors"]
    assert [e["effect"] for e in errors] == ["controlplane-start"]
    assert "etcd exited while waiting for kube-apiserver /readyz" in errors[0]["error"]
    assert emu.admin("GET", "clusters")[0]["phase"] == "failed"


def test_a_restarted_emulator_finds_its_control_planes_again(fake_localkube, ovh_emulator_factory):
    """Not owned (what keiko-sandbox runs): the control planes outlive the emulator; on start it attaches to them."""
    fk = fake_localkube
    emu = ovh_emulator_factory(clusters_dir=fk.clusters, pythonpath=fk.pythonpath, own_clusters=False)
    c = emu.ovh_client()
    fk.open_gate("dev")
    kube = _create(emu, c, name="dev", nodepool={"name": "system", "flavorName": "b2-7", "desiredNodes": 1})
    kpath = _base(emu) + f"/kube/{kube['id']}"
    wait_for(lambda: _status(c, kpath) == "READY" and fk.recorded("sync"), timeout=10)
    content = c.post(kpath + "/kubeconfig")["content"]
    emu.restart()
    assert fk.recorded("down") == []
    c = emu.ovh_client()
    wait_for(lambda: len(fk.recorded("up")) == 2, timeout=10)
    assert fk.recorded("up")[1] == {"op": "up", "dir": "dev", "port": int(kube["url"].rsplit(":", 1)[1]),
                                    "attach": True, "owner": None}
    wait_for(lambda: len(fk.recorded("sync")) == 2, timeout=10)  # the pools are synced again once it is up
    assert _status(c, kpath) == "READY" and c.post(kpath + "/kubeconfig")["content"] == content
    c.delete(kpath)
    wait_for(lambda: kube["id"] not in c.get(_base(emu) + "/kube"), timeout=10)
    assert fk.recorded("down") == [{"op": "down", "dir": "dev"}]


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


def test_sandbox_down_stops_every_cluster_even_when_one_fails(tmp_path, monkeypatch):
    """`keiko-sandbox down` over several clusters: one that cannot be stopped is reported, the others still stop, and
    a cluster already taken down by someone else meanwhile (its directory gone) is not an error."""
    from ovh_emulator import localkube_bridge

    for name in ("keikolatam-dev", "keikolatam-staging", "keikolatam-production"):
        (tmp_path / name).mkdir()
        (tmp_path / name / localkube_bridge.RECORD).write_text("{}")
    stopped = []
    real_stop_dir = localkube_bridge.stop_dir

    def fake_stop(cluster_dir, echo=print):
        if cluster_dir.name == "keikolatam-dev":
            raise OSError("processes survived SIGKILL")
        stopped.append(cluster_dir.name)

    monkeypatch.setattr(localkube_bridge, "stop_dir", fake_stop)
    with pytest.raises(RuntimeError, match="keikolatam-dev: processes survived SIGKILL"):
        localkube_bridge.stop_all_dirs(tmp_path, echo=lambda msg: None)
    assert stopped == ["keikolatam-production", "keikolatam-staging"]

    class Gone:
        @staticmethod
        def down(path, echo=print):
            import shutil

            shutil.rmtree(path)
            raise FileNotFoundError(path / "localargo.json")

    gone = tmp_path / "keikolatam-staging"
    (gone / "localargo").mkdir()
    monkeypatch.setattr(localkube_bridge.importlib, "import_module", lambda name: Gone)
    real_stop_dir(gone, echo=lambda msg: None)
    assert not gone.exists()
