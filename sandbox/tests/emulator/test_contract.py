"""Contract: every route the emulator serves exists in the official schema, and its answers
validate against the operation's responseType (the server checks every answer; the fixture fails
the test on any recorded violation)."""

import json

import pytest

from ovh_emulator import schema
from helpers import wait_for

# Route modules whose every route the scenario below must exercise. A new domain module adds its
# own scenario (in its own test file) and its name here.
SCENARIO_MODULES = {"ovh_emulator.routes.auth", "ovh_emulator.routes.project", "ovh_emulator.routes.kube",
                    "ovh_emulator.routes.network"}


def _official_operations():
    """(method, path) pairs read straight from the mirror's JSON, not through ovh_emulator.schema."""
    ops = set()
    base = schema.mirror_dir() / "ovh-api"
    for name in ("cloud.json", "auth.json"):
        doc = json.loads((base / name).read_text())
        for api in doc["apis"]:
            for op in api["operations"]:
                ops.add((op["httpMethod"], api["path"]))
    return ops


def test_every_served_route_is_in_the_official_schema(ovh_emulator):
    official = _official_operations()
    routes = ovh_emulator.admin("GET", "routes")
    assert len(routes) > 50
    missing = [(r["method"], r["path"]) for r in routes if (r["method"], r["path"]) not in official]
    assert missing == []


def test_schema_helper_agrees_with_the_raw_files():
    s = schema.load_schema()
    assert set(s.operations) == _official_operations()


def test_scenario_walks_every_route_and_every_answer_validates(ovh_emulator):
    emu = ovh_emulator
    emu.set_settings(transition_seconds=0.2)
    c = emu.ovh_client()
    base = f"/cloud/project/{emu.service_name}"

    def ready(path):
        wait_for(lambda: c.get(path)["status"] in ("READY", "ACTIVE"), timeout=10)

    c.get("/auth/time")
    c.get("/auth/currentCredential")
    c.get("/cloud/project")
    c.get(base)
    c.get(base + "/region")
    assert c.post(base + "/region", region="BHS1")["name"] == "BHS1"
    c.get(base + "/region/GRA7")
    c.get(base + "/capabilities/kube/regions")
    c.get(base + "/capabilities/kube/flavors")
    c.get(base + "/capabilities/kube/flavors", region="SBG5")
    c.get(base + "/capabilities/kube/admissionplugins")
    c.get(base + "/kube/regions")

    net = c.post(base + "/network/private", name="contract", regions=["GRA7"], vlanId=100)
    npath = base + f"/network/private/{net['id']}"
    c.get(base + "/network/private")
    ready(npath)
    c.put(npath, name="contract-renamed")
    c.post(npath + "/region", region="GRA9")
    sub = c.post(npath + "/subnet", dhcp=True, start="192.168.0.10", end="192.168.0.250",
                 network="192.168.0.0/24", noGateway=False, region="GRA7")
    lb = c.post(npath + "/subnet", dhcp=False, start="192.168.1.10", end="192.168.1.250",
                network="192.168.1.0/24", noGateway=True, region="GRA7")
    c.get(npath + "/subnet")
    os_id = c.get(npath)["regions"][0]["openstackId"]

    kube = c.post(base + "/kube", name="contract", region="GRA7", version="1.32", updatePolicy="MINIMAL_DOWNTIME",
                  kubeProxyMode="ipvs", privateNetworkId=os_id, nodesSubnetId=sub["id"],
                  privateNetworkConfiguration={"defaultVrackGateway": "", "privateNetworkRoutingAsDefault": False},
                  customization={"kubeProxy": {"ipvs": {"scheduler": "lc"}}},
                  nodepool={"name": "system", "flavorName": "b2-7", "desiredNodes": 1})
    kpath = base + f"/kube/{kube['id']}"
    c.get(base + "/kube")
    ready(kpath)
    c.put(kpath, name="contract-2")
    c.get(kpath + "/customization")
    c.put(kpath + "/customization", kubeProxy={"ipvs": {"scheduler": "rr"}})
    ready(kpath)
    c.get(kpath + "/flavors")
    c.get(kpath + "/ipRestrictions")
    c.post(kpath + "/ipRestrictions", ips=["10.0.0.0/8"])
    c.put(kpath + "/ipRestrictions", ips=["10.0.0.0/8", "172.16.0.0/12"])
    c.delete(kpath + "/ipRestrictions/172.16.0.0%2F12")
    c.post(kpath + "/kubeconfig")
    c.post(kpath + "/kubeconfig/reset")
    ready(kpath)
    c.post(kpath + "/openIdConnect", clientId="c", issuerUrl="https://issuer.example.org",
           signingAlgorithms=["RS256"], groupsClaim=["groups"])
    c.get(kpath + "/openIdConnect")
    ready(kpath)
    c.put(kpath + "/openIdConnect", usernamePrefix="oidc:")
    ready(kpath)
    c.delete(kpath + "/openIdConnect")
    ready(kpath)
    c.get(kpath + "/privateNetworkConfiguration")
    c.put(kpath + "/privateNetworkConfiguration", defaultVrackGateway="192.168.0.1",
          privateNetworkRoutingAsDefault=True)
    ready(kpath)
    c.put(kpath + "/updateLoadBalancersSubnetId", loadBalancersSubnetId=lb["id"])
    c.put(kpath + "/updatePolicy", updatePolicy="ALWAYS_UPDATE")

    pools = c.get(kpath + "/nodepool")
    pool = c.post(kpath + "/nodepool", name="apps", flavorName="c2-15", desiredNodes=2, minNodes=1, maxNodes=4,
                  autoscale=False, autoscaling={"scaleDownUnneededTimeSeconds": 300},
                  template={"metadata": {"labels": {"app": "keiko"}, "annotations": {}, "finalizers": []},
                            "spec": {"taints": [{"key": "dedicated", "value": "apps", "effect": "NoSchedule"}],
                                     "unschedulable": False}})
    ppath = kpath + f"/nodepool/{pool['id']}"
    ready(ppath)
    c.put(ppath, desiredNodes=3)
    ready(ppath)
    c.get(ppath + "/nodes")
    nodes = c.get(kpath + "/node")
    node = [n for n in nodes if n["nodePoolId"] == pool["id"]][0]
    c.get(kpath + f"/node/{node['id']}")
    c.delete(kpath + f"/node/{node['id']}")
    ready(ppath)
    c.post(kpath + "/update", strategy="NEXT_MINOR", force=False)
    ready(kpath)
    c.post(kpath + "/restart", force=True)
    ready(kpath)
    c.post(kpath + "/reset", version="1.33", workerNodesPolicy="reinstall")
    ready(kpath)
    c.delete(ppath)
    c.delete(kpath)
    wait_for(lambda: c.get(base + "/kube") == [], timeout=10)
    c.delete(npath + f"/subnet/{lb['id']}")
    c.delete(npath)
    assert pools

    served = {(r["method"], r["path"]) for r in emu.admin("GET", "routes") if r["module"] in SCENARIO_MODULES}
    hit = {(e["method"], e["operation"]) for e in emu.requests() if e.get("operation") and e["status"] == 200}
    assert sorted(served - hit) == []
    assert emu.violations() == []


def test_generic_walk_of_project_level_lists(ovh_emulator):
    """Every GET route that needs only {serviceName} answers 200 with a valid body (new domains too)."""
    c = ovh_emulator.ovh_client()
    routes = ovh_emulator.admin("GET", "routes")
    walked = 0
    for r in routes:
        params = [seg for seg in r["path"].split("/") if seg.startswith("{")]
        if r["method"] != "GET" or params not in ([], ["{serviceName}"]):
            continue
        c.get(r["path"].replace("{serviceName}", ovh_emulator.service_name))
        walked += 1
    assert walked >= 10
    assert ovh_emulator.violations() == []


@pytest.mark.parametrize("path", ["/cloud/project/{s}/kube/nope", "/cloud/project/{s}/network/private/pn-1_1",
                                  "/cloud/project/0123456789abcdef0123456789abcdef"])
def test_missing_resources_answer_404_in_the_api_shape(ovh_emulator, path):
    from helpers import signed

    r = signed(ovh_emulator, "GET", path.format(s=ovh_emulator.service_name))
    assert r.status_code == 404
    body = r.json()
    assert body["class"] == "Client::NotFound" and body["message"]
