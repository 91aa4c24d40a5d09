"""Managed Kubernetes (MKS): clusters, node pools, nodes and their satellites.

State: ``project["kube"][kubeId]`` holds the cluster with its ``nodepools`` (each with ``nodes``).
Statuses move with time (``lifecycle``); the advancer at the bottom completes transitions.
When the emulator runs with ``--clusters-dir``, each cluster gets a local control plane of its own
(``localkube_bridge.ControlPlanes``): it stays INSTALLING until that control plane answers, its kubeconfig
is the control plane's admin kubeconfig, its node pools drive the control plane's simulated nodes, and it
stays DELETING until the control plane is stopped and removed.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re

from .. import catalog, kubeconfig, lifecycle, localkube_bridge
from ..errors import ApiError, BadRequest, Conflict, Forbidden, NotFound, integrity_error, invalid_data, require_ready
from ..lifecycle import begin, due, finish
from ..routing import advancer, before_reset, on_start, project_initializer, route

BASE = "/cloud/project/{serviceName}"
KUBE = BASE + "/kube/{kubeId}"
POOL = KUBE + "/nodepool/{nodePoolId}"

POOL_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")
MAX_NODES = 100
ANTI_AFFINITY_MAX = 5
DEFAULT_AUTOSCALING = {"scaleDownUnneededTimeSeconds": 600, "scaleDownUnreadyTimeSeconds": 1200,
                       "scaleDownUtilizationThreshold": 0.5}
DEFAULT_CUSTOMIZATION = {
    "apiServer": {"admissionPlugins": {"disabled": [], "enabled": ["AlwaysPullImages", "NodeRestriction"]}},
    "kubeProxy": {
        "iptables": {"minSyncPeriod": "PT1S", "syncPeriod": "PT30S"},
        "ipvs": {"minSyncPeriod": "PT0S", "scheduler": "rr", "syncPeriod": "PT30S", "tcpFinTimeout": "PT0S",
                 "tcpTimeout": "PT0S", "udpTimeout": "PT0S"},
    },
}
DEFAULT_PNC = {"defaultVrackGateway": "", "privateNetworkRoutingAsDefault": False}
OIDC_FIELDS = ("caContent", "clientId", "groupsClaim", "groupsPrefix", "issuerUrl", "requiredClaim",
               "signingAlgorithms", "usernameClaim", "usernamePrefix")


@project_initializer
def _init(project: dict, app) -> None:
    project.setdefault("kube", {})


# -- lookups -------------------------------------------------------------------------------------
def _cluster(ctx, serviceName: str, kubeId: str, ready_for: str | None = None) -> dict:
    """The cluster (404 ``This service does not exist``); with ``ready_for``, refused unless READY."""
    c = ctx.lookup(ctx.project(serviceName)["kube"], kubeId, "This service does not exist", hide_fresh=True)
    if ready_for is not None:
        require_ready(c, ready_for, "Cluster")
    return c


def _pool(ctx, c: dict, nodePoolId: str, ready_for: str | None = None) -> dict:
    p = ctx.lookup(c["nodepools"], nodePoolId,
                   f"[NotFoundError] 404: NodePool {nodePoolId} not found (request ID: {ctx.request_id})",
                   hide_fresh=True)
    if ready_for is not None:
        require_ready(p, ready_for, "NodePool")
    return p


def _refuse(c: dict, action: str, *statuses: str) -> None:
    """Refuse ``action`` on the cluster while its status is one of ``statuses``."""
    if c["status"] in statuses:
        raise integrity_error(action, "Cluster", c["status"])


def _redeploy(ctx, c: dict) -> None:
    """The cluster redeploys to apply a change (``REDEPLOYING -> READY``)."""
    begin(c, "REDEPLOYING", "READY", ctx.now, ctx.transition, action="redeploy")
    c["updatedAt"] = ctx.iso()


def _oidc_config(ctx, c: dict, kubeId: str) -> dict:
    if not c.get("oidc"):
        raise NotFound(f"[NotFoundError] 404: No OpenIdConnect configuration on cluster {kubeId} "
                       f"(request ID: {ctx.request_id})")
    return c["oidc"]


def _patch(version: str) -> str:
    return catalog.KUBE_PATCH.get(version, version + ".0")


def _plane(app, c: dict) -> dict | None:
    """The cluster's control plane record (``--clusters-dir`` mode), else None."""
    return c.get("_controlplane") if app.controlplanes is not None else None


def _ready(app, c: dict) -> bool:
    """Whether the cluster's own control plane is up (its kubeconfig works)."""
    plane = _plane(app, c)
    return plane is not None and app.controlplanes.phase(plane["dir"]) == "ready"


def _starting(app, c: dict) -> bool:
    """Whether the cluster's control plane is still on its way up (its transitions wait for it)."""
    plane = _plane(app, c)
    return plane is not None and app.controlplanes.phase(plane["dir"]) not in ("ready", "failed")


def _planes_in_use(ctx) -> list[dict]:
    return [c for proj in ctx.state["projects"].values() for c in proj.get("kube", {}).values()
            if c.get("_controlplane")]


def _check_capacity(ctx, name: str | None) -> None:
    """Refuse a cluster past ``max_clusters``, or one whose name another cluster's control plane has."""
    in_use = _planes_in_use(ctx)
    if name and localkube_bridge.dir_name(name, "") == name:
        for c in in_use:
            if c["_controlplane"]["dir"] == name:
                raise Conflict(f"[AlreadyExistsError] 409: Cannot create Cluster: the local control plane of cluster "
                               f"{c['id']} is named {name}; choose another name (request ID: {ctx.request_id})")
    limit = int(ctx.settings.max_clusters)
    if len(in_use) >= limit:
        names = ", ".join(sorted(c["name"] for c in in_use))
        raise Forbidden(f"[QuotaExceededError] 403: Cannot create Cluster: the sandbox runs at most {limit} "
                        f"Kubernetes clusters at once, each with its own local control plane ({len(in_use)} exist: "
                        f"{names}); delete one, or raise the emulator's max_clusters setting "
                        f"(OVH_EMULATOR_MAX_CLUSTERS) (request ID: {ctx.request_id})")


# -- views ---------------------------------------------------------------------------------------
def cluster_view(ctx, c: dict) -> dict:
    nxt = catalog.next_minor(c["version"])
    busy = c["status"] == "UPDATING"
    return {
        "auditLogsSubscribed": False,
        "controlPlaneIsUpToDate": not busy,
        "createdAt": c["createdAt"],
        "customization": copy.deepcopy(c["customization"]),
        "id": c["id"],
        "isUpToDate": not busy and all(n["isUpToDate"] for p in c["nodepools"].values() for n in p["nodes"]),
        "kubeProxyMode": c["kubeProxyMode"],
        "loadBalancersSubnetId": c.get("loadBalancersSubnetId"),
        "name": c["name"],
        "nextUpgradeVersions": [nxt] if nxt else [],
        "nodesSubnetId": c.get("nodesSubnetId"),
        "nodesUrl": c["nodesUrl"],
        "privateNetworkConfiguration": copy.deepcopy(c.get("privateNetworkConfiguration")),
        "privateNetworkId": c.get("privateNetworkId"),
        "region": c["region"],
        "status": c["status"],
        "updatePolicy": c["updatePolicy"],
        "updatedAt": c["updatedAt"],
        "url": c["url"],
        "version": c["version"],
    }


def _counts(p: dict) -> tuple[int, int, int]:
    """(currentNodes, availableNodes, upToDateNodes)."""
    current = sum(1 for n in p["nodes"] if n["status"] != "INSTALLING")
    available = sum(1 for n in p["nodes"] if n["status"] == "READY")
    uptodate = sum(1 for n in p["nodes"] if n["isUpToDate"] and n["status"] != "INSTALLING")
    return current, available, uptodate


def pool_view(ctx, p: dict) -> dict:
    current, available, uptodate = _counts(p)
    desired = p["desiredNodes"]
    size = "CAPACITY_OK" if current == desired else ("UNDER_CAPACITY" if current < desired else "OVER_CAPACITY")
    return {
        "antiAffinity": p["antiAffinity"],
        "autoscale": p["autoscale"],
        "autoscaling": dict(p["autoscaling"]),
        "availableNodes": available,
        "createdAt": p["createdAt"],
        "currentNodes": current,
        "desiredNodes": desired,
        "flavor": p["flavor"],
        "id": p["id"],
        "maxNodes": p["maxNodes"],
        "minNodes": p["minNodes"],
        "monthlyBilled": p["monthlyBilled"],
        "name": p["name"],
        "projectId": p["projectId"],
        "sizeStatus": size,
        "status": p["status"],
        "template": copy.deepcopy(p["template"]),
        "upToDateNodes": uptodate,
        "updatedAt": p["updatedAt"],
    }


def node_view(n: dict) -> dict:
    return {k: n[k] for k in ("createdAt", "deployedAt", "flavor", "id", "instanceId", "isUpToDate", "name",
                              "nodePoolId", "projectId", "status", "updatedAt", "version")}


# -- nodes ---------------------------------------------------------------------------------------
def _new_node(ctx, c: dict, p: dict) -> dict:
    now = ctx.iso()
    return {"createdAt": now, "deployedAt": None, "flavor": p["flavor"], "id": ctx.ids.uuid(),
            "instanceId": None, "isUpToDate": True, "name": f"{p['name']}-node-{ctx.ids.hex(6)}",
            "nodePoolId": p["id"], "projectId": p["projectId"], "status": "INSTALLING", "updatedAt": now,
            "version": _patch(c["version"])}


def _is_one_of(n: dict, refs: list[str]) -> bool:
    """nodesToRemove names a node by node ID, OpenStack instance ID or name (cloud.json)."""
    return any(r in refs for r in (n["id"], n["name"], n.get("instanceId")) if r)


def _resize(ctx, c: dict, p: dict, desired: int, remove: list[str] | None = None) -> str | None:
    """Move the pool's nodes towards ``desired``; returns the transitional status, if any."""
    alive = [n for n in p["nodes"] if n["status"] != "DELETING"]
    if desired > len(alive):
        for _i in range(desired - len(alive)):
            p["nodes"].append(_new_node(ctx, c, p))
        return "UPSCALING"
    if desired < len(alive):
        k = len(alive) - desired
        chosen = [n for n in alive if remove and _is_one_of(n, remove)][:k]
        for n in reversed(alive):  # newest first, like the autoscaler
            if len(chosen) >= k:
                break
            if n not in chosen:
                chosen.append(n)
        for n in chosen:
            n["status"] = "DELETING"
            n["updatedAt"] = ctx.iso()
        return "DOWNSCALING"
    return None


def _settle_nodes(ctx, c: dict, p: dict) -> None:
    now = ctx.iso()
    keep = []
    for n in p["nodes"]:
        if n["status"] == "DELETING":
            continue
        if n["status"] != "READY" or n["version"] != _patch(c["version"]):
            n["status"] = "READY"
            n["deployedAt"] = n["deployedAt"] or now
            n["instanceId"] = n["instanceId"] or ctx.ids.uuid()
            n["version"] = _patch(c["version"])
            n["isUpToDate"] = True
            n["updatedAt"] = now
        keep.append(n)
    p["nodes"] = keep


# -- localkube side effects ----------------------------------------------------------------------
def _sync_effect(ctx, c: dict, p: dict, remove_names: list[str] | None = None) -> None:
    if not _ready(ctx.app, c):
        return
    app = ctx.app
    kubeconfig_path = str(app.controlplanes.kubeconfig(c["_controlplane"]["dir"]))
    name, flavor, count = p["name"], p["flavor"], sum(1 for n in p["nodes"] if n["status"] != "DELETING")
    labels = {"topology.kubernetes.io/region": c["region"]}
    labels.update(p["template"]["metadata"].get("labels") or {})
    kube_id, pool_id = c["id"], p["id"]

    def sync_pool_nodes():
        if remove_names:
            try:
                from localkube.kubeapi import KubeClient  # noqa: PLC0415 - lazy, optional

                client = KubeClient(kubeconfig_path)
                try:
                    for nm in remove_names:
                        try:
                            client.delete(f"/api/v1/nodes/{nm}")
                        except Exception:  # noqa: BLE001 - already gone
                            pass
                finally:
                    client.close()
            except ImportError:
                pass
        names = localkube_bridge.nodes().sync_pool_nodes(kubeconfig_path, name, flavor, count, labels=labels) or []
        _adopt_names(app, kube_id, pool_id, list(names))

    ctx.after_commit(sync_pool_nodes)


def _delete_effect(ctx, c: dict, p: dict) -> None:
    if not _ready(ctx.app, c) or c["status"] == "DELETING":
        return
    kubeconfig_path = str(ctx.app.controlplanes.kubeconfig(c["_controlplane"]["dir"]))
    name = p["name"]

    def delete_pool_nodes():
        localkube_bridge.nodes().delete_pool_nodes(kubeconfig_path, name)

    ctx.after_commit(delete_pool_nodes)


def _adopt_names(app, kube_id: str, pool_id: str, names: list[str]) -> None:
    """Give the OVH node records the names of the Kubernetes nodes (as on the real MKS)."""
    with app.store.transaction() as st:
        for proj in st["projects"].values():
            c = proj.get("kube", {}).get(kube_id)
            if not c or pool_id not in c["nodepools"]:
                continue
            nodes = [n for n in c["nodepools"][pool_id]["nodes"] if n["status"] != "DELETING"]
            if len(nodes) != len(names):
                return
            free = [nm for nm in names if nm not in {n["name"] for n in nodes}]
            for n in nodes:
                if n["name"] not in names and free:
                    n["name"] = free.pop(0)
            return


# -- clusters ------------------------------------------------------------------------------------
@route("GET", BASE + "/kube")
def list_clusters(ctx, serviceName):
    return sorted(ctx.project(serviceName)["kube"])


def _check_region(ctx, proj: dict, region: str) -> None:
    if region not in catalog.MKS_REGIONS or region not in proj["regions"]:
        raise invalid_data(f"Region {region} is not available for Managed Kubernetes in this project",
                           ctx.request_id)


def _check_network(ctx, proj: dict, region: str, body: dict) -> None:
    pn = body.get("privateNetworkId")
    if pn is None:
        for f in ("nodesSubnetId", "loadBalancersSubnetId"):
            if body.get(f):
                raise invalid_data(f"{f} requires privateNetworkId", ctx.request_id)
        return
    try:
        import uuid as _u

        _u.UUID(pn)
    except ValueError:
        raise invalid_data(f"Private network {pn} is not a correct uuid", ctx.request_id) from None
    net = None
    for n in proj.get("networks", {}).values():
        for r in n.get("regions", []):
            if r.get("openstackId") == pn:
                net = (n, r)
    if net is None:
        raise invalid_data(f"Private network {pn} not found", ctx.request_id)
    n, r = net
    if r["region"] != region:
        raise invalid_data(f"Private network {pn} is not in region {region}", ctx.request_id)
    subnet_ids = {s["id"] for s in n.get("subnets", {}).values()}
    for f in ("nodesSubnetId", "loadBalancersSubnetId"):
        if body.get(f) and body[f] not in subnet_ids:
            raise invalid_data(f"Subnet {body[f]} not found in private network {pn}", ctx.request_id)


def _normalise_customization(ctx, cust: dict | None, base: dict | None = None) -> dict:
    out = copy.deepcopy(base or DEFAULT_CUSTOMIZATION)
    if not cust:
        return out
    for section in ("apiServer", "kubeProxy"):
        if section in cust:
            if cust[section] is None:
                out[section] = copy.deepcopy(DEFAULT_CUSTOMIZATION[section])
            else:
                _deep_merge(out[section], cust[section])
    ap = out["apiServer"]["admissionPlugins"]
    ap["enabled"] = list(ap.get("enabled") or [])
    ap["disabled"] = list(ap.get("disabled") or [])
    both = set(ap["enabled"]) & set(ap["disabled"])
    if both:
        raise invalid_data(f"Admission plugins {sorted(both)} cannot be both enabled and disabled", ctx.request_id)
    return out


def _deep_merge(dst: dict, src: dict) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _deep_merge(dst[k], v)
        else:
            dst[k] = copy.deepcopy(v)


def _server_url(ctx, kube_id: str, short: str, region: str) -> tuple[str, str]:
    rl = region.lower()
    return f"{short}.c1.{rl}.k8s.ovh.net", f"{short}.nodes.c1.{rl}.k8s.ovh.net"


@route("POST", BASE + "/kube", create=True)
def create_cluster(ctx, serviceName):
    proj = ctx.project(serviceName)
    b = ctx.body
    region = b["region"]
    _check_region(ctx, proj, region)
    if ctx.app.controlplanes is not None:
        _check_capacity(ctx, b.get("name"))
    version = b.get("version") or catalog.DEFAULT_KUBE_VERSION
    if version not in catalog.KUBE_VERSIONS:
        raise invalid_data(f"Version {version} is not available", ctx.request_id)
    _check_network(ctx, proj, region, b)
    customization = _normalise_customization(ctx, b.get("customization"))
    pool_spec = b.get("nodepool")
    if pool_spec is not None:
        pool_spec = _pool_spec(ctx, pool_spec, region, creation=True)
    kube_id = ctx.ids.uuid()
    short = ctx.ids.lower(6)
    url, nodes_url = _server_url(ctx, kube_id, short, region)
    now = ctx.iso()
    c = {
        "id": kube_id, "name": b.get("name") or kube_id, "region": region, "version": version,
        "status": "INSTALLING", "updatePolicy": b.get("updatePolicy") or "ALWAYS_UPDATE",
        "kubeProxyMode": b.get("kubeProxyMode") or "iptables", "customization": customization,
        "privateNetworkId": b.get("privateNetworkId"), "nodesSubnetId": b.get("nodesSubnetId"),
        "loadBalancersSubnetId": b.get("loadBalancersSubnetId"),
        "privateNetworkConfiguration": (_pnc(b.get("privateNetworkConfiguration"))
                                        if b.get("privateNetworkId") else None),
        "ipRestrictions": [], "oidc": None, "createdAt": now, "updatedAt": now, "_created_ts": ctx.now,
        "url": url, "nodesUrl": nodes_url, "_kubeconfig_gen": 1, "nodepools": {},
    }
    begin(c, "INSTALLING", "READY", ctx.now, ctx.transition, action="install")
    proj["kube"][kube_id] = c
    ctx.touch(kube_id)
    if pool_spec is not None:
        p = _make_pool(ctx, proj, c, pool_spec, serviceName)
        ctx.touch(p["id"])
    planes = ctx.app.controlplanes
    if planes is not None:  # last: nothing below may fail
        plan = planes.plan(kube_id, c["name"])
        c["_controlplane"] = plan
        c["url"] = f"127.0.0.1:{plan['apiserver_port']}"
        name = c["name"]
        ctx.after_commit(lambda: planes.start(plan, name))
    return cluster_view(ctx, c)


def _pnc(v: dict | None) -> dict:
    out = dict(DEFAULT_PNC)
    if v:
        out.update({k: v[k] for k in v if v[k] is not None})
    return out


@route("GET", KUBE)
def get_cluster(ctx, serviceName, kubeId):
    return cluster_view(ctx, _cluster(ctx, serviceName, kubeId))


@route("PUT", KUBE)
def update_cluster(ctx, serviceName, kubeId):
    c = _cluster(ctx, serviceName, kubeId)
    _refuse(c, "update", "DELETING")
    b = ctx.body
    if "name" in b:
        c["name"] = b["name"]
    if "updatePolicy" in b:
        c["updatePolicy"] = b["updatePolicy"]
    c["updatedAt"] = ctx.iso()
    return None


@route("DELETE", KUBE)
def delete_cluster(ctx, serviceName, kubeId):
    c = _cluster(ctx, serviceName, kubeId)
    _refuse(c, "delete", "DELETING")
    begin(c, "DELETING", "DELETED", ctx.now, ctx.transition, action="delete")
    for p in c["nodepools"].values():
        begin(p, "DELETING", "DELETED", ctx.now, ctx.transition, action="delete")
        for n in p["nodes"]:
            n["status"] = "DELETING"
    c["updatedAt"] = ctx.iso()
    plane = _plane(ctx.app, c)
    if plane is not None:
        planes, d = ctx.app.controlplanes, plane["dir"]
        ctx.after_commit(lambda: planes.stop(d))
    return None


# -- cluster satellites ----------------------------------------------------------------------------
@route("GET", KUBE + "/customization")
def get_customization(ctx, serviceName, kubeId):
    return copy.deepcopy(_cluster(ctx, serviceName, kubeId)["customization"])


@route("PUT", KUBE + "/customization")
def put_customization(ctx, serviceName, kubeId):
    c = _cluster(ctx, serviceName, kubeId, ready_for="update")
    c["customization"] = _normalise_customization(ctx, ctx.body, c["customization"])
    _redeploy(ctx, c)
    return {"message": "Customization is being applied, the cluster is redeploying"}


@route("GET", KUBE + "/flavors")
def cluster_flavors(ctx, serviceName, kubeId):
    return catalog.flavors_for(_cluster(ctx, serviceName, kubeId)["region"])


def _ip_list(ctx, ips) -> list[str]:
    out = []
    for ip in ips or []:
        net = str(ipaddress.ip_network(ip, strict=False))
        if net not in out:
            out.append(net)
    return out


@route("GET", KUBE + "/ipRestrictions")
def get_ip_restrictions(ctx, serviceName, kubeId):
    return list(_cluster(ctx, serviceName, kubeId)["ipRestrictions"])


@route("POST", KUBE + "/ipRestrictions")
def add_ip_restrictions(ctx, serviceName, kubeId):
    c = _cluster(ctx, serviceName, kubeId, ready_for="update")
    for ip in _ip_list(ctx, ctx.body.get("ips")):
        if ip not in c["ipRestrictions"]:
            c["ipRestrictions"].append(ip)
    c["updatedAt"] = ctx.iso()
    return list(c["ipRestrictions"])


@route("PUT", KUBE + "/ipRestrictions")
def set_ip_restrictions(ctx, serviceName, kubeId):
    c = _cluster(ctx, serviceName, kubeId, ready_for="update")
    c["ipRestrictions"] = _ip_list(ctx, ctx.body.get("ips"))
    c["updatedAt"] = ctx.iso()
    return list(c["ipRestrictions"])


@route("DELETE", KUBE + "/ipRestrictions/{ip}")
def delete_ip_restriction(ctx, serviceName, kubeId, ip):
    c = _cluster(ctx, serviceName, kubeId, ready_for="update")
    net = str(ipaddress.ip_network(ip, strict=False))
    if net not in c["ipRestrictions"]:
        raise NotFound(f"[NotFoundError] 404: IP restriction {ip} not found (request ID: {ctx.request_id})")
    c["ipRestrictions"].remove(net)
    c["updatedAt"] = ctx.iso()
    return None


@route("POST", KUBE + "/kubeconfig")
def get_kubeconfig(ctx, serviceName, kubeId):
    c = _cluster(ctx, serviceName, kubeId)
    _refuse(c, "get kubeconfig of", "INSTALLING", "DELETING")
    if _plane(ctx.app, c) is not None:
        if not _ready(ctx.app, c):
            raise BadRequest("[IntegrityError] 400: Cannot get kubeconfig of Cluster: its local control plane is "
                             f"{ctx.app.controlplanes.phase(c['_controlplane']['dir']) or 'stopped'}")
        return {"content": ctx.app.controlplanes.content(c["_controlplane"]["dir"])}
    return {"content": kubeconfig.synthetic(c["name"], "https://" + c["url"],
                                            f"{c['id']}:{c['_kubeconfig_gen']}")}


@route("POST", KUBE + "/kubeconfig/reset")
def reset_kubeconfig(ctx, serviceName, kubeId):
    c = _cluster(ctx, serviceName, kubeId, ready_for="reset kubeconfig of")
    c["_kubeconfig_gen"] = int(c.get("_kubeconfig_gen", 1)) + 1
    _redeploy(ctx, c)
    return None


@route("GET", KUBE + "/node")
def list_nodes(ctx, serviceName, kubeId):
    c = _cluster(ctx, serviceName, kubeId)
    return [node_view(n) for p in c["nodepools"].values() for n in p["nodes"]]


def _find_node(ctx, c: dict, nodeId: str) -> tuple[dict, dict]:
    for p in c["nodepools"].values():
        for n in p["nodes"]:
            if n["id"] == nodeId:
                return p, n
    raise NotFound(f"[NotFoundError] 404: Node {nodeId} not found (request ID: {ctx.request_id})")


@route("GET", KUBE + "/node/{nodeId}")
def get_node(ctx, serviceName, kubeId, nodeId):
    c = _cluster(ctx, serviceName, kubeId)
    return node_view(_find_node(ctx, c, nodeId)[1])


@route("DELETE", KUBE + "/node/{nodeId}")
def delete_node(ctx, serviceName, kubeId, nodeId):
    c = _cluster(ctx, serviceName, kubeId)
    p, n = _find_node(ctx, c, nodeId)
    require_ready(p, "delete", "NodePool")
    if p["desiredNodes"] - 1 < p["minNodes"]:
        raise invalid_data(f"Cannot delete node {nodeId}: the node pool would go below minNodes "
                           f"({p['minNodes']})", ctx.request_id)
    ctx.touch(p["id"], nodeId)
    p["desiredNodes"] -= 1
    status = _resize(ctx, c, p, p["desiredNodes"], remove=[nodeId])
    begin(p, status or "DOWNSCALING", "READY", ctx.now, ctx.transition, action="scale",
          remove_names=[n["name"]])
    p["updatedAt"] = ctx.iso()
    return None


@route("GET", KUBE + "/openIdConnect")
def get_oidc(ctx, serviceName, kubeId):
    return dict(_oidc_config(ctx, _cluster(ctx, serviceName, kubeId), kubeId))


def _oidc(values: dict, base: dict | None = None) -> dict:
    out = dict(base or {f: None for f in OIDC_FIELDS})
    out.update({k: v for k, v in values.items() if k in OIDC_FIELDS})
    return out


@route("POST", KUBE + "/openIdConnect", create=True)
def create_oidc(ctx, serviceName, kubeId):
    c = _cluster(ctx, serviceName, kubeId, ready_for="update")
    if c.get("oidc"):
        raise Conflict(f"[AlreadyExistsError] 409: an OpenIdConnect configuration already exists on cluster "
                       f"{kubeId} (request ID: {ctx.request_id})")
    if not ctx.body["issuerUrl"].startswith("https://"):
        raise invalid_data("issuerUrl must be an https URL", ctx.request_id)
    c["oidc"] = _oidc(ctx.body)
    _redeploy(ctx, c)
    return dict(c["oidc"])


@route("PUT", KUBE + "/openIdConnect")
def update_oidc(ctx, serviceName, kubeId):
    c = _cluster(ctx, serviceName, kubeId)
    _oidc_config(ctx, c, kubeId)
    require_ready(c, "update", "Cluster")
    if "issuerUrl" in ctx.body and not str(ctx.body["issuerUrl"]).startswith("https://"):
        raise invalid_data("issuerUrl must be an https URL", ctx.request_id)
    c["oidc"] = _oidc(ctx.body, c["oidc"])
    _redeploy(ctx, c)
    return None


@route("DELETE", KUBE + "/openIdConnect")
def delete_oidc(ctx, serviceName, kubeId):
    c = _cluster(ctx, serviceName, kubeId)
    _oidc_config(ctx, c, kubeId)
    require_ready(c, "update", "Cluster")
    c["oidc"] = None
    _redeploy(ctx, c)
    return None


@route("GET", KUBE + "/privateNetworkConfiguration")
def get_pnc(ctx, serviceName, kubeId):
    c = _cluster(ctx, serviceName, kubeId)
    return dict(c.get("privateNetworkConfiguration") or DEFAULT_PNC)


@route("PUT", KUBE + "/privateNetworkConfiguration")
def put_pnc(ctx, serviceName, kubeId):
    c = _cluster(ctx, serviceName, kubeId, ready_for="update")
    if not c.get("privateNetworkId"):
        raise invalid_data("The cluster is not attached to a private network", ctx.request_id)
    c["privateNetworkConfiguration"] = _pnc({**(c.get("privateNetworkConfiguration") or {}), **ctx.body})
    _redeploy(ctx, c)
    return {"message": "Private network configuration is being applied"}


@route("POST", KUBE + "/reset")
def reset_cluster(ctx, serviceName, kubeId):
    proj = ctx.project(serviceName)
    c = _cluster(ctx, serviceName, kubeId)
    _refuse(c, "reset", "DELETING", "INSTALLING")
    b = ctx.body
    version = b.get("version") or c["version"]
    if version not in catalog.KUBE_VERSIONS:
        raise invalid_data(f"Version {version} is not available", ctx.request_id)
    net = {k: b.get(k, c.get(k)) for k in ("privateNetworkId", "nodesSubnetId", "loadBalancersSubnetId")}
    _check_network(ctx, proj, c["region"], net)
    c.update(net)
    c["version"] = version
    for k in ("name", "updatePolicy", "kubeProxyMode"):
        if b.get(k) is not None:
            c[k] = b[k]
    c["customization"] = _normalise_customization(ctx, b.get("customization"))
    if b.get("privateNetworkConfiguration") is not None:
        c["privateNetworkConfiguration"] = _pnc(b["privateNetworkConfiguration"])
    c["ipRestrictions"] = []
    c["oidc"] = None
    c["_kubeconfig_gen"] = int(c.get("_kubeconfig_gen", 1)) + 1
    policy = b.get("workerNodesPolicy") or "delete"
    for p in list(c["nodepools"].values()):
        if policy == "delete":
            _delete_effect(ctx, c, p)
            del c["nodepools"][p["id"]]
        else:
            for n in p["nodes"]:
                n["status"] = "REDEPLOYING"
            begin(p, "REDEPLOYING", "READY", ctx.now, ctx.transition, action="redeploy")
    begin(c, "RESETTING", "READY", ctx.now, ctx.transition, action="reset")
    c["updatedAt"] = ctx.iso()
    return None


@route("POST", KUBE + "/restart")
def restart_cluster(ctx, serviceName, kubeId):
    c = _cluster(ctx, serviceName, kubeId)
    if not ctx.body.get("force"):
        require_ready(c, "restart", "Cluster")
    else:
        _refuse(c, "restart", "DELETING", "INSTALLING")
    _redeploy(ctx, c)
    return None


@route("POST", KUBE + "/update")
def update_version(ctx, serviceName, kubeId):
    c = _cluster(ctx, serviceName, kubeId)
    if c["updatePolicy"] == "NEVER_UPDATE":
        raise ApiError(409, f"409: Update aborted for service {kubeId} because of policy NEVER_UPDATE "
                            f"(request ID: {ctx.request_id})")
    force = bool(ctx.body.get("force"))
    if c["status"] != "READY" and not (force and c["status"] in ("UPDATING", "REDEPLOYING")):
        raise integrity_error("update", "Cluster", c["status"])
    strategy = ctx.body.get("strategy") or "LATEST_PATCH"
    target = c["version"]
    if strategy == "NEXT_MINOR":
        target = catalog.next_minor(c["version"])
        if target is None:
            raise invalid_data(f"Cluster {kubeId} already runs the latest minor version {c['version']}",
                               ctx.request_id)
    begin(c, "UPDATING", "READY", ctx.now, ctx.transition, action="upgrade", version=target)
    for p in c["nodepools"].values():
        if p["status"] == "READY":
            for n in p["nodes"]:
                n["status"] = "UPDATING"
                n["isUpToDate"] = False
            begin(p, "REDEPLOYING", "READY", ctx.now, ctx.transition, action="redeploy")
    c["updatedAt"] = ctx.iso()
    return None


@route("PUT", KUBE + "/updatePolicy")
def set_update_policy(ctx, serviceName, kubeId):
    c = _cluster(ctx, serviceName, kubeId)
    _refuse(c, "update", "DELETING")
    c["updatePolicy"] = ctx.body["updatePolicy"]
    c["updatedAt"] = ctx.iso()
    return None


@route("PUT", KUBE + "/updateLoadBalancersSubnetId")
def set_lb_subnet(ctx, serviceName, kubeId):
    proj = ctx.project(serviceName)
    c = _cluster(ctx, serviceName, kubeId, ready_for="update")
    if not c.get("privateNetworkId"):
        raise invalid_data("The cluster is not attached to a private network", ctx.request_id)
    _check_network(ctx, proj, c["region"], {"privateNetworkId": c["privateNetworkId"],
                                            "loadBalancersSubnetId": ctx.body["loadBalancersSubnetId"]})
    c["loadBalancersSubnetId"] = ctx.body["loadBalancersSubnetId"]
    c["updatedAt"] = ctx.iso()
    return None


# -- capabilities --------------------------------------------------------------------------------
@route("GET", BASE + "/capabilities/kube/regions")
def capabilities_regions(ctx, serviceName):
    proj = ctx.project(serviceName)
    return [r for r in catalog.MKS_REGIONS if r in proj["regions"]]


@route("GET", BASE + "/kube/regions")
def kube_regions(ctx, serviceName):
    return capabilities_regions(ctx, serviceName)


@route("GET", BASE + "/capabilities/kube/flavors")
def capabilities_flavors(ctx, serviceName):
    proj = ctx.project(serviceName)
    region = ctx.query.get("region")
    if region is not None:
        _check_region(ctx, proj, region)
        return catalog.flavors_for(region)
    return catalog.flavors_for("GRA7")


@route("GET", BASE + "/capabilities/kube/admissionplugins")
def capabilities_admission_plugins(ctx, serviceName):
    ctx.project(serviceName)
    return list(catalog.ADMISSION_PLUGINS)


# -- node pools ----------------------------------------------------------------------------------
def _pool_spec(ctx, b: dict, region: str, creation: bool) -> dict:
    flavor = (b.get("flavorName") or "").lower()
    if not flavor:
        raise invalid_data("flavorName is mandatory", ctx.request_id)
    flavors = {f["name"]: f for f in catalog.flavors_for(region)}
    if flavor not in flavors:
        raise invalid_data(f"Flavor {b.get('flavorName')} does not exist in region {region}", ctx.request_id)
    if flavors[flavor]["state"] != "available":
        raise invalid_data(f"Flavor {flavor} is not available in region {region}", ctx.request_id)
    name = b.get("name")
    if name is not None and not POOL_NAME_RE.match(name):
        raise invalid_data(f"NodePool name {name!r} is invalid: it must contain only lowercase alphanumeric "
                           "characters or '-', start and end with an alphanumeric character, and be at most "
                           "40 characters long", ctx.request_id)
    anti = bool(b.get("antiAffinity"))
    mn = b.get("minNodes", 0)
    mx = b.get("maxNodes", ANTI_AFFINITY_MAX if anti else MAX_NODES)
    desired = b.get("desiredNodes", max(mn, 1) if mn is not None else 1)
    spec = {"flavor": flavor, "name": name, "antiAffinity": anti,
            "monthlyBilled": bool(b.get("monthlyBilled")), "autoscale": bool(b.get("autoscale")),
            "autoscaling": {**DEFAULT_AUTOSCALING, **{k: v for k, v in (b.get("autoscaling") or {}).items()
                                                      if v is not None}},
            "template": _template(b.get("template")), "minNodes": mn, "maxNodes": mx, "desiredNodes": desired}
    _check_sizes(ctx, spec)
    return spec


def _template(t: dict | None) -> dict:
    out = {"metadata": {"annotations": {}, "finalizers": [], "labels": {}},
           "spec": {"taints": [], "unschedulable": False}}
    if t:
        out["metadata"].update(copy.deepcopy(t.get("metadata") or {}))
        out["spec"].update(copy.deepcopy(t.get("spec") or {}))
    return out


def _check_sizes(ctx, s: dict) -> None:
    mn, mx, d = s["minNodes"], s["maxNodes"], s["desiredNodes"]
    if mn < 0 or mx > MAX_NODES or mn > mx:
        raise invalid_data(f"minNodes ({mn}) and maxNodes ({mx}) must satisfy 0 <= minNodes <= maxNodes <= "
                           f"{MAX_NODES}", ctx.request_id)
    if not mn <= d <= mx:
        raise invalid_data(f"desiredNodes ({d}) must be between minNodes ({mn}) and maxNodes ({mx})",
                           ctx.request_id)
    if s["antiAffinity"] and mx > ANTI_AFFINITY_MAX:
        raise invalid_data(f"maxNodes ({mx}) cannot exceed {ANTI_AFFINITY_MAX} when antiAffinity is enabled",
                           ctx.request_id)


def _make_pool(ctx, proj: dict, c: dict, spec: dict, serviceName: str) -> dict:
    if spec["name"] is None:
        spec["name"] = f"nodepool-{ctx.ids.lower(5)}"
    if any(p["name"] == spec["name"] for p in c["nodepools"].values()):
        raise Conflict(f"[AlreadyExistsError] 409: NodePool with name {spec['name']} already exists "
                       f"(request ID: {ctx.request_id})", cls="Client::Conflict::NodePoolAlreadyExists")
    now = ctx.iso()
    p = {"id": ctx.ids.uuid(), "projectId": serviceName, "createdAt": now, "updatedAt": now,
         "_created_ts": ctx.now, "status": "INSTALLING", "nodes": [], **spec}
    c["nodepools"][p["id"]] = p
    _resize(ctx, c, p, p["desiredNodes"])
    begin(p, "INSTALLING", "READY", ctx.now, ctx.transition, action="install")
    return p


@route("GET", KUBE + "/nodepool")
def list_pools(ctx, serviceName, kubeId):
    c = _cluster(ctx, serviceName, kubeId)
    return [pool_view(ctx, p) for p in sorted(c["nodepools"].values(), key=lambda p: (p["createdAt"], p["id"]))]


@route("POST", KUBE + "/nodepool", create=True)
def create_pool(ctx, serviceName, kubeId):
    proj = ctx.project(serviceName)
    c = _cluster(ctx, serviceName, kubeId)
    if c["status"] != "READY":
        raise BadRequest(f"[IntegrityError] 400: Cannot create NodePool: Cluster status is {c['status']}")
    spec = _pool_spec(ctx, ctx.body, c["region"], creation=True)
    p = _make_pool(ctx, proj, c, spec, serviceName)
    ctx.touch(p["id"])
    return pool_view(ctx, p)


@route("GET", POOL)
def get_pool(ctx, serviceName, kubeId, nodePoolId):
    c = _cluster(ctx, serviceName, kubeId)
    return pool_view(ctx, _pool(ctx, c, nodePoolId))


@route("PUT", POOL)
def update_pool(ctx, serviceName, kubeId, nodePoolId):
    c = _cluster(ctx, serviceName, kubeId)
    p = _pool(ctx, c, nodePoolId, ready_for="update")
    b = ctx.body
    new = {k: p[k] for k in ("minNodes", "maxNodes", "desiredNodes", "antiAffinity")}
    for k in ("minNodes", "maxNodes", "desiredNodes"):
        if b.get(k) is not None:
            new[k] = b[k]
    _check_sizes(ctx, new)
    remove = list(b.get("nodesToRemove") or [])
    alive = [n for n in p["nodes"] if n["status"] != "DELETING"]
    for r in remove:
        if not any(_is_one_of(n, [r]) for n in alive):
            raise invalid_data(f"Node {r} does not belong to NodePool {nodePoolId}", ctx.request_id)
    if b.get("autoscale") is not None:
        p["autoscale"] = bool(b["autoscale"])
    if b.get("autoscaling"):
        p["autoscaling"].update({k: v for k, v in b["autoscaling"].items() if v is not None})
    template_changed = False
    if b.get("template") is not None:
        t = _template(b["template"])
        template_changed = t != p["template"]
        p["template"] = t
    p["minNodes"], p["maxNodes"] = new["minNodes"], new["maxNodes"]
    old_desired = p["desiredNodes"]
    p["desiredNodes"] = new["desiredNodes"]
    p["updatedAt"] = ctx.iso()
    removed_names = [n["name"] for n in alive if _is_one_of(n, remove)]
    status = _resize(ctx, c, p, p["desiredNodes"], remove=remove) if p["desiredNodes"] != old_desired else None
    if status:
        begin(p, status, "READY", ctx.now, ctx.transition, action="scale", remove_names=removed_names)
    elif template_changed:
        _sync_effect(ctx, c, p)  # labels follow the template right away
    return None


@route("DELETE", POOL)
def delete_pool(ctx, serviceName, kubeId, nodePoolId):
    c = _cluster(ctx, serviceName, kubeId)
    p = _pool(ctx, c, nodePoolId, ready_for="delete")
    for n in p["nodes"]:
        n["status"] = "DELETING"
        n["updatedAt"] = ctx.iso()
    begin(p, "DELETING", "DELETED", ctx.now, ctx.transition, action="delete")
    p["updatedAt"] = ctx.iso()
    return None


@route("GET", POOL + "/nodes")
def list_pool_nodes(ctx, serviceName, kubeId, nodePoolId):
    c = _cluster(ctx, serviceName, kubeId)
    return [node_view(n) for n in _pool(ctx, c, nodePoolId)["nodes"]]


# -- time ----------------------------------------------------------------------------------------
@advancer
def advance(ctx) -> None:
    now = ctx.now
    for proj in ctx.state["projects"].values():
        kubes = proj.get("kube", {})
        for kid in list(kubes):
            c = kubes[kid]
            if _waits_for_its_control_plane(ctx, c):
                continue
            for pid in list(c["nodepools"]):
                p = c["nodepools"][pid]
                if due(p, now):
                    _complete_pool(ctx, c, p)
            if due(c, now):
                _complete_cluster(ctx, proj, c)


def _waits_for_its_control_plane(ctx, c: dict) -> bool:
    """An install waits until the control plane is up (or failed: then ERROR), a delete until it is gone."""
    plane = _plane(ctx.app, c)
    pend = lifecycle.pending(c) or {}
    if plane is None or pend.get("action") not in ("install", "delete"):
        return False
    planes = ctx.app.controlplanes
    phase = planes.phase(plane["dir"])
    if pend["action"] == "delete":
        if phase == "failed":
            ctx.app.effect_errors.append({"time": ctx.now, "effect": "controlplane-stop",
                                          "error": planes.error(plane["dir"])})
            return False
        return not planes.stopped(plane["dir"])
    if phase == "failed" and due(c, ctx.now):
        finish(c)
        c["status"] = "ERROR"
        c["updatedAt"] = ctx.iso()
        ctx.app.effect_errors.append({"time": ctx.now, "effect": "controlplane-start", "error": planes.error(plane["dir"])})
        for p in c["nodepools"].values():
            if p.get("_pending"):
                finish(p)
                p["status"] = "ERROR"
        return True
    return phase != "ready"


def _complete_pool(ctx, c: dict, p: dict) -> None:
    rec = finish(p)
    p["updatedAt"] = lifecycle.iso(float(rec["until"]))
    if rec.get("action") == "delete":
        del c["nodepools"][p["id"]]
        _delete_effect(ctx, c, p)
        return
    _settle_nodes(ctx, c, p)
    _sync_effect(ctx, c, p, remove_names=rec.get("remove_names"))


def _complete_cluster(ctx, proj: dict, c: dict) -> None:
    rec = finish(c)
    c["updatedAt"] = lifecycle.iso(float(rec["until"]))
    action = rec.get("action")
    if action == "delete":
        for p in list(c["nodepools"].values()):
            _delete_effect(ctx, c, p)
        del proj["kube"][c["id"]]
        return
    if action == "upgrade":
        c["version"] = rec.get("version") or c["version"]
        for p in c["nodepools"].values():
            if p.get("_pending") is None:
                _settle_nodes(ctx, c, p)


def _clusters_with_planes(app) -> list[tuple[str, dict]]:
    with app.store.lock:
        return [(c["id"], json.loads(json.dumps(c))) for proj in app.store.data["projects"].values()
                for c in proj.get("kube", {}).values() if c.get("_controlplane")]


def resync_cluster(app, kube_id: str) -> None:
    """Bring the simulated nodes of a cluster's control plane in line with its node pools."""
    from ..context import Ctx

    with app.store.transaction() as st:
        ctx = Ctx(app, st, "SYNC", "", "", {}, {}, None, "controlplane-ready")
        for proj in st["projects"].values():
            c = proj.get("kube", {}).get(kube_id)
            if c:
                for p in c["nodepools"].values():
                    if p["status"] not in ("DELETING", "INSTALLING"):
                        _sync_effect(ctx, c, p)
        effects = ctx._effects
    app._run_effects(effects)


@on_start
def attach_control_planes(app) -> None:
    """Emulator start: find the clusters' control planes running (or restart them), stop those of
    clusters being deleted and of clusters the state no longer has."""
    planes = app.controlplanes
    if planes is None:
        return
    planes.on_ready = lambda kube_id: resync_cluster(app, kube_id)
    known = _clusters_with_planes(app)
    dirs = {c["_controlplane"]["dir"] for _kid, c in known}
    for d in sorted(p.name for p in planes.root.iterdir() if p.is_dir() and (p / localkube_bridge.RECORD).exists()):
        if d not in dirs:
            planes.echo(f"cluster {d} is not in the state: stopping its control plane")
            localkube_bridge.stop_dir(planes.root / d, echo=planes.echo)
    for _kid, c in known:
        if c["status"] == "DELETING":
            planes.stop(c["_controlplane"]["dir"])
        else:
            planes.start(c["_controlplane"], c["name"], attach=True)


@before_reset
def clear_control_planes(app) -> None:
    """A reset forgets every cluster: stop and remove their control planes."""
    if app.controlplanes is None:
        return
    for _kid, c in _clusters_with_planes(app):
        app.controlplanes.stop(c["_controlplane"]["dir"], wait=True)
