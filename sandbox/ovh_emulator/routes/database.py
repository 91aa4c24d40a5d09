"""Managed databases: ``/cloud/project/{serviceName}/database/...`` (PostgreSQL services and their users,
databases, connection pools, IP restrictions, backups, certificates, advanced configuration, nodes),
plus the engine-neutral ``database/service``, ``database/capabilities`` and ``database/availability``.

State: ``project["databases"][clusterId]`` = ``{"svc": <Service, with _pending>, "users": {}, "databases": {},
"pools": {}, "backups": {}, "advanced": {}, "ca": "..."}``.

Behaviours reproduced (FACTS.md):

- statuses ``CREATING -> READY`` (create, fork), ``UPDATING -> READY`` (PUT, advanced configuration),
  ``DELETING -> gone``; users go ``CREATING -> READY``;
- a second user with the same name: ``409 Client::Conflict::PostgresUserAlreadyExist``; the
  "500 but created" fault applies to the creates (users, databases, pools, services);
- a connection pool created while the service provisions, or on a database created less than
  ``transition_seconds`` ago, answers ``403 Service database '<name>' does not exist``;
- writes on a service that is not READY answer ``[IntegrityError] 400 ... status is UPDATING`` (busy);
- forks (``forkFrom``/deprecated ``backup``) need an existing source and a READY backup of it, or a point in
  time inside its recovery window; the new service gets the source's users and databases.

Catalogue (lenient where OVH documents nothing precise): plans essential (1 node), business (2-3 nodes),
production (3-5 nodes); flavors db1-4 ... db1-120; PostgreSQL 14-17; regions BHS, DE, GRA, SBG, UK, WAW.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import ipaddress

from .. import lifecycle
from ..errors import BadRequest, Conflict, Forbidden, NotFound, integrity_error, invalid_data, require_ready
from ..routing import advancer, project_initializer, route

P = "/cloud/project/{serviceName}/database"
PG = P + "/postgresql"
PGC = PG + "/{clusterId}"

ENGINE = "postgresql"
REGIONS = ("BHS", "DE", "GRA", "SBG", "UK", "WAW")
VERSIONS = ("14", "15", "16", "17")
DEFAULT_VERSION = "17"
# name: (cores, memory GB, base storage GB, order)
FLAVORS = {
    "db1-4": (1, 4, 80, 1), "db1-7": (2, 7, 160, 2), "db1-15": (4, 15, 320, 3),
    "db1-30": (8, 30, 640, 4), "db1-60": (16, 60, 1280, 5), "db1-120": (32, 120, 2560, 6),
}
# name: (min nodes, max nodes, backup retention days, order, flavors)
PLANS = {
    "essential": (1, 1, 2, 1, ("db1-4", "db1-7", "db1-15")),
    "business": (2, 3, 14, 2, tuple(FLAVORS)),
    "production": (3, 5, 30, 3, tuple(FLAVORS)),
}
ROLES = ("replication",)
PORT = 20184
DAY = 86400.0

ADVANCED = (
    # name, type, description, minimum, maximum, values
    ("pg_stat_statements.track", "string", "Controls which statements are counted", None, None,
     ["all", "top", "none"]),
    ("work_mem", "long", "Memory (MB) of internal sort operations and hash tables", 1.0, 1024.0, None),
    ("max_connections", "long", "Maximum number of connections", 25.0, 5000.0, None),
    ("log_min_duration_statement", "long", "Log statements slower than this (ms, -1 disables)", -1.0,
     86400000.0, None),
    ("pg_partman_bgw.interval", "long", "Seconds between pg_partman background worker runs", 3600.0,
     604800.0, None),
    ("jit", "boolean", "Controls the JIT compilation", None, None, None),
    ("idle_in_transaction_session_timeout", "long", "Time out idle transactions (ms)", 0.0, 604800000.0, None),
)
ADVANCED_BY_NAME = {a[0]: a for a in ADVANCED}

CAPABILITIES = ("advancedConfiguration", "backupRestore", "backupTime", "backups", "certificates",
                "connectionPools", "currentQueries", "currentQueriesCancel", "databases", "enableWrites",
                "fork", "integrations", "ipRestrictions", "maintenanceApply", "maintenanceTime", "maintenances",
                "nodes", "queryStatistics", "queryStatisticsReset", "service", "userCredentialsReset", "users")


# -- state -----------------------------------------------------------------------------------------

@project_initializer
def _init(project: dict, app) -> None:
    project.setdefault("databases", {})


def _dbs(ctx, serviceName) -> dict:
    return ctx.project(serviceName).setdefault("databases", {})


def _record(ctx, serviceName, clusterId, engine: str | None = ENGINE, ready_for: str | None = None) -> dict:
    """The service's record (404 ``Service <id> not found``); with ``ready_for``, refused unless READY."""
    rec = _dbs(ctx, serviceName).get(clusterId)
    if rec is None or (engine is not None and rec["svc"]["engine"] != engine):
        raise NotFound(f"Service {clusterId} not found")
    ctx.touch(clusterId)
    if ready_for is not None:
        require_ready(rec["svc"], ready_for, "Service")
    return rec


# what the 404 of a missing member of a service's collection calls it
MEMBER_KIND = {"users": "User", "databases": "Database", "pools": "Connection pool", "backups": "Backup"}


def _member(ctx, rec: dict, collection: str, member_id: str) -> dict:
    """``rec[collection][member_id]`` (404 ``<Kind> <id> not found``)."""
    return ctx.lookup(rec[collection], member_id, f"{MEMBER_KIND[collection]} {member_id} not found")


def _member_ids(ctx, serviceName, clusterId, collection: str) -> list[str]:
    return sorted(_record(ctx, serviceName, clusterId)[collection])


def _begin_update(ctx, svc: dict) -> None:
    lifecycle.begin(svc, "UPDATING", "READY", ctx.now, ctx.transition, action="update")


def _ts(text: str) -> float:
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# -- time ------------------------------------------------------------------------------------------

@advancer
def _advance(ctx) -> None:
    now = ctx.now
    for proj in ctx.state["projects"].values():
        dbs = proj.get("databases") or {}
        for cid in list(dbs):
            rec = dbs[cid]
            svc = rec["svc"]
            if lifecycle.due(svc, now):
                done = lifecycle.finish(svc)
                if done.get("action") == "delete":
                    del dbs[cid]
                    continue
                for node in svc["nodes"]:
                    node["status"] = svc["status"]
                for ipr in svc["ipRestrictions"]:
                    ipr["status"] = "READY"
                if done.get("action") in ("create", "fork"):
                    rec["_ready_ts"] = float(done["until"])
            for user in rec["users"].values():
                if lifecycle.due(user, now):
                    lifecycle.finish(user)
            _automatic_backups(ctx, rec, now)


def _automatic_backups(ctx, rec: dict, now: float) -> None:
    """One automatic backup when the service is first ready, then one a day (retention of the plan)."""
    ready = rec.get("_ready_ts")
    if ready is None:
        return
    svc = rec["svc"]
    retention = PLANS.get(svc["plan"], PLANS["business"])[2]
    n = int((now - ready) // DAY) + 1
    made = rec.setdefault("_backups_made", 0)
    for i in range(made, n):
        at = ready + i * DAY
        bid = ctx.ids.uuid()
        regions = (svc.get("backups") or {}).get("regions") or [svc["region"]]
        rec["backups"][bid] = {
            "createdAt": lifecycle.iso(at), "description": f"automatic backup {i + 1}", "id": bid,
            "region": regions[0], "regions": [{"name": r} for r in regions],
            "size": {"unit": "B", "value": 104857600 + 1048576 * i}, "status": "READY", "type": "automatic",
        }
    rec["_backups_made"] = max(made, n)
    for bid in [b for b, v in rec["backups"].items() if _ts(v["createdAt"]) < now - retention * DAY]:
        del rec["backups"][bid]


# -- rendering -------------------------------------------------------------------------------------

def _host(svc: dict) -> str:
    prefix = "private-" if svc.get("networkType") == "private" else ""
    return f"{prefix}postgresql-{svc['id'][:8]}-{svc['_suffix']}.database.cloud.ovh.net"


def _endpoints(svc: dict) -> list[dict]:
    host = _host(svc)
    out = [{"component": "postgresql", "domain": host, "path": "/defaultdb", "port": PORT, "scheme": "postgresql",
            "ssl": True, "sslMode": "require",
            "uri": f"postgresql://avnadmin@{host}:{PORT}/defaultdb?sslmode=require"}]
    if len(svc["nodes"]) > 1:
        rhost = "replica-" + host
        out.append({"component": "postgresqlRead", "domain": rhost, "path": "/defaultdb", "port": PORT,
                    "scheme": "postgresql", "ssl": True, "sslMode": "require",
                    "uri": f"postgresql://avnadmin@{rhost}:{PORT}/defaultdb?sslmode=require"})
    return out


def _public(svc: dict) -> dict:
    out = lifecycle.public(svc)
    out["endpoints"] = _endpoints(svc)
    out["nodeNumber"] = len(svc["nodes"])
    out["backupTime"] = (svc.get("backups") or {}).get("time") or "00:00:00"
    size = out["disk"]["size"]
    out["storage"] = {"size": {"unit": "GB", "value": size}, "type": out["disk"]["type"]}
    return out


def _service_view(ctx, rec: dict) -> dict:
    svc = rec["svc"]
    out = _public(svc)
    if out.get("backups") is not None:
        out["backups"] = dict(out["backups"])
        if svc["status"] in ("READY", "UPDATING") and rec.get("_ready_ts") is not None:
            out["backups"]["pitr"] = ctx.iso()
    return out


def _node(ctx, svc: dict, flavor: str, region: str, role: str | None) -> dict:
    nid = ctx.ids.uuid()
    return {"createdAt": ctx.iso(), "flavor": flavor, "id": nid,
            "name": f"postgresql-{svc['id'][:8]}-{nid[:8]}.database.cloud.ovh.net", "port": PORT,
            "region": region, "role": role or "STANDARD", "status": svc["status"]}


def _ca(cluster_id: str) -> str:
    body = hashlib.sha256(cluster_id.encode()).hexdigest() * 8
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def _capabilities() -> dict:
    return {c: {"create": "enabled", "delete": "enabled", "read": "enabled", "update": "enabled"}
            for c in CAPABILITIES}


# -- validation ------------------------------------------------------------------------------------

def _normalize_ip(ctx, ip: str) -> str:
    try:
        return str(ipaddress.ip_network(ip, strict=False))
    except ValueError:
        raise invalid_data(f"{ip} is not a valid IP block", ctx.request_id) from None


def _check_plan(ctx, plan: str, flavor: str, nodes: int, region: str | None, version: str) -> None:
    if plan not in PLANS:
        raise invalid_data(f"Plan {plan} does not exist (available: {', '.join(PLANS)})", ctx.request_id)
    lo, hi, _retention, _order, flavors = PLANS[plan]
    if flavor not in FLAVORS:
        raise invalid_data(f"Flavor {flavor} does not exist", ctx.request_id)
    if flavor not in flavors:
        raise invalid_data(f"Flavor {flavor} is not available with plan {plan}", ctx.request_id)
    if not lo <= nodes <= hi:
        raise invalid_data(f"Plan {plan} needs between {lo} and {hi} nodes, got {nodes}", ctx.request_id)
    if region is not None and region not in REGIONS:
        raise invalid_data(f"Region {region} is not available for databases", ctx.request_id)
    if version not in VERSIONS:
        raise invalid_data(f"Version {version} of {ENGINE} is not available", ctx.request_id)


def _check_disk(ctx, flavor: str, size: int) -> None:
    base = FLAVORS[flavor][2]
    if not base <= size <= 3 * base or size % 10:
        raise invalid_data(f"Disk size {size} is not allowed for flavor {flavor} (from {base} to {3 * base} GB, "
                           "by 10 GB)", ctx.request_id)


def _check_time(ctx, name: str, value: str) -> str:
    parts = value.split(":")
    try:
        h, m = int(parts[0]), int(parts[1])
        s = int(float(parts[2])) if len(parts) > 2 else 0
    except (ValueError, IndexError):
        raise invalid_data(f"{name} {value} is not a valid time", ctx.request_id) from None
    if not (0 <= h < 24 and 0 <= m < 60 and 0 <= s < 60):
        raise invalid_data(f"{name} {value} is not a valid time", ctx.request_id)
    return f"{h:02d}:{m:02d}:{s:02d}"


def _check_network(ctx, serviceName: str, network_id: str | None, subnet_id: str | None, region: str) -> None:
    """A private network must exist in the project (as the network routes store it), with the subnet."""
    if network_id is None and subnet_id is None:
        return
    if network_id is None or subnet_id is None:
        raise invalid_data("networkId and subnetId go together", ctx.request_id)
    proj = ctx.project(serviceName)
    networks = _project_networks(proj)
    if networks is None:
        return  # no private-network domain in this emulator: accept any UUIDs
    for net in networks:
        for reg in net.get("regions") or []:
            if reg.get("openstackId") == network_id:
                subnets = net.get("_subnets") or net.get("subnets") or {}
                ids = list(subnets) if isinstance(subnets, dict) else [s.get("id") for s in subnets]
                if subnet_id not in ids:
                    raise invalid_data(f"Subnet {subnet_id} is not a subnet of private network {network_id}",
                                       ctx.request_id)
                return
    raise invalid_data(f"Private network {network_id} does not exist in this project", ctx.request_id)


def _project_networks(proj: dict) -> list | None:
    for key in ("private_networks", "networks", "network_private"):
        value = proj.get(key)
        if isinstance(value, dict):
            return [v for v in value.values() if isinstance(v, dict)]
        if isinstance(value, list):
            return [v for v in value if isinstance(v, dict)]
    return None


# -- engine-neutral routes -------------------------------------------------------------------------

@route("GET", P + "/service")
def list_services(ctx, serviceName):
    cat = ctx.query.get("category")
    return sorted(cid for cid, rec in _dbs(ctx, serviceName).items()
                  if cat is None or rec["svc"]["category"] == cat)


@route("GET", P + "/service/{clusterId}")
def get_any_service(ctx, serviceName, clusterId):
    return _service_view(ctx, _record(ctx, serviceName, clusterId, engine=None))


@route("GET", P + "/capabilities")
def capabilities(ctx, serviceName):
    ctx.project(serviceName)
    lifecycle_stable = {"endOfLife": None, "endOfSale": None, "startDate": "2021-06-01", "status": "STABLE"}
    return {
        "disks": ["network-ssd"],
        "engines": [{"category": "operational", "defaultVersion": DEFAULT_VERSION,
                     "description": "object-relational database management system", "name": ENGINE,
                     "sslModes": ["require"], "storage": "replicated", "versions": list(VERSIONS)}],
        "flavors": [{"core": c, "lifecycle": dict(lifecycle_stable), "memory": m, "name": n, "order": o,
                     "specifications": {"core": c, "memory": {"unit": "GB", "value": m},
                                        "storage": {"unit": "GB", "value": s}},
                     "storage": s, "tags": []} for n, (c, m, s, o) in FLAVORS.items()],
        "options": [],
        "plans": [{"backupRetention": f"P{r}D", "description": f"{n} plan", "lifecycle": dict(lifecycle_stable),
                   "name": n, "order": o, "tags": []} for n, (_lo, _hi, r, o, _flavors) in PLANS.items()],
        "regions": list(REGIONS),
    }


@route("GET", P + "/availability")
def availability(ctx, serviceName):
    ctx.project(serviceName)
    out = []
    life = {"endOfLife": None, "endOfSale": None, "startDate": "2021-06-01", "status": "STABLE"}
    for plan, (lo, hi, retention, _order, flavors) in PLANS.items():
        for flavor in flavors:
            base = FLAVORS[flavor][2]
            storage = {"maximum": {"unit": "GB", "value": 3 * base}, "minimum": {"unit": "GB", "value": base},
                       "step": {"unit": "GB", "value": 10}}
            for region in REGIONS:
                for version in VERSIONS:
                    for network in ("public", "private"):
                        out.append({
                            "backup": "automatic", "backupRetentionDays": retention,
                            "backups": {"available": True, "retentionDays": retention},
                            "category": "operational", "default": plan == "essential" and flavor == "db1-4"
                            and version == DEFAULT_VERSION and network == "public",
                            "endOfLife": None, "engine": ENGINE, "flavor": flavor, "lifecycle": dict(life),
                            "maxDiskSize": 3 * base, "maxNodeNumber": hi, "minDiskSize": base, "minNodeNumber": lo,
                            "network": network, "plan": plan, "region": region,
                            "specifications": {"flavor": flavor, "network": network,
                                               "nodes": {"maximum": hi, "minimum": lo}, "storage": storage},
                            "startDate": "2021-06-01", "status": "STABLE", "stepDiskSize": 10,
                            "upstreamEndOfLife": None, "version": version,
                        })
    return out


# -- services --------------------------------------------------------------------------------------

@route("GET", PG)
def list_pg(ctx, serviceName):
    return sorted(cid for cid, rec in _dbs(ctx, serviceName).items() if rec["svc"]["engine"] == ENGINE)


@route("POST", PG, create=True)
def create_pg(ctx, serviceName):
    body = ctx.body or {}
    for name in ("plan", "version"):
        if not body.get(name):
            raise BadRequest(f"Missing body parameter {name}")
    if body.get("nodesList") and body.get("nodesPattern"):
        raise invalid_data("nodesList and nodesPattern are not compatible", ctx.request_id)
    if body.get("nodesList"):
        nodes = [(n.get("flavor"), n.get("region"), n.get("role")) for n in body["nodesList"]]
    elif body.get("nodesPattern"):
        pat = body["nodesPattern"]
        if not pat.get("flavor") or not pat.get("region") or not pat.get("number"):
            raise BadRequest("Missing body parameter nodesPattern.flavor, nodesPattern.number or nodesPattern.region")
        nodes = [(pat["flavor"], pat["region"], None)] * int(pat["number"])
    else:
        raise BadRequest("Missing body parameter nodesPattern")
    flavors = {n[0] for n in nodes}
    regions = {n[1] for n in nodes}
    if len(flavors) != 1 or len(regions) != 1 or None in flavors or None in regions:
        raise invalid_data("All nodes must have the same flavor and region", ctx.request_id)
    flavor, region = flavors.pop(), regions.pop()
    _check_plan(ctx, body["plan"], flavor, len(nodes), region, body["version"])
    disk = (body.get("disk") or {}).get("size") or FLAVORS[flavor][2]
    _check_disk(ctx, flavor, disk)
    _check_network(ctx, serviceName, body.get("networkId"), body.get("subnetId"), region)

    fork = body.get("forkFrom") or body.get("backup")
    source = None
    if fork:
        source = _fork_source(ctx, serviceName, fork, region)

    backups = body.get("backups") or {}
    btime = _check_time(ctx, "backups.time", backups.get("time") or body.get("backupTime") or "22:00:00")
    bregions = backups.get("regions") or [region]
    for r in bregions:
        if r not in REGIONS:
            raise invalid_data(f"Backup region {r} is not available", ctx.request_id)
    mtime = _check_time(ctx, "maintenanceTime", body.get("maintenanceTime") or "04:00:00")
    cid = ctx.ids.uuid()
    svc = {
        "id": cid, "_suffix": "o" + ctx.ids.hex(9), "description": body.get("description") or "", "engine": ENGINE,
        "category": "operational", "plan": body["plan"], "flavor": flavor, "version": body["version"],
        "region": region, "createdAt": ctx.iso(), "status": "CREATING",
        "networkType": "private" if body.get("networkId") else "public",
        "networkId": body.get("networkId"), "subnetId": body.get("subnetId"),
        "disk": {"size": disk, "type": "network-ssd"},
        "backups": {"pitr": None, "regions": bregions, "retentionDays": PLANS[body["plan"]][2], "time": btime},
        "maintenanceTime": mtime, "capabilities": _capabilities(), "nodes": [],
        "ipRestrictions": [{"description": r.get("description") or "", "ip": _normalize_ip(ctx, r["ip"]),
                            "status": "CREATING"} for r in body.get("ipRestrictions") or [] if r.get("ip")],
    }
    svc["nodes"] = [_node(ctx, svc, f, r, role) for f, r, role in nodes]
    rec = {"svc": svc, "users": {}, "databases": {}, "pools": {}, "backups": {}, "advanced": {}, "ca": _ca(cid)}
    seconds = ctx.transition * (2 if source else 1)
    lifecycle.begin(svc, "CREATING", "READY", ctx.now, seconds, action="fork" if source else "create")
    _defaults(ctx, rec)
    if source is not None:
        _copy_from(ctx, rec, source)
    _dbs(ctx, serviceName)[cid] = rec
    ctx.touch(cid)
    return _service_view(ctx, rec)


def _defaults(ctx, rec: dict) -> None:
    uid = ctx.ids.uuid()
    rec["users"][uid] = {"createdAt": ctx.iso(), "id": uid, "roles": list(ROLES), "status": "READY",
                         "username": "avnadmin"}
    did = ctx.ids.uuid()
    rec["databases"][did] = {"default": True, "id": did, "name": "defaultdb", "_ready_ts": ctx.now}


def _fork_source(ctx, serviceName, fork: dict, region: str) -> dict:
    src = _dbs(ctx, serviceName).get(fork.get("serviceId"))
    if src is None or src["svc"]["engine"] != ENGINE:
        raise invalid_data(f"Service {fork.get('serviceId')} to fork from does not exist", ctx.request_id)
    backup_id = fork.get("backupId") or fork.get("id")
    pit = fork.get("pointInTime")
    if bool(backup_id) == bool(pit):
        raise invalid_data("Set either a backup ID or a point in time to fork from", ctx.request_id)
    if backup_id:
        backup = src["backups"].get(backup_id)
        if backup is None or backup["status"] != "READY":
            raise invalid_data(f"Backup {backup_id} of service {fork['serviceId']} does not exist or is not ready",
                               ctx.request_id)
    else:
        when = _ts(pit)
        start = src.get("_ready_ts")
        retention = PLANS.get(src["svc"]["plan"], PLANS["business"])[2]
        if start is None or when < int(max(start, ctx.now - retention * DAY)) or when > ctx.now + 1:
            raise invalid_data(f"Point in time {pit} is outside the recovery window of service "
                               f"{fork['serviceId']}", ctx.request_id)
    ctx.touch(fork["serviceId"])
    return src


def _copy_from(ctx, rec: dict, src: dict) -> None:
    rec["users"] = {}
    for user in src["users"].values():
        uid = ctx.ids.uuid()
        rec["users"][uid] = dict(lifecycle.public(user), id=uid, createdAt=ctx.iso(), status="READY")
    rec["databases"] = {}
    for db in src["databases"].values():
        did = ctx.ids.uuid()
        rec["databases"][did] = dict(db, id=did, _ready_ts=ctx.now)
    rec["advanced"] = dict(src["advanced"])


@route("GET", PGC)
def get_pg(ctx, serviceName, clusterId):
    return _service_view(ctx, _record(ctx, serviceName, clusterId))


@route("PUT", PGC)
def update_pg(ctx, serviceName, clusterId):
    rec = _record(ctx, serviceName, clusterId, ready_for="update")
    svc = rec["svc"]
    body = ctx.body or {}
    for ro in ("engine", "region", "networkId", "subnetId"):
        if ro in body and body[ro] != _public(svc).get(ro):
            raise invalid_data(f"{ro} cannot be updated", ctx.request_id)
    plan = body.get("plan", svc["plan"])
    flavor = body.get("flavor", svc["flavor"])
    version = body.get("version", svc["version"])
    nodes = int(body.get("nodeNumber", len(svc["nodes"])))
    _check_plan(ctx, plan, flavor, nodes, None, version)
    if VERSIONS.index(version) < VERSIONS.index(svc["version"]):
        raise invalid_data(f"Version {version} is older than {svc['version']}: downgrades are not possible",
                           ctx.request_id)
    disk = (body.get("disk") or {}).get("size", svc["disk"]["size"])
    if "storage" in body and (body["storage"] or {}).get("size"):
        disk = body["storage"]["size"].get("value", disk)
    _check_disk(ctx, flavor, disk)
    if disk < svc["disk"]["size"]:
        raise invalid_data("The disk size cannot decrease", ctx.request_id)
    changed = False
    if "description" in body and body["description"] != svc["description"]:
        svc["description"] = body["description"]
    if "maintenanceTime" in body:
        svc["maintenanceTime"] = _check_time(ctx, "maintenanceTime", body["maintenanceTime"])
    if body.get("backups") or body.get("backupTime"):
        b = body.get("backups") or {}
        new_time = b.get("time") or body.get("backupTime")
        if new_time:
            svc["backups"]["time"] = _check_time(ctx, "backups.time", new_time)
        if b.get("regions"):
            for r in b["regions"]:
                if r not in REGIONS:
                    raise invalid_data(f"Backup region {r} is not available", ctx.request_id)
            svc["backups"]["regions"] = list(b["regions"])
    if "ipRestrictions" in body:
        old = {r["ip"]: r for r in svc["ipRestrictions"]}
        new = []
        for r in body["ipRestrictions"] or []:
            ip = _normalize_ip(ctx, r["ip"])
            desc = r.get("description") or ""
            keep = old.get(ip)
            if keep is None or keep["description"] != desc:
                changed = True
            new.append({"description": desc, "ip": ip, "status": keep["status"] if keep else "CREATING"})
        if {r["ip"] for r in new} != set(old):
            changed = True
        svc["ipRestrictions"] = new
    if (plan, flavor, version, disk) != (svc["plan"], svc["flavor"], svc["version"], svc["disk"]["size"]):
        changed = True
    if nodes != len(svc["nodes"]):
        changed = True
        if nodes > len(svc["nodes"]):
            svc["nodes"] += [_node(ctx, svc, flavor, svc["region"], None) for _i in range(nodes - len(svc["nodes"]))]
        else:
            svc["nodes"] = svc["nodes"][:nodes]
    svc.update(plan=plan, flavor=flavor, version=version)
    svc["disk"]["size"] = disk
    svc["backups"]["retentionDays"] = PLANS[plan][2]
    for node in svc["nodes"]:
        node["flavor"] = flavor
    if changed:
        _begin_update(ctx, svc)
        for node in svc["nodes"]:
            node["status"] = "UPDATING"
    return _service_view(ctx, rec)


@route("DELETE", PGC)
def delete_pg(ctx, serviceName, clusterId):
    rec = _record(ctx, serviceName, clusterId)
    if rec["svc"]["status"] not in ("READY", "ERROR"):
        raise integrity_error("delete", "Service", rec["svc"]["status"])
    lifecycle.begin(rec["svc"], "DELETING", "DELETED", ctx.now, ctx.transition, action="delete")
    return None


# -- users -----------------------------------------------------------------------------------------

def _user_view(user: dict) -> dict:
    return {k: user[k] for k in ("createdAt", "id", "roles", "status", "username")}


def _check_roles(ctx, roles) -> list:
    roles = list(roles or [])
    for r in roles:
        if r not in ROLES:
            raise invalid_data(f"Role {r} does not exist (available: {', '.join(ROLES)})", ctx.request_id)
    return roles


@route("GET", PGC + "/user")
def list_users(ctx, serviceName, clusterId):
    return _member_ids(ctx, serviceName, clusterId, "users")


@route("POST", PGC + "/user", create=True)
def create_user(ctx, serviceName, clusterId):
    rec = _record(ctx, serviceName, clusterId)
    body = ctx.body or {}
    name = body.get("name")
    if not name:
        raise BadRequest("Missing body parameter name")
    require_ready(rec["svc"], "create User on", "Service")
    if any(u["username"] == name for u in rec["users"].values()):
        raise Conflict(f"User '{name}' already exists", cls="Client::Conflict::PostgresUserAlreadyExist")
    roles = _check_roles(ctx, body.get("roles"))
    uid = ctx.ids.uuid()
    user = {"createdAt": ctx.iso(), "id": uid, "roles": roles, "status": "CREATING", "username": name}
    lifecycle.begin(user, "CREATING", "READY", ctx.now, ctx.transition, action="create")
    rec["users"][uid] = user
    ctx.touch(uid)
    return dict(_user_view(user), password=ctx.ids.token(24))


@route("GET", PGC + "/user/{userId}")
def get_user(ctx, serviceName, clusterId, userId):
    return _user_view(_member(ctx, _record(ctx, serviceName, clusterId), "users", userId))


@route("PUT", PGC + "/user/{userId}")
def update_user(ctx, serviceName, clusterId, userId):
    rec = _record(ctx, serviceName, clusterId)
    user = _member(ctx, rec, "users", userId)
    require_ready(user, "update", "User")
    body = ctx.body or {}
    if "roles" in body:
        user["roles"] = _check_roles(ctx, body["roles"])
    return _user_view(user)


@route("DELETE", PGC + "/user/{userId}")
def delete_user(ctx, serviceName, clusterId, userId):
    rec = _record(ctx, serviceName, clusterId)
    user = _member(ctx, rec, "users", userId)
    if user["username"] == "avnadmin":
        raise Forbidden("The avnadmin user cannot be deleted")
    del rec["users"][userId]
    for pool in rec["pools"].values():
        if pool.get("userId") == userId:
            pool["userId"] = None
    return None


@route("POST", PGC + "/user/{userId}/credentials/reset")
def reset_user(ctx, serviceName, clusterId, userId):
    rec = _record(ctx, serviceName, clusterId)
    user = _member(ctx, rec, "users", userId)
    require_ready(user, "reset the password of", "User")
    return dict(_user_view(user), password=ctx.ids.token(24))


@route("GET", PGC + "/roles")
def list_roles(ctx, serviceName, clusterId):
    _record(ctx, serviceName, clusterId)
    return list(ROLES)


# -- databases -------------------------------------------------------------------------------------

def _db_view(db: dict) -> dict:
    return {"default": db["default"], "id": db["id"], "name": db["name"]}


@route("GET", PGC + "/database")
def list_databases(ctx, serviceName, clusterId):
    return _member_ids(ctx, serviceName, clusterId, "databases")


@route("POST", PGC + "/database", create=True)
def create_database(ctx, serviceName, clusterId):
    rec = _record(ctx, serviceName, clusterId)
    name = (ctx.body or {}).get("name")
    if not name:
        raise BadRequest("Missing body parameter name")
    require_ready(rec["svc"], "create Database on", "Service")
    if any(d["name"] == name for d in rec["databases"].values()):
        raise Conflict(f"Database '{name}' already exists", cls="Client::Conflict::DatabaseAlreadyExist")
    did = ctx.ids.uuid()
    rec["databases"][did] = {"default": False, "id": did, "name": name, "_ready_ts": ctx.now + ctx.transition}
    ctx.touch(did)
    return _db_view(rec["databases"][did])


@route("GET", PGC + "/database/{databaseId}")
def get_database(ctx, serviceName, clusterId, databaseId):
    return _db_view(_member(ctx, _record(ctx, serviceName, clusterId), "databases", databaseId))


@route("DELETE", PGC + "/database/{databaseId}")
def delete_database(ctx, serviceName, clusterId, databaseId):
    rec = _record(ctx, serviceName, clusterId)
    db = _member(ctx, rec, "databases", databaseId)
    if db["default"]:
        raise BadRequest("The default database cannot be deleted")
    if any(p["databaseId"] == databaseId for p in rec["pools"].values()):
        raise Conflict(f"Database '{db['name']}' is used by a connection pool")
    del rec["databases"][databaseId]
    return None


# -- connection pools ------------------------------------------------------------------------------

def _pool_view(rec: dict, pool: dict) -> dict:
    host = _host(rec["svc"])
    return dict(pool, uri=f"postgres://{host}:{pool['port']}/{pool['name']}?sslmode=require")


def _check_pool_refs(ctx, rec: dict, database_id: str, user_id: str | None) -> None:
    svc = rec["svc"]
    db = rec["databases"].get(database_id)
    if db is None:
        raise invalid_data(f"Database {database_id} does not exist", ctx.request_id)
    if svc["status"] == "CREATING" or float(db.get("_ready_ts", 0)) > ctx.now:
        # FACTS.md: while the service provisions, the API does not know the database yet.
        raise Forbidden(f"Service database '{db['name']}' does not exist")
    if user_id is not None and user_id not in rec["users"]:
        raise invalid_data(f"User {user_id} does not exist", ctx.request_id)


@route("GET", PGC + "/connectionPool")
def list_pools(ctx, serviceName, clusterId):
    return _member_ids(ctx, serviceName, clusterId, "pools")


@route("POST", PGC + "/connectionPool", create=True)
def create_pool(ctx, serviceName, clusterId):
    rec = _record(ctx, serviceName, clusterId)
    body = ctx.body or {}
    _check_pool_refs(ctx, rec, body["databaseId"], body.get("userId"))
    require_ready(rec["svc"], "create ConnectionPool on", "Service")
    if any(p["name"] == body["name"] for p in rec["pools"].values()):
        raise Conflict(f"Connection pool '{body['name']}' already exists")
    if not 1 <= int(body["size"]) <= 10000:
        raise invalid_data("size must be between 1 and 10000", ctx.request_id)
    pid = ctx.ids.uuid()
    pool = {"databaseId": body["databaseId"], "id": pid, "mode": body["mode"], "name": body["name"],
            "port": PORT + 1 + len(rec["pools"]), "size": int(body["size"]), "sslMode": "require",
            "userId": body.get("userId")}
    rec["pools"][pid] = pool
    ctx.touch(pid)
    return _pool_view(rec, pool)


@route("GET", PGC + "/connectionPool/{connectionPoolId}")
def get_pool(ctx, serviceName, clusterId, connectionPoolId):
    rec = _record(ctx, serviceName, clusterId)
    return _pool_view(rec, _member(ctx, rec, "pools", connectionPoolId))


@route("PUT", PGC + "/connectionPool/{connectionPoolId}")
def update_pool(ctx, serviceName, clusterId, connectionPoolId):
    rec = _record(ctx, serviceName, clusterId)
    pool = _member(ctx, rec, "pools", connectionPoolId)
    body = ctx.body or {}
    if "name" in body and body["name"] != pool["name"]:
        raise invalid_data("The name of a connection pool cannot be updated", ctx.request_id)
    database_id = body.get("databaseId", pool["databaseId"])
    user_id = body["userId"] if "userId" in body else pool["userId"]
    _check_pool_refs(ctx, rec, database_id, user_id)
    size = int(body.get("size", pool["size"]))
    if not 1 <= size <= 10000:
        raise invalid_data("size must be between 1 and 10000", ctx.request_id)
    pool.update(databaseId=database_id, userId=user_id, size=size, mode=body.get("mode", pool["mode"]))
    return _pool_view(rec, pool)


@route("DELETE", PGC + "/connectionPool/{connectionPoolId}")
def delete_pool(ctx, serviceName, clusterId, connectionPoolId):
    rec = _record(ctx, serviceName, clusterId)
    _member(ctx, rec, "pools", connectionPoolId)
    del rec["pools"][connectionPoolId]
    return None


# -- IP restrictions (deprecated routes; the service's ipRestrictions is the same list) --------------

@route("GET", PGC + "/ipRestriction")
def list_ip_restrictions(ctx, serviceName, clusterId):
    return [r["ip"] for r in _record(ctx, serviceName, clusterId)["svc"]["ipRestrictions"]]


@route("POST", PGC + "/ipRestriction", create=True)
def add_ip_restriction(ctx, serviceName, clusterId):
    rec = _record(ctx, serviceName, clusterId, ready_for="update")
    body = ctx.body or {}
    if not body.get("ip"):
        raise BadRequest("Missing body parameter ip")
    ip = _normalize_ip(ctx, body["ip"])
    if any(r["ip"] == ip for r in rec["svc"]["ipRestrictions"]):
        raise Conflict(f"IP block {ip} is already authorized")
    entry = {"description": body.get("description") or "", "ip": ip, "status": "CREATING"}
    rec["svc"]["ipRestrictions"].append(entry)
    _begin_update(ctx, rec["svc"])
    return dict(entry)


def _ip_entry(ctx, rec, ipBlock) -> dict:
    ip = _normalize_ip(ctx, ipBlock)
    for r in rec["svc"]["ipRestrictions"]:
        if r["ip"] == ip:
            return r
    raise NotFound(f"IP block {ipBlock} not found")


@route("GET", PGC + "/ipRestriction/{ipBlock}")
def get_ip_restriction(ctx, serviceName, clusterId, ipBlock):
    return dict(_ip_entry(ctx, _record(ctx, serviceName, clusterId), ipBlock))


@route("PUT", PGC + "/ipRestriction/{ipBlock}")
def update_ip_restriction(ctx, serviceName, clusterId, ipBlock):
    rec = _record(ctx, serviceName, clusterId, ready_for="update")
    entry = _ip_entry(ctx, rec, ipBlock)
    if "description" in (ctx.body or {}):
        entry["description"] = ctx.body["description"] or ""
    return dict(entry)


@route("DELETE", PGC + "/ipRestriction/{ipBlock}")
def delete_ip_restriction(ctx, serviceName, clusterId, ipBlock):
    rec = _record(ctx, serviceName, clusterId, ready_for="update")
    entry = _ip_entry(ctx, rec, ipBlock)
    rec["svc"]["ipRestrictions"].remove(entry)
    _begin_update(ctx, rec["svc"])
    return None


# -- backups, certificates, nodes, advanced configuration ------------------------------------------

@route("GET", PGC + "/backup")
def list_backups(ctx, serviceName, clusterId):
    return _member_ids(ctx, serviceName, clusterId, "backups")


@route("GET", PGC + "/backup/{backupId}")
def get_backup(ctx, serviceName, clusterId, backupId):
    return dict(_member(ctx, _record(ctx, serviceName, clusterId), "backups", backupId))


@route("GET", PGC + "/certificates")
def get_certificates(ctx, serviceName, clusterId):
    return {"ca": _record(ctx, serviceName, clusterId)["ca"]}


@route("GET", PGC + "/node")
def list_nodes(ctx, serviceName, clusterId):
    return [n["id"] for n in _record(ctx, serviceName, clusterId)["svc"]["nodes"]]


@route("GET", PGC + "/node/{nodeId}")
def get_node(ctx, serviceName, clusterId, nodeId):
    for n in _record(ctx, serviceName, clusterId)["svc"]["nodes"]:
        if n["id"] == nodeId:
            return dict(n)
    raise NotFound(f"Node {nodeId} not found")


@route("GET", PGC + "/capabilities/advancedConfiguration")
def advanced_capabilities(ctx, serviceName, clusterId):
    _record(ctx, serviceName, clusterId)
    return [{"description": d, "maximum": hi, "minimum": lo, "name": n, "type": t, "values": v}
            for n, t, d, lo, hi, v in ADVANCED]


@route("GET", PGC + "/advancedConfiguration")
def get_advanced(ctx, serviceName, clusterId):
    return dict(_record(ctx, serviceName, clusterId)["advanced"])


@route("PUT", PGC + "/advancedConfiguration")
def put_advanced(ctx, serviceName, clusterId):
    rec = _record(ctx, serviceName, clusterId, ready_for="update")
    body = ctx.body or {}
    for key, value in body.items():
        spec = ADVANCED_BY_NAME.get(key)
        if spec is None:
            raise invalid_data(f"Unknown advanced configuration property {key}", ctx.request_id)
        _name, typ, _desc, lo, hi, values = spec
        try:
            if typ == "long":
                num = int(value)
            elif typ == "double":
                num = float(value)
            elif typ == "boolean" and value not in ("true", "false"):
                raise ValueError
            else:
                num = None
        except ValueError:
            raise invalid_data(f"Advanced configuration {key}: {value!r} is not a {typ}", ctx.request_id) from None
        if num is not None and ((lo is not None and num < lo) or (hi is not None and num > hi)):
            raise invalid_data(f"Advanced configuration {key}: {value} is out of range", ctx.request_id)
        if values and value not in values:
            raise invalid_data(f"Advanced configuration {key}: {value!r} is not one of {values}", ctx.request_id)
    if any(rec["advanced"].get(k) != v for k, v in body.items()):
        rec["advanced"].update(body)
        _begin_update(ctx, rec["svc"])
    return dict(rec["advanced"])
