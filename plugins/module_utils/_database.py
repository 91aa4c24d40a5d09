# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Shared pieces of the managed database modules (ovh_database*).

PRIVATE to this collection: not a public API, may change in any release.

- finding database services engine-neutrally (``/database/service``), by ID
  or by description, so that an engine mismatch is seen before any write
  (:func:`resolve_service`);
- the input of ovh_database that is more than a type: its nodes
  (:func:`parse_nodes`) and IP restrictions (:func:`ip_restrictions_body`);
- :func:`check_service_spec` and :func:`check_advanced_configuration`: what
  the API offers (its capabilities and availabilities) and the rules it
  enforces, checked before anything is written;
- :class:`OvhDatabaseChildModule`, the base of the modules that manage
  something inside one service (users, databases, connection pools...):
  the ``service``/``engine`` options, the service's path, and waiting for the
  service before writing to it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhApiError
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import OvhModule, normalize_block
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import DATABASE

# Engines whose services live under /cloud/project/{serviceName}/database/<engine> (cloud.json).
ENGINES = ("postgresql", "mysql", "mongodb", "redis", "kafka", "kafkaConnect", "kafkaMirrorMaker",
           "opensearch", "cassandra", "m3db", "m3aggregator", "grafana")
# Engines whose users, databases and pools the child modules manage.
CHILD_ENGINES = ("postgresql",)
# The longest identifier PostgreSQL keeps (NAMEDATALEN - 1 bytes); a longer name is cut, not refused.
IDENTIFIER_MAX = 63

# A service that is going away does not count as "the service with this description".
GOING_AWAY = ("DELETING",)
# The keys of an entry of ovh_database's nodes, and its roles.
NODE_KEYS = ("flavor", "region", "role")
NODE_ROLES = ("STANDARD", "ANALYTICS")


def get_service(client, project_path, service_id):
    """The service with this ID, whatever its engine (None on 404)."""
    return client.get_or_none("%s/database/service/%s" % (project_path, service_id))


def find_services(client, project_path, description=None, engine=None, include_going_away=False):
    """Every service of the project with this description (and engine, when given)."""
    found = []
    for sid in client.get("%s/database/service" % project_path) or []:
        svc = get_service(client, project_path, sid)
        if svc is None:
            continue
        if description is not None and svc.get("description") != description:
            continue
        if engine is not None and svc.get("engine") != engine:
            continue
        if not include_going_away and svc.get("status") in GOING_AWAY:
            continue
        found.append(svc)
    return found


def resolve_service(module, ref, option, engine, mismatch, any_engine=True, gone=GOING_AWAY):
    """The service of O(option), by ID or description; fails when there is none, several, or one of another
    engine than ``engine`` (``mismatch``: the message, with the reference, its engine and ``engine``). With
    ``any_engine``, a service of another engine with the description is found too (to say why it does not fit)."""
    client, project = module.client, module.project_path

    def named():
        found = find_services(client, project, description=ref, engine=None if any_engine else engine)
        return [s for s in found if s.get("engine") == engine] or found

    svc = module.resolve(ref, "database service", option, named, key="description",
                         get=lambda sid: get_service(client, project, sid), gone=gone)
    if svc.get("engine") != engine:
        module.fail(mismatch % (ref, svc.get("engine"), engine))
    return svc


def parse_nodes(module):
    """O(nodes) of ovh_database: ``(count, list)``, the list None for a bare number (both None when unset)."""
    p = module.params
    nodes = p["nodes"]
    if nodes is None:
        return None, None
    if isinstance(nodes, bool):
        module.fail("nodes must be a number or a list of nodes, not a boolean.")
    if isinstance(nodes, (int, str)) and str(nodes).strip().isdigit():
        if int(str(nodes).strip()) < 1:
            module.fail("nodes must be at least 1.")
        return int(str(nodes).strip()), None
    if not (isinstance(nodes, list) and nodes):
        module.fail("nodes must be a positive number or a non-empty list of nodes, got %r." % (nodes,))
    out = []
    for i, node in enumerate(nodes):
        if not isinstance(node, dict):
            module.fail("nodes[%d] must be a dict with the keys %s." % (i, ", ".join(NODE_KEYS)))
        unknown = sorted(set(node) - set(NODE_KEYS))
        if unknown:
            module.fail("nodes[%d] has unknown keys %s (allowed: %s)." % (i, ", ".join(unknown), ", ".join(NODE_KEYS)))
        if node.get("role") is not None and node["role"] not in NODE_ROLES:
            module.fail("nodes[%d].role must be one of %s." % (i, ", ".join(NODE_ROLES)))
        out.append(dict((k, node.get(k)) for k in NODE_KEYS))
    for key, default in (("flavor", p["flavor"]), ("region", p["region"])):
        values = sorted(set(n.get(key) or default for n in out) - set([None]))
        if len(values) > 1:
            module.fail("All nodes of a service are in one region and have one flavor; nodes names the %ss %s."
                        % (key, ", ".join(values)))
    return len(out), out


def restriction_key(entry):
    return (normalize_block(entry["ip"]) or entry["ip"], entry["description"])


def ip_restrictions_body(wanted, purge, current):
    """The ``ipRestrictions`` to send for O(ip_restrictions) (``wanted``, normalized) and O(purge_ip_restrictions):
    a missing description keeps the block's; None when unset, or when ``current`` (the service) has them already."""
    if wanted is None:
        return None
    have = [dict(ip=r.get("ip"), description=r.get("description") or "")
            for r in (current or {}).get("ipRestrictions") or []]
    have_by_ip = dict((normalize_block(r["ip"]) or r["ip"], r) for r in have)
    want = []
    seen = set()
    for entry in wanted:
        if entry["ip"] not in seen:
            seen.add(entry["ip"])
            desc = entry.get("description")
            want.append(dict(ip=entry["ip"], description=have_by_ip.get(entry["ip"], {}).get("description", "")
                             if desc is None else desc))
    if not purge:
        want.extend(dict(ip=ip, description=r["description"]) for ip, r in have_by_ip.items() if ip not in seen)
    if current is not None and sorted(map(restriction_key, want)) == sorted(map(restriction_key, have)):
        return None
    return want


def check_identifier(module, option):
    """An engine identifier (a user or database name): not empty, at most IDENTIFIER_MAX bytes."""
    value = module.params.get(option)
    if value is None:
        return
    if not value.strip():
        module.fail("%s must not be empty." % option)
    if len(value.encode("utf-8")) > IDENTIFIER_MAX:
        module.fail("%s must be at most %d characters (%d bytes in UTF-8): PostgreSQL would cut %r."
                    % (option, IDENTIFIER_MAX, IDENTIFIER_MAX, value))


def _version_key(text):
    return tuple(int(x) if x.isdigit() else 0 for x in str(text).split("."))


def _range(spec):
    """(minimum, maximum) of an availability's ``nodes`` or ``storage`` specification."""
    def value(x):
        return x.get("value") if isinstance(x, dict) else x
    return value((spec or {}).get("minimum")), value((spec or {}).get("maximum"))


def check_service_spec(module, engine, spec, current=None):
    """Fail, before anything is written, when the API does not offer the service ``spec`` describes: its engine
    version, plan, flavor, region and backup regions (``/database/capabilities``); the node count and disk size
    of the plan and flavor (``/database/availability``); for an existing service (``current``), no downgrade and
    no smaller disk. ``spec`` holds what the task sets (None: unchanged): plan, flavor, version, nodes, disk,
    region, backup_regions."""
    name = module.label(current)
    cur = current or {}
    if current is not None:
        if spec["version"] is not None and _version_key(spec["version"]) < _version_key(cur.get("version")):
            module.fail("version %s is older than the version of database service %s (%s): a downgrade is not "
                        "possible." % (spec["version"], name, cur.get("version")))
        disk = (cur.get("disk") or {}).get("size")
        if spec["disk"] is not None and disk and spec["disk"] < disk:
            module.fail("disk_size %d is smaller than the disk of database service %s (%d GB): disks only grow."
                        % (spec["disk"], name, disk))
    caps = module.client.get("%s/database/capabilities" % module.project_path) or {}
    engines = dict((e.get("name"), e) for e in caps.get("engines") or [])
    if engine not in engines:
        module.fail("The project offers no %s service (engines: %s)." % (engine, ", ".join(sorted(engines))))
    regions = caps.get("regions") or []
    _offered(module, spec["version"], engines[engine].get("versions") or [],
             "Version %s of %s is not offered" % (spec["version"], engine), "versions")
    _offered(module, spec["plan"], [x.get("name") for x in caps.get("plans") or []],
             "Plan %s is not offered" % spec["plan"], "plans")
    _offered(module, spec["flavor"], [x.get("name") for x in caps.get("flavors") or []],
             "Flavor %s is not offered" % spec["flavor"], "flavors")
    _offered(module, spec["region"], regions, "Region %s does not offer %s" % (spec["region"], engine), "regions")
    for region in spec["backup_regions"] or []:
        _offered(module, region, regions, "backup_regions: %s does not offer %s" % (region, engine), "regions")
    if not any(spec[k] is not None for k in ("plan", "flavor", "version", "nodes", "disk", "region")):
        return
    plan = spec["plan"] or cur.get("plan")
    flavor = spec["flavor"] or cur.get("flavor")
    region = spec["region"] or cur.get("region")
    network = "private" if (spec.get("network") or cur.get("networkType") == "private") else "public"
    version = spec["version"]
    entries = [a for a in module.client.get("%s/database/availability" % module.project_path) or []
               if a.get("engine") == engine and a.get("plan") == plan and a.get("region") == region
               and (a.get("specifications") or {}).get("network", a.get("network")) == network
               and (version is None or a.get("version") == version)]
    match = [a for a in entries if (a.get("specifications") or {}).get("flavor", a.get("flavor")) == flavor]
    if not match:
        flavors = sorted(set((a.get("specifications") or {}).get("flavor", a.get("flavor")) for a in entries))
        module.fail("Flavor %s is not offered with plan %s in %s (flavors of the plan: %s)."
                    % (flavor, plan, region, ", ".join(flavors) or "none"))
    avail = match[0]
    specs = avail.get("specifications") or {}
    nodes = spec["nodes"] if spec["nodes"] is not None else cur.get("nodeNumber")
    lo, hi = _range(specs.get("nodes"))
    lo = avail.get("minNodeNumber") if lo is None else lo
    hi = avail.get("maxNodeNumber") if hi is None else hi
    if nodes is not None and lo is not None and hi is not None and not lo <= nodes <= hi:
        module.fail("Plan %s takes %d to %d nodes, not %d." % (plan, lo, hi, nodes))
    disk = spec["disk"]
    if disk is not None:
        storage = specs.get("storage") or {}
        lo, hi = _range(storage)
        lo = avail.get("minDiskSize") if lo is None else lo
        hi = avail.get("maxDiskSize") if hi is None else hi
        step = (storage.get("step") or {}).get("value") or avail.get("stepDiskSize") or 1
        if lo is not None and hi is not None and (not lo <= disk <= hi or (disk - lo) % step):
            module.fail("disk_size %d is not allowed for flavor %s in %s (%d to %d GB, by %d GB)."
                        % (disk, flavor, region, lo, hi, step))


def _offered(module, value, offered, text, plural):
    if value is not None and value not in offered:
        module.fail("%s (%s: %s)." % (text, plural, ", ".join(sorted(offered)) or "none"))


def check_advanced_configuration(module, service_path, settings, name):
    """Fail, before anything is written, on a setting the service does not have, or a value out of its type,
    range or choices (``.../capabilities/advancedConfiguration``)."""
    caps = dict((c.get("name"), c) for c in module.client.get(service_path + "/capabilities/advancedConfiguration")
                or [])
    for key, value in sorted(settings.items()):
        cap = caps.get(key)
        if cap is None:
            module.fail("advanced_configuration: %s is not a setting of database service %s (settings: %s)."
                        % (key, name, ", ".join(sorted(caps))))
        typ, lo, hi, values = cap.get("type"), cap.get("minimum"), cap.get("maximum"), cap.get("values")
        if typ in ("long", "double"):
            try:
                number = int(value) if typ == "long" else float(value)
            except ValueError:
                module.fail("advanced_configuration: %s must be a number (%s), not %r." % (key, typ, value))
            if (lo is not None and number < lo) or (hi is not None and number > hi):
                module.fail("advanced_configuration: %s must be between %g and %g, not %s." % (key, lo, hi, value))
        elif typ == "boolean" and value not in ("true", "false"):
            module.fail("advanced_configuration: %s must be true or false, not %r." % (key, value))
        if values and value not in values:
            module.fail("advanced_configuration: %s must be one of %s, not %r." % (key, ", ".join(values), value))


class OvhDatabaseChildModule(OvhModule):
    """Base of the modules that manage an object inside one database service."""

    #: options of every child module (doc fragment keikolatam.gitops.ovh_database)
    SERVICE_ARGS = dict(
        service=dict(type="str", required=True, aliases=["service_id", "cluster", "cluster_id"]),
        engine=dict(type="str", default="postgresql", choices=list(CHILD_ENGINES)),
    )
    #: the kind of object, as the routes name it (``user``, ``database``, ``connectionPool``)
    kind = None

    def prepare(self):
        """The service of O(service): its ID, or its description (fails when unknown or of another engine)."""
        self.service = resolve_service(self, self.params["service"], "service", self.params["engine"],
                                       "The database service %s is a %s service, not %s.")

    @property
    def engine_path(self):
        return "%s/database/%s" % (self.project_path, self.params["engine"])

    @property
    def service_path(self):
        return "%s/%s" % (self.engine_path, self.service["id"])

    def wait_service_ready(self):
        """Before a write: the service must be READY (objects cannot be created while it provisions)."""
        if self.service.get("status") == "READY" or not self.params.get("wait", True):
            return self.service
        self.service = self.wait_for("until_ready", self.fetcher(self.service_path), DATABASE, self.service["id"])
        return self.service

    def retry_while_provisioning(self, call, what):
        """Run ``call``; while the service still provisions, the API refuses some creates with
        ``403 Service database '...' does not exist`` (FACTS.md): with O(wait), retry those within
        O(wait_timeout)."""
        if not self.params.get("wait", True):
            return call()
        return self.waiter.retry(call, _still_provisioning, what)

    def child_path(self, kind, oid=None):
        """``<service>/<kind>`` (``user``, ``database``, ``connectionPool``), or ``<service>/<kind>/<oid>``."""
        path = "%s/%s" % (self.service_path, kind)
        return path if oid is None else "%s/%s" % (path, oid)

    def item_path(self, oid):
        return self.child_path(self.kind, oid)

    def list_objects(self, kind):
        """GET every ``<service>/<kind>/<id>``."""
        out = []
        for oid in self.client.get(self.child_path(kind)) or []:
            obj = self.client.get_or_none(self.child_path(kind, oid))
            if obj is not None:
                out.append(obj)
        return out

    def find(self):
        """The object of the service whose :attr:`name_field` is O(name); None when there is none."""
        return self.find_by_id_or_name(self.list_objects(self.kind), name=self.params["name"], gone=())

    def create_object(self, body, what, adopt=None):
        """Create the object once the service is READY, with :meth:`create_or_adopt` (``self.find`` finds it);
        a POST refused because the service still provisions is sent again."""
        self.wait_service_ready()
        path = self.child_path(self.kind)
        return self.create_or_adopt(
            path, body, self.find, what, adopt=adopt,
            send=lambda: self.retry_while_provisioning(lambda: self.client.post(path, body), what))

    def plan_absent(self, current):
        """Delete the object once the service is READY (see plan_delete)."""
        if current is None:
            return super(OvhDatabaseChildModule, self).plan_absent(current)
        path = self.item_path(current["id"])
        return self.plan_delete(current, "delete %s %s" % (self.what, self.label(current)), path,
                                self.fetcher(path) if self.model else None, self.model, self.label(current),
                                prepare=self.wait_service_ready)


def _still_provisioning(exc):
    return isinstance(exc, OvhApiError) and exc.http_status == 403 and "does not exist" in (exc.message or "")
