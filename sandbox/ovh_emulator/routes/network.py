"""Private networks (vRack): ``/cloud/project/{serviceName}/network/private...``.

State: ``project["networks"][networkId]`` with ``regions`` (each with its OpenStack id) and
``subnets``. Ids look like the real ones: ``pn-<vrack number>_<vlanId>``; a Managed Kubernetes
cluster refers to the OpenStack id (a UUID) of the network in its region.
"""

from __future__ import annotations

import ipaddress

from ..errors import BadRequest, Conflict, NotFound, invalid_data
from ..lifecycle import begin, due, finish
from ..routing import advancer, project_initializer, route

NET = "/cloud/project/{serviceName}/network/private"
ONE = NET + "/{networkId}"
VLAN_MAX = 4000


@project_initializer
def _init(project: dict, app) -> None:
    project.setdefault("networks", {})
    if "vrack" not in project:
        project["vrack"] = app.ids.randint(1000000, 1999999)


def _network(ctx, serviceName: str, networkId: str) -> dict:
    proj = ctx.project(serviceName)
    n = proj["networks"].get(networkId)
    if n is None:
        raise NotFound(f"Private network {networkId} does not exist")
    ctx.touch(networkId)
    return n


def network_view(n: dict) -> dict:
    return {
        "id": n["id"],
        "name": n["name"],
        "regions": [{"openstackId": r["openstackId"], "region": r["region"], "status": r["status"]}
                    for r in n["regions"]],
        "status": n["status"],
        "type": "private",
        "vlanId": n["vlanId"],
    }


def subnet_view(s: dict) -> dict:
    return {k: s[k] for k in ("cidr", "dhcpEnabled", "gatewayIp", "id", "ipPools")}


def _users(ctx, proj: dict, n: dict) -> list[str]:
    """Managed Kubernetes clusters attached to network ``n``."""
    os_ids = {r["openstackId"] for r in n["regions"]}
    return sorted(c["id"] for c in proj.get("kube", {}).values() if c.get("privateNetworkId") in os_ids)


@route("GET", NET)
def list_networks(ctx, serviceName):
    proj = ctx.project(serviceName)
    return [network_view(n) for n in sorted(proj["networks"].values(), key=lambda n: n["vlanId"])]


@route("POST", NET, create=True)
def create_network(ctx, serviceName):
    proj = ctx.project(serviceName)
    b = ctx.body
    used = {n["vlanId"] for n in proj["networks"].values()}
    vlan = b.get("vlanId")
    if vlan is None:
        free = [v for v in range(2, VLAN_MAX + 1) if v not in used]
        if not free:
            raise BadRequest("No free vlan id left on this vRack")
        vlan = free[ctx.ids.randint(0, len(free) - 1)]
    elif not 0 <= vlan <= VLAN_MAX:
        raise BadRequest(f"vlanId must be between 0 and {VLAN_MAX}")
    elif vlan in used:
        raise Conflict(f"vlanId {vlan} is already used by another private network of this project")
    regions = b.get("regions")
    if regions is None:
        regions = list(proj["regions"])
    for r in regions:
        if r not in proj["regions"]:
            raise BadRequest(f"Region {r} is not enabled on this project")
    nid = f"pn-{proj['vrack']}_{vlan}"
    n = {"id": nid, "name": b["name"], "vlanId": vlan, "status": "BUILDING", "regions": [], "subnets": {},
         "_created_ts": ctx.now}
    for r in dict.fromkeys(regions):
        reg = {"region": r, "status": "BUILDING", "openstackId": ctx.ids.uuid()}
        begin(reg, "BUILDING", "ACTIVE", ctx.now, ctx.transition)
        n["regions"].append(reg)
    begin(n, "BUILDING", "ACTIVE", ctx.now, ctx.transition)
    proj["networks"][nid] = n
    ctx.touch(nid)
    return network_view(n)


@route("GET", ONE)
def get_network(ctx, serviceName, networkId):
    return network_view(_network(ctx, serviceName, networkId))


@route("PUT", ONE)
def rename_network(ctx, serviceName, networkId):
    n = _network(ctx, serviceName, networkId)
    n["name"] = ctx.body["name"]
    return None


@route("DELETE", ONE)
def delete_network(ctx, serviceName, networkId):
    proj = ctx.project(serviceName)
    n = _network(ctx, serviceName, networkId)
    if n["status"] == "DELETING":
        raise BadRequest(f"Private network {networkId} is already being deleted")
    users = _users(ctx, proj, n)
    if users:
        raise BadRequest(f"Private network {networkId} is used by Managed Kubernetes cluster(s) {', '.join(users)}")
    os_ids = {r["openstackId"] for r in n["regions"]}
    dbs = sorted(cid for cid, rec in proj.get("databases", {}).items() if rec["svc"].get("networkId") in os_ids)
    if dbs:
        raise BadRequest(f"Private network {networkId} is used by database service(s) {', '.join(dbs)}")
    begin(n, "DELETING", "DELETED", ctx.now, ctx.transition, action="delete")
    return None


@route("POST", ONE + "/region", create=True)
def add_network_region(ctx, serviceName, networkId):
    proj = ctx.project(serviceName)
    n = _network(ctx, serviceName, networkId)
    r = ctx.body["region"]
    if r not in proj["regions"]:
        raise BadRequest(f"Region {r} is not enabled on this project")
    if any(x["region"] == r for x in n["regions"]):
        raise BadRequest(f"Private network {networkId} already exists in region {r}")
    reg = {"region": r, "status": "BUILDING", "openstackId": ctx.ids.uuid()}
    begin(reg, "BUILDING", "ACTIVE", ctx.now, ctx.transition)
    n["regions"].append(reg)
    return network_view(n)


@route("GET", ONE + "/subnet")
def list_subnets(ctx, serviceName, networkId):
    n = _network(ctx, serviceName, networkId)
    return [subnet_view(s) for s in n["subnets"].values()]


@route("POST", ONE + "/subnet", create=True)
def create_subnet(ctx, serviceName, networkId):
    n = _network(ctx, serviceName, networkId)
    b = ctx.body
    region = b["region"]
    if not any(r["region"] == region for r in n["regions"]):
        raise invalid_data(f"Private network {networkId} is not available in region {region}", ctx.request_id)
    net = ipaddress.ip_network(b["network"], strict=False)
    start, end = ipaddress.ip_address(b["start"]), ipaddress.ip_address(b["end"])
    if start not in net or end not in net or int(start) > int(end):
        raise invalid_data(f"Allocation pool {start}-{end} is not inside {net}", ctx.request_id)
    for s in n["subnets"].values():
        if s["region"] == region and ipaddress.ip_network(s["cidr"]).overlaps(net):
            raise invalid_data(f"Subnet {net} overlaps subnet {s['cidr']} in region {region}", ctx.request_id)
    gateway = None if b["noGateway"] else str(next(net.hosts()))
    sid = ctx.ids.uuid()
    s = {"id": sid, "cidr": str(net), "dhcpEnabled": bool(b["dhcp"]), "gatewayIp": gateway, "region": region,
         "ipPools": [{"dhcp": bool(b["dhcp"]), "end": str(end), "network": str(net), "region": region,
                      "start": str(start)}]}
    n["subnets"][sid] = s
    ctx.touch(sid)
    return subnet_view(s)


@route("DELETE", ONE + "/subnet/{subnetId}")
def delete_subnet(ctx, serviceName, networkId, subnetId):
    proj = ctx.project(serviceName)
    n = _network(ctx, serviceName, networkId)
    if subnetId not in n["subnets"]:
        raise NotFound(f"Subnet {subnetId} does not exist")
    users = sorted(c["id"] for c in proj.get("kube", {}).values()
                   if subnetId in (c.get("nodesSubnetId"), c.get("loadBalancersSubnetId")))
    if users:
        raise BadRequest(f"Subnet {subnetId} is used by Managed Kubernetes cluster(s) {', '.join(users)}")
    dbs = sorted(cid for cid, rec in proj.get("databases", {}).items() if rec["svc"].get("subnetId") == subnetId)
    if dbs:
        raise BadRequest(f"Subnet {subnetId} is used by database service(s) {', '.join(dbs)}")
    del n["subnets"][subnetId]
    ctx.touch(subnetId)
    return None


@advancer
def advance(ctx) -> None:
    now = ctx.now
    for proj in ctx.state["projects"].values():
        nets = proj.get("networks", {})
        for nid in list(nets):
            n = nets[nid]
            for reg in n["regions"]:
                if due(reg, now):
                    finish(reg)
            if due(n, now):
                rec = finish(n)
                if rec.get("action") == "delete":
                    del nets[nid]
