#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_database
short_description: Manage an OVHcloud managed database service (PostgreSQL first)
version_added: 0.1.0
description:
  - Create, change or delete a managed database service (OVH calls it a cluster) of a Public Cloud project,
    or create one forked from a backup or a point in time of another service (restore, disaster recovery).
  - The service is identified by O(description), its name, or by O(id).
  - Plan, flavor, version, disk size and node count change in place, with one C(PUT) on the service.
    The engine, the region and the private network cannot change; asking for it fails before anything is
    written. This module never deletes a service implicitly; only O(state=absent) does, and only with
    O(deletion_protection=false).
  - Options that are not set are left as they are on an existing service.
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh
  - keikolatam.gitops.ovh.project
  - keikolatam.gitops.ovh.wait
  - keikolatam.gitops.ovh.attributes
attributes:
  check_mode:
    details: Returns the predicted service (without the fields only the API knows, such as its ID on a create).
options:
  engine:
    description:
      - The database engine. Only V(postgresql) is covered by the collection's tests; the other engines use
        the same service routes.
      - An existing service of another engine with the same description is never converted; the task fails.
    type: str
    default: postgresql
    choices: [postgresql, mysql, mongodb, redis, kafka, kafkaConnect, kafkaMirrorMaker, opensearch, cassandra,
              m3db, m3aggregator, grafana]
  description:
    description:
      - The name of the service (the API's C(description)). Required unless O(id) is set.
      - With O(id), a different value renames the service.
    type: str
  id:
    description:
      - The ID of an existing service. When set, the service is looked up by ID instead of by O(description).
    type: str
  state:
    description:
      - V(present) creates the service or changes it in place; V(absent) deletes it (see O(deletion_protection)).
    type: str
    choices: [present, absent]
    default: present
  plan:
    description:
      - The plan (V(essential), V(business), V(production)...). Required to create. Changes in place.
    type: str
  flavor:
    description:
      - The node flavor (V(db1-4), V(db1-7)...). Required to create unless every entry of O(nodes) names one.
        Changes in place.
    type: str
  version:
    description:
      - The engine version (V(16), V(17)...). Required to create. Changes in place (upgrades only, as the API
        allows).
    type: str
  nodes:
    description:
      - The nodes, as a number (that many nodes of O(flavor) in O(region)) or as a list of dicts with the keys
        C(flavor), C(region) and C(role) (V(STANDARD) or V(ANALYTICS)), each defaulting to O(flavor),
        O(region) and the API's default.
      - Required to create. On an existing service only the number of nodes is compared; it changes in place.
    type: raw
  region:
    description:
      - The region of the service (V(GRA), V(SBG), V(BHS), V(DE), V(UK), V(WAW)...). Required to create.
      - Cannot change.
    type: str
  network_id:
    description:
      - The OpenStack ID (a UUID) of the private network to attach the service to, in O(region), which is the
        C(openstack_ids) value that M(keikolatam.gitops.ovh_private_network) returns for that region.
      - Unset means a public service. Set only at creation; cannot change.
    type: str
  subnet_id:
    description:
      - The ID of the subnet of O(network_id), as M(keikolatam.gitops.ovh_private_network_subnet) returns it.
        Required with O(network_id). Set only at creation; cannot change.
    type: str
  disk_size:
    description:
      - The disk size of each node, in GB. Changes in place (the API only grows disks).
    type: int
  backup_time:
    description:
      - The time of day (UTC, C(HH:MM) or C(HH:MM:SS)) at which the daily backup starts.
    type: str
  backup_regions:
    description:
      - The regions the backups are stored in.
    type: list
    elements: str
  maintenance_time:
    description:
      - The time of day (UTC, C(HH:MM) or C(HH:MM:SS)) at which maintenance can start.
    type: str
  ip_restrictions:
    description:
      - The IP blocks allowed to connect. A bare address means a C(/32) (or C(/128)) block.
      - With O(purge_ip_restrictions=true) the list is exactly this one; otherwise these blocks are added.
      - Unset leaves the restrictions as they are. An empty list with purge removes every block
        (nobody can connect).
    type: list
    elements: dict
    suboptions:
      ip:
        description: The IP block (C(203.0.113.0/24)) or address.
        type: str
        required: true
      description:
        description: What the block is for. Compared only when set.
        type: str
  purge_ip_restrictions:
    description:
      - Remove the blocks that are not in O(ip_restrictions). Only used when O(ip_restrictions) is set.
    type: bool
    default: true
  advanced_configuration:
    description:
      - Engine settings (C(pg_stat_statements.track), C(work_mem)...), as the API's string map. Values are
        converted to strings (booleans to V(true)/V(false)).
      - Only the keys given are compared and set; other keys are left as they are.
    type: dict
  deletion_protection:
    description:
      - While true, O(state=absent) fails instead of deleting the service.
      - The OVH API has no such flag on database services, so this is a guard of the module; deleting a
        service needs both O(state=absent) and O(deletion_protection=false) in the same task.
    type: bool
    default: true
  fork_from:
    description:
      - Create the service as a fork of another service's backup (restore, disaster recovery), at a backup
        (O(fork_from.backup_id)) or at a point in time (O(fork_from.point_in_time)).
      - Only used when the service is created; an existing service is never forked again.
      - O(plan), O(version), O(flavor), O(nodes) and O(region) are still needed (the API requires them), and
        the fork gets its own description.
    type: dict
    suboptions:
      service:
        description:
          - The service to fork, by ID or by description.
          - Its former name C(cluster) is an alias.
        type: str
        required: true
        aliases: [service_id, cluster]
      backup_id:
        description:
          - The ID of the backup to restore (see M(keikolatam.gitops.ovh_database_backup_info)).
        type: str
      point_in_time:
        description:
          - The date and time to restore to, ISO 8601 (C(2025-01-31T12:00:00Z)), within the source's
            point-in-time recovery window.
        type: str
notes:
  - Check mode returns the predicted service; diff mode shows it before and after.
  - The engine-neutral route C(/database/service) is used to find the service, so that a service of
    another engine with the same description is detected before anything is written.
seealso:
  - module: keikolatam.gitops.ovh_database_info
  - module: keikolatam.gitops.ovh_database_backup_info
  - module: keikolatam.gitops.ovh_database_user
  - module: keikolatam.gitops.ovh_database_database
  - module: keikolatam.gitops.ovh_private_network
"""

EXAMPLES = r"""
- name: A PostgreSQL service on the private network, reachable from the cluster's nodes only
  keikolatam.gitops.ovh_database:
    service_name: "{{ ovh_project_id }}"
    engine: postgresql
    description: keiko-production
    plan: business
    flavor: db1-7
    version: "17"
    nodes: 2
    region: GRA
    network_id: "{{ network.openstack_ids.GRA7 }}"
    subnet_id: "{{ subnet.subnet.id }}"
    disk_size: 160
    backup_time: "02:00"
    maintenance_time: "04:00"
    ip_restrictions:
      - ip: 10.10.0.0/16
        description: kube nodes
    advanced_configuration:
      pg_stat_statements.track: all
  register: pg

- name: Move to the production plan (one in-place update)
  keikolatam.gitops.ovh_database:
    service_name: "{{ ovh_project_id }}"
    description: keiko-production
    plan: production
    nodes: 3

- name: Restore last night's state into a new service
  keikolatam.gitops.ovh_database:
    service_name: "{{ ovh_project_id }}"
    description: keiko-production-restore
    plan: business
    flavor: db1-7
    version: "17"
    nodes: 2
    region: GRA
    fork_from:
      service: keiko-production
      point_in_time: "2025-01-31T03:00:00Z"

- name: Delete a service (both options are needed)
  keikolatam.gitops.ovh_database:
    service_name: "{{ ovh_project_id }}"
    description: keiko-dev-old
    state: absent
    deletion_protection: false
"""

RETURN = r"""
database:
  description:
    - Deprecated, the same as RV(service) (its former name); it will be removed in a later release.
  returned: when the service exists, is created, or is deleted
  type: dict
service:
  description:
    - The service, as the API returns it (C(cloud.project.database.Service)). In check mode, the predicted
      service (without the fields only the API knows, such as C(id) on a create).
    - With O(state=absent), the service as it was before its deletion.
    - Its former name RV(database) is still returned, with the same value.
  returned: when the service exists, is created, or is deleted
  type: dict
  sample:
    id: 1f6f2a1c-7c43-4f2f-9a55-0a4c3d2f5b10
    description: keiko-production
    engine: postgresql
    plan: business
    flavor: db1-7
    version: "17"
    nodeNumber: 2
    region: GRA
    status: READY
    networkType: private
    endpoints:
      - component: postgresql
        domain: postgresql-1f6f2a1c-o1a2b3c4d.database.cloud.ovh.net
        port: 20184
        ssl: true
        sslMode: require
advanced_configuration:
  description: The service's advanced configuration after the task.
  returned: when O(advanced_configuration) is set and O(state=present)
  type: dict
  sample: {"pg_stat_statements.track": "all"}
actions:
  description: What the task did (or, in check mode, would do), in words.
  returned: changed
  type: list
  elements: str
  sample: ["update service keiko-production: plan"]
adopted:
  description: True when the create answered an error but the service was created anyway, and was adopted.
  returned: when a service was adopted
  type: bool
waited:
  description: How long the task waited for the service, and the last status seen.
  returned: when the task waited
  type: dict
  sample: {"seconds": 312.4, "status": "READY"}
retries:
  description: How many API requests were retried (429, 5xx, busy answers).
  returned: always
  type: int
failure:
  description: The API error that made the task fail (HTTP status, OVH error class, message, query ID).
  returned: failed on an API error
  type: dict
"""

from ansible_collections.keikolatam.gitops.plugins.module_utils._database import (
    ENGINES,
    check_advanced_configuration,
    check_service_spec,
    find_services,
    get_service,
    ip_restrictions_body,
    parse_nodes,
    resolve_service,
)
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import (
    GOING_AWAY,
    Immutable,
    OvhModule,
    Plan,
    changed_fields,
    drop_none,
    is_uuid,
    normalize_block,
    normalize_time,
    parse_datetime,
    stringify,
)
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import DATABASE

NETWORK_ID = ("the OpenStack ID of the network in the region, openstack_ids of keikolatam.gitops.ovh_private_network, "
              "not its pn-... ID")
TIME = "a time of day, HH:MM or HH:MM:SS"
# option -> the service's field, changed in place by the PUT (compared as text)
IN_PLACE = (("plan", "plan"), ("flavor", "flavor"), ("version", "version"), ("maintenance_time", "maintenanceTime"))


def _wanted_region(module):
    return module.params["region"] or next((n["region"] for n in module.node_list or [] if n.get("region")), None)


class OvhDatabase(OvhModule):
    resource_key = "service"
    resource_aliases = ("database",)
    composite = True
    what = "database service"
    name_option = name_field = "description"
    model = DATABASE
    deleting = ("DELETING",)
    not_empty = ("description",)
    uuid_options = {"id": "the service's ID", "network_id": NETWORK_ID, "subnet_id": "a subnet of network_id"}
    formats = {"backup_time": (normalize_time, TIME), "maintenance_time": (normalize_time, TIME),
               "fork_from.backup_id": (lambda v: v if is_uuid(v) else None, "a UUID"),
               "fork_from.point_in_time": (lambda v: v if parse_datetime(v) else None,
                                           "an ISO 8601 date and time (2025-01-31T12:00:00Z)")}
    refused = ((lambda p: p["state"] == "absent" and p["fork_from"] is not None,
                "fork_from is only used with state=present."),)
    immutable = (
        Immutable("engine", "engine", "create a new service (another description) and move the data; this module "
                  "never deletes a service implicitly"),
        Immutable("region", "region", "fork it into a new service in the new region instead",
                  value=_wanted_region),
        Immutable("network_id", "networkId", "create a new service on that network (fork_from) instead"),
        Immutable("subnet_id", "subnetId", "create a new service on that network (fork_from) instead"),
    )
    argument_spec = dict(
        engine=dict(type="str", default="postgresql", choices=list(ENGINES)),
        description=dict(type="str"),
        id=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        plan=dict(type="str"),
        flavor=dict(type="str"),
        version=dict(type="str"),
        nodes=dict(type="raw"),
        region=dict(type="str"),
        network_id=dict(type="str"),
        subnet_id=dict(type="str"),
        disk_size=dict(type="int"),
        backup_time=dict(type="str"),
        backup_regions=dict(type="list", elements="str"),
        maintenance_time=dict(type="str"),
        ip_restrictions=dict(type="list", elements="dict", options=dict(
            ip=dict(type="str", required=True),
            description=dict(type="str"),
        )),
        purge_ip_restrictions=dict(type="bool", default=True),
        advanced_configuration=dict(type="dict"),
        deletion_protection=dict(type="bool", default=True),
        fork_from=dict(type="dict", options=dict(
            service=dict(type="str", required=True, aliases=["service_id", "cluster"]),
            backup_id=dict(type="str"),
            point_in_time=dict(type="str"),
        ), mutually_exclusive=[["backup_id", "point_in_time"]],
            required_one_of=[["backup_id", "point_in_time"]]),
    )
    module_kwargs = dict(
        required_one_of=[["description", "id"]],
        required_together=[["network_id", "subnet_id"]],
    )

    # -- input -------------------------------------------------------------------------------

    def validate(self):
        p = self.params
        self.node_count, self.node_list = parse_nodes(self)
        self.check_formats(("backup_time", "maintenance_time"))
        for entry in p["ip_restrictions"] or []:
            block = normalize_block(entry["ip"])
            if block is None:
                self.fail("ip_restrictions: %r is not an IP address or block." % entry["ip"])
            entry["ip"] = block
        if p["disk_size"] is not None and p["disk_size"] < 1:
            self.fail("disk_size must be a positive number of GB.")
        if p["advanced_configuration"] is not None:
            p["advanced_configuration"] = dict(
                (str(k), stringify(v)) for k, v in p["advanced_configuration"].items())

    # -- lookups and the API's rules ---------------------------------------------------------

    @property
    def engine_path(self):
        return "%s/database/%s" % (self.project_path, self.params["engine"])

    def item_path(self, oid):
        return "%s/%s" % (self.engine_path, oid)

    def find(self):
        """The service named by the options (any engine), or None; with O(state=absent), also one being deleted."""
        p = self.params
        going = () if p["state"] == "absent" else ("DELETING",)
        return self.find_own(lambda: find_services(self.client, self.project_path, description=p["description"],
                                                   include_going_away=True),
                             get=lambda sid: get_service(self.client, self.project_path, sid), gone=going)

    def preflight(self, current):
        p = self.params
        if p["state"] == "absent":
            return
        if current is None:
            missing = [o for o in ("plan", "version", "region", "nodes") if p[o] in (None, "")]
            if not p["flavor"] and not (self.node_list and all(n.get("flavor") for n in self.node_list)):
                missing.append("flavor")
            if missing:
                self.fail("To create database service %s, set %s." % (self.label(), ", ".join(missing)))
        flavor = p["flavor"] or next((n["flavor"] for n in self.node_list or [] if n.get("flavor")), None)
        check_service_spec(self, p["engine"], dict(
            plan=p["plan"], flavor=flavor, version=p["version"], nodes=self.node_count, disk=p["disk_size"],
            region=_wanted_region(self) if current is None else None, backup_regions=p["backup_regions"],
            network=p["network_id"]), current)
        if current is not None and p["advanced_configuration"]:
            check_advanced_configuration(self, self.item_path(current["id"]), p["advanced_configuration"],
                                         self.label(current))
        if current is None and p["fork_from"] is not None:
            self.fork_source = resolve_service(self, p["fork_from"]["service"], "fork_from.service", p["engine"],
                                               "fork_from: service %s is a %s service; a fork keeps the engine (%s).",
                                               any_engine=False, gone=GOING_AWAY)

    # -- present -----------------------------------------------------------------------------

    def update_body(self, current):
        """The PUT body: only what differs (the fields the user set)."""
        p = self.params
        body = dict((field, p[opt]) for opt, field in IN_PLACE
                    if p[opt] is not None and str(p[opt]) != str(current.get(field)))
        if p["id"] and p["description"] is not None and p["description"] != current.get("description"):
            body["description"] = p["description"]
        flavors = set(n["flavor"] for n in self.node_list or [] if n.get("flavor"))
        if p["flavor"] is None and flavors and flavors != set([current.get("flavor")]):
            body["flavor"] = flavors.pop()
        body.update(changed_fields(current, {"nodeNumber": self.node_count, "disk": dict(size=p["disk_size"])
                                             if p["disk_size"] is not None else None}))
        backups = current.get("backups") or {}
        want = changed_fields(backups, {"time": p["backup_time"]})
        if p["backup_regions"] is not None and sorted(p["backup_regions"]) != sorted(backups.get("regions") or []):
            want["regions"] = p["backup_regions"]
        if want:
            body["backups"] = drop_none(dict(dict(time=backups.get("time"), regions=backups.get("regions")), **want))
        ips = ip_restrictions_body(p["ip_restrictions"], p["purge_ip_restrictions"], current)
        return dict(body, ipRestrictions=ips) if ips is not None else body

    def creation_body(self):
        p = self.params
        body = drop_none(dict(description=p["description"], plan=p["plan"], version=p["version"],
                              disk=dict(size=p["disk_size"]) if p["disk_size"] is not None else None,
                              networkId=p["network_id"] or None, subnetId=p["subnet_id"] if p["network_id"] else None,
                              maintenanceTime=p["maintenance_time"] or None,
                              ipRestrictions=ip_restrictions_body(p["ip_restrictions"], True, None)))
        if self.node_list:
            body["nodesList"] = [drop_none(dict(flavor=n.get("flavor") or p["flavor"],
                                                region=n.get("region") or p["region"], role=n.get("role")))
                                 for n in self.node_list]
        else:
            body["nodesPattern"] = dict(flavor=p["flavor"], number=self.node_count, region=p["region"])
        if p["backup_time"] is not None or p["backup_regions"] is not None:
            body["backups"] = drop_none(dict(time=p["backup_time"], regions=p["backup_regions"]))
        fork = p["fork_from"]
        if fork is not None:
            body["forkFrom"] = drop_none(dict(serviceId=self.fork_source["id"], backupId=fork.get("backup_id"),
                                              pointInTime=fork.get("point_in_time")))
        return body

    def predicted(self, body):
        p = self.params
        out = dict(
            description=body["description"], engine=p["engine"], plan=body["plan"], version=body["version"],
            flavor=p["flavor"] or body.get("nodesList", [{}])[0].get("flavor"),
            nodeNumber=self.node_count, region=_wanted_region(self), status="CREATING",
            networkType="private" if p["network_id"] else "public",
            networkId=p["network_id"], subnetId=p["subnet_id"],
            ipRestrictions=[dict(r, status="CREATING") for r in body.get("ipRestrictions", [])],
        )
        out.update((key, body[key]) for key in ("disk", "maintenanceTime", "backups") if key in body)
        return out

    def plan_create(self):
        p = self.params
        body = self.creation_body()
        summary = "create %s service %s" % (p["engine"], p["description"])
        if p["fork_from"]:
            summary += " forked from %s" % body["forkFrom"]["serviceId"]
        plan = Plan(None).add(summary, self.create_step(
            body, lambda: (find_services(self.client, self.project_path, engine=p["engine"],
                                         description=p["description"]) or [None])[0],
            "database service %s" % p["description"], path=self.engine_path),
            after=dict(service=self.predicted(body)), creates=True)
        adv = p["advanced_configuration"]
        if adv:
            # The service must be ready before its configuration can change: this waits even with wait=false.
            plan.add("set the advanced configuration of %s: %s" % (p["description"], ", ".join(sorted(adv))),
                     lambda: self.put(plan.created["id"], adv, "/advancedConfiguration"),
                     patch=dict(advanced_configuration=adv))
        return plan

    def plan_update(self, current):
        name, sid, body = self.label(current), current["id"], self.update_body(current)
        before = dict(service=current)
        before.update(self.read_parts(current))
        plan = Plan(before)
        if body:
            patch = dict(body)
            if "ipRestrictions" in patch:
                old = dict((r.get("ip"), r.get("status")) for r in current.get("ipRestrictions") or [])
                patch["ipRestrictions"] = [dict(r, status=old.get(r["ip"], "CREATING")) for r in body["ipRestrictions"]]
            plan.add("update service %s: %s" % (name, ", ".join(sorted(body))), lambda: self.put(sid, body),
                     patch=dict(service=patch))
        have = before.get("advanced_configuration")
        change = changed_fields(have, self.params["advanced_configuration"] or {})
        if change:
            plan.add("set advanced configuration of %s: %s" % (name, ", ".join(sorted(change))),
                     lambda: self.put(sid, dict(have, **change), "/advancedConfiguration"),
                     patch=dict(advanced_configuration=change))
        return plan

    def read_parts(self, obj):
        if self.params["advanced_configuration"] is None:
            return {}
        return {"advanced_configuration": self.client.get(self.item_path(obj["id"]) + "/advancedConfiguration")
                or {}}

    # -- absent ------------------------------------------------------------------------------

    def plan_absent(self, current):
        p = self.params
        if current is not None and current.get("status") not in self.deleting:
            name = self.label(current)
            if current.get("engine") != p["engine"]:
                self.fail("Database service %s is a %s service, not %s; nothing was deleted."
                          % (name, current.get("engine"), p["engine"]))
            self.result["service"] = current
            if p["deletion_protection"]:
                self.fail("Database service %s (%s) is protected: deletion_protection is true. Set deletion_protection: "
                          "false in this task to delete it; nothing was deleted." % (name, current["id"]))
        return super(OvhDatabase, self).plan_absent(current)


def main():
    OvhDatabase().main()


if __name__ == "__main__":
    main()
