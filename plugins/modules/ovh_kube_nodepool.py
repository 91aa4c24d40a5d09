#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_kube_nodepool
short_description: Manage a node pool of an OVHcloud Managed Kubernetes cluster
version_added: 0.1.0
description:
  - Create, resize, reconfigure, replace and delete a node pool of a Managed Kubernetes cluster.
  - The size (O(desired_nodes), O(min_nodes), O(max_nodes)), the autoscaler settings and the node template
    are updated in place. The module waits until no operation runs on the pool before it changes or deletes
    it.
  - The flavor, the billing mode, the anti-affinity and the availability zones cannot be updated in place.
    A difference fails, unless O(replace_on_change=true), and then the pool is replaced safely, see
    O(replace_on_change).
  - The flavor is checked against the flavors the cluster offers (C(GET .../kube/{kubeId}/flavors)) before
    anything is written.
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh
  - keikolatam.gitops.ovh.project
  - keikolatam.gitops.ovh.wait
  - keikolatam.gitops.ovh.kube_cluster
  - keikolatam.gitops.ovh.attributes
attributes:
  check_mode:
    details: Returns the predicted node pool.
options:
  name:
    description:
      - The node pool name (lowercase letters, digits and C(-)).
      - The pool named O(name), or a pool named C(<name>-r<N>) that replaced it (see O(replace_on_change)), is
        the pool this module manages.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the pool, V(absent) deletes it (and the pools that replaced it).
    type: str
    choices: [present, absent]
    default: present
  flavor:
    description:
      - The flavor of the nodes, for example V(b3-8). Required to create the pool.
      - M(keikolatam.gitops.ovh_kube_capabilities_info) lists the flavors of a cluster.
    type: str
  desired_nodes:
    description:
      - How many nodes the pool should have.
      - While the autoscaler manages the pool (O(autoscale=true), or the pool already autoscales), this value is
        only sent at creation and when the pool is replaced, so that the module does not fight the
        autoscaler; O(force_desired_nodes=true) sends it anyway.
    type: int
  min_nodes:
    description: The lowest number of nodes the autoscaler may go down to.
    type: int
  max_nodes:
    description: The highest number of nodes the autoscaler may go up to.
    type: int
  force_desired_nodes:
    description:
      - Send O(desired_nodes) even when the pool autoscales.
    type: bool
    default: false
  autoscale:
    description: Let the cluster autoscaler manage the number of nodes between O(min_nodes) and O(max_nodes).
    type: bool
  autoscaling:
    description: Autoscaler settings. Only the settings that are set are compared and changed.
    type: dict
    suboptions:
      scale_down_unneeded_time_seconds:
        description: How long a node must be unneeded before it may be removed.
        type: int
      scale_down_unready_time_seconds:
        description: How long an unready node must be unneeded before it may be removed.
        type: int
      scale_down_utilization_threshold:
        description:
          - The CPU or memory use (requests divided by allocatable, between 0 and 1) below which a node may be
            removed.
        type: float
  monthly_billed:
    description: Bill the nodes monthly instead of hourly. Cannot be updated in place.
    type: bool
  anti_affinity:
    description:
      - Spread the nodes over different hypervisors (at most 5 nodes per pool). Cannot be updated in place.
    type: bool
  availability_zones:
    description:
      - The availability zones of the pool, in regions that have several (sent as C(availabilityZones), a field
        newer than the 2024 API schema). Cannot be updated in place.
      - When the API does not return the field, it is not compared.
    type: list
    elements: str
  template:
    description:
      - What each node of the pool gets. Every part that is set replaces the pool's whole value of that part
        (for example O(template.labels) is the full set of labels); the parts that are not set are left alone.
    type: dict
    suboptions:
      labels:
        description: Kubernetes labels of the nodes.
        type: dict
      annotations:
        description: Kubernetes annotations of the nodes.
        type: dict
      finalizers:
        description: Finalizers of the nodes.
        type: list
        elements: str
      taints:
        description: Taints of the nodes.
        type: list
        elements: dict
        suboptions:
          key:
            description: The taint key.
            type: str
            required: true
          value:
            description: The taint value.
            type: str
          effect:
            description: What happens to the pods that do not tolerate the taint.
            type: str
            choices: [NoSchedule, PreferNoSchedule, NoExecute]
            required: true
      unschedulable:
        description: Mark the nodes unschedulable.
        type: bool
  nodes_to_remove:
    description:
      - Nodes to remove from the pool while it is downsized, by node ID, OpenStack instance ID or node name.
        Nodes that are not (or no longer) in the pool are ignored, so the option is idempotent.
      - Unless O(desired_nodes) is set, the desired number of nodes goes down by the number of nodes removed.
    type: list
    elements: str
  replace_on_change:
    description:
      - When O(flavor), O(monthly_billed), O(anti_affinity) or O(availability_zones) differ from the pool's,
        replace the pool instead of failing.
      - The replacement is safe for the workloads. A new pool named C(<name>-r<N>) is created (C(N) is one
        more than the highest C(-r<N>) suffix already used, so V(web) is replaced by V(web-r1), then by
        V(web-r2)), with the new settings and the old pool's other settings. The module waits until the new
        pool is C(READY) (whatever O(wait) says), and only then deletes the old pool. The old pool is never
        deleted first.
      - The new pool keeps its C(<name>-r<N>) name (a node pool cannot be renamed); this module finds it by
        O(name) on the next runs.
      - When a replacement was interrupted (two pools for O(name)), rerunning with O(replace_on_change=true)
        finishes it. The newest pool with the wanted settings is kept and the others are deleted once it is
        C(READY).
    type: bool
    default: false
notes:
  - After a create answered a 5xx or timed out, the module looks the object up for ten times O(wait_sleep)
    (at most 30 seconds) and adopts it when it was created; otherwise it sends the create again (twice at most).
  - The module waits until the cluster is not busy before it creates, changes or deletes a pool.
seealso:
  - module: keikolatam.gitops.ovh_kube_cluster
  - module: keikolatam.gitops.ovh_kube_nodepool_info
  - module: keikolatam.gitops.ovh_kube_capabilities_info
"""

EXAMPLES = r"""
- name: An autoscaled pool of b3-8 nodes with a taint
  keikolatam.gitops.ovh_kube_nodepool:
    service_name: "{{ ovh_project_id }}"
    cluster: keiko-staging
    name: apps
    flavor: b3-8
    desired_nodes: 3
    min_nodes: 3
    max_nodes: 8
    autoscale: true
    autoscaling:
      scale_down_utilization_threshold: 0.5
    template:
      labels:
        keiko.io/pool: apps
      taints:
        - key: dedicated
          value: apps
          effect: NoSchedule

- name: Move the pool to a larger flavor (creates apps-r1, waits for it, then deletes apps)
  keikolatam.gitops.ovh_kube_nodepool:
    cluster: keiko-staging
    name: apps
    flavor: b3-16
    replace_on_change: true

- name: Remove one specific node while going down to 2 nodes
  keikolatam.gitops.ovh_kube_nodepool:
    cluster: keiko-staging
    name: apps
    autoscale: false
    desired_nodes: 2
    nodes_to_remove: ["{{ broken_node_id }}"]

- name: Delete the pool
  keikolatam.gitops.ovh_kube_nodepool:
    cluster: keiko-staging
    name: apps
    state: absent
"""

RETURN = r"""
nodepool:
  description:
    - The node pool as the API returns it after the changes (camelCase keys), or the predicted pool in check
      mode. Absent when the pool does not exist or was deleted.
  returned: when the pool exists
  type: dict
  sample:
    id: 0f6e3a5e-2d7b-4c55-9a59-0e3c6b3f2a10
    name: apps
    flavor: b3-8
    status: READY
    sizeStatus: CAPACITY_OK
    desiredNodes: 3
    currentNodes: 3
    availableNodes: 3
    upToDateNodes: 3
    minNodes: 3
    maxNodes: 8
    autoscale: true
    autoscaling:
      scaleDownUnneededTimeSeconds: 600
      scaleDownUnreadyTimeSeconds: 1200
      scaleDownUtilizationThreshold: 0.5
    monthlyBilled: false
    antiAffinity: false
    template:
      metadata: {labels: {keiko.io/pool: apps}, annotations: {}, finalizers: []}
      spec: {taints: [{key: dedicated, value: apps, effect: NoSchedule}], unschedulable: false}
    projectId: 5f1e0c2a9d8b4e7f
    createdAt: "2024-06-01T12:00:00Z"
    updatedAt: "2024-06-01T12:05:00Z"
replaced:
  description: The pools that were deleted because O(replace_on_change) replaced them, by name and ID.
  returned: when a pool was replaced
  type: list
  elements: dict
  sample: [{name: apps, id: 9d0c1f7e-8a5b-4b3e-a1c2-d3e4f5a6b7c8, flavor: b3-8}]
actions:
  description: What the module did (or would do in check mode), in order, in words.
  returned: when changed
  type: list
  elements: str
  sample: ["create node pool 'apps-r1' (flavor b3-16) to replace 'apps'", "delete node pool 'apps' (replaced)"]
waited:
  description: How long the module waited, in seconds, and the last status it read.
  returned: when the module waited
  type: dict
  sample: {seconds: 184.2, status: READY}
adopted:
  description: True when the create answered an error but the pool had been created, and was taken over.
  returned: when a pool was adopted
  type: bool
retries:
  description: How many API requests were retried (429, 5xx, busy answers).
  returned: always
  type: int
failure:
  description: The API error (HTTP status, OVH error class, message, query id, method and path).
  returned: on an API failure
  type: dict
"""

import re

from ansible_collections.keikolatam.gitops.plugins.module_utils._kube import (
    CLUSTER_ARGS,
    KubeModule,
    autoscaling_body,
    template_body,
    template_changed,
)
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import (
    Immutable,
    Plan,
    changed_fields,
    drop_none,
)
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import KUBE_NODEPOOL

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# The API's limits (FACTS.md): a name of at most 40 characters, at most 100 nodes, at most 5 with anti-affinity.
NAME_MAX = 40
MAX_NODES = 100
ANTI_AFFINITY_MAX = 5
REPLACE = ("set replace_on_change=true to replace the pool (a new pool <name>-r<N> is created, and the old one is "
           "deleted once the new one is READY)")
# The options of a new pool that a replacement takes from the old pool when they are not set.
CREATE_OPTIONS = ("desired_nodes", "min_nodes", "max_nodes", "autoscale", "monthly_billed", "anti_affinity",
                  "availability_zones")


def _no_replace(module):
    return not module.params["replace_on_change"]


def _created_key(pool):
    match = re.search(r"-r(\d+)$", pool.get("name") or "")
    return (pool.get("createdAt") or "", int(match.group(1)) if match else 0)


class OvhKubeNodepool(KubeModule):
    resource_key = "nodepool"
    what = "node pool"
    model = KUBE_NODEPOOL
    return_deleted = False
    immutable = (
        Immutable("flavor", "flavor", REPLACE, applies=_no_replace),
        Immutable("monthly_billed", "monthlyBilled", REPLACE, applies=_no_replace),
        Immutable("anti_affinity", "antiAffinity", REPLACE, applies=_no_replace),
        Immutable("availability_zones", "availabilityZones", REPLACE, applies=_no_replace),
    )
    argument_spec = dict(
        CLUSTER_ARGS,
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        flavor=dict(type="str"),
        desired_nodes=dict(type="int"),
        min_nodes=dict(type="int"),
        max_nodes=dict(type="int"),
        force_desired_nodes=dict(type="bool", default=False),
        autoscale=dict(type="bool"),
        autoscaling=dict(type="dict", options=dict(
            scale_down_unneeded_time_seconds=dict(type="int"),
            scale_down_unready_time_seconds=dict(type="int"),
            scale_down_utilization_threshold=dict(type="float"),
        )),
        monthly_billed=dict(type="bool"),
        anti_affinity=dict(type="bool"),
        availability_zones=dict(type="list", elements="str"),
        template=dict(type="dict", options=dict(
            labels=dict(type="dict"),
            annotations=dict(type="dict"),
            finalizers=dict(type="list", elements="str"),
            taints=dict(type="list", elements="dict", options=dict(
                key=dict(type="str", required=True, no_log=False),
                value=dict(type="str"),
                effect=dict(type="str", required=True, choices=["NoSchedule", "PreferNoSchedule", "NoExecute"]),
            )),
            unschedulable=dict(type="bool"),
        )),
        nodes_to_remove=dict(type="list", elements="str"),
        replace_on_change=dict(type="bool", default=False),
    )

    # -- input ---------------------------------------------------------------

    def validate(self):
        p = self.params
        if not _NAME_RE.match(p["name"] or ""):
            self.fail("name %r is not a valid node pool name: lowercase letters, digits and '-', starting and "
                      "ending with a letter or digit." % p["name"])
        if len(p["name"]) > NAME_MAX:
            self.fail("name must be at most %d characters (the API's limit), not %d." % (NAME_MAX, len(p["name"])))
        for opt in ("desired_nodes", "min_nodes", "max_nodes"):
            if p[opt] is not None and not 0 <= p[opt] <= MAX_NODES:
                self.fail("%s must be at most %d (the API's limit) and not negative, not %d."
                          % (opt, MAX_NODES, p[opt]))
        self.check_sizes(p["min_nodes"], p["max_nodes"], p["desired_nodes"], p["anti_affinity"])
        threshold = (p["autoscaling"] or {}).get("scale_down_utilization_threshold")
        if threshold is not None and not 0 <= threshold <= 1:
            self.fail("autoscaling.scale_down_utilization_threshold must be between 0 and 1.")
        for label in ("labels", "annotations"):
            values = (p["template"] or {}).get(label)
            for k, v in (values or {}).items():
                if not isinstance(v, str):
                    self.fail("template.%s.%s must be a string, not %r." % (label, k, v))

    def check_sizes(self, lo, hi, want, anti):
        """The bounds the API enforces on a pool's sizes (those that are known: None is not checked)."""
        if lo is not None and hi is not None and lo > hi:
            self.fail("min_nodes (%d) is greater than max_nodes (%d)." % (lo, hi))
        if want is not None and ((lo is not None and want < lo) or (hi is not None and want > hi)):
            self.fail("desired_nodes (%d) is outside min_nodes..max_nodes (%s..%s)." % (want, lo, hi))
        for opt, value in (("max_nodes", hi), ("desired_nodes", want)):
            if anti and value is not None and value > ANTI_AFFINITY_MAX:
                self.fail("A node pool has at most %d nodes with anti_affinity; %s is %d."
                          % (ANTI_AFFINITY_MAX, opt, value))

    # -- lookups and the API's rules -------------------------------------------

    def prepare(self):
        self.cluster = self.require_cluster(self.params["cluster"])

    @property
    def collection_path(self):
        return self.cluster_path(self.cluster["id"]) + "/nodepool"

    def find(self):
        """The pool named O(name) (or the pool ``<name>-r<N>`` that replaced it); the pools an interrupted
        replacement left behind are in ``leftovers``."""
        name = self.params["name"]
        pattern = re.compile(r"^%s-r\d+$" % re.escape(name))
        self.pools = [p for p in self.client.get(self.collection_path) or []
                      if p.get("name") == name or pattern.match(p.get("name") or "")]
        self.leftovers = []
        if self.params["state"] == "absent" or not self.pools:
            return self.pools[0] if self.pools else None
        if len(self.pools) == 1:
            return self.pools[0]
        if not self.params["replace_on_change"]:
            self.fail("Several node pools belong to %r (%s), probably an interrupted replacement: rerun with "
                      "replace_on_change=true to finish it (the newest pool with the wanted settings is kept, the "
                      "others are deleted once it is READY), or delete the extra pools."
                      % (name, ", ".join(sorted(c.get("name") for c in self.pools))))
        matching = [c for c in self.pools if not self.differences(c)]
        keep = max(matching or self.pools, key=_created_key)
        self.leftovers = [c for c in self.pools if c is not keep]
        return keep

    def find_by_name(self, name):
        return next((pool for pool in self.client.get(self.collection_path) or [] if pool.get("name") == name), None)

    def differences(self, pool):
        """The fields that cannot change and that the task asks to change, whatever replace_on_change says."""
        return [(rule.option, have, want) for rule, have, want in self.immutable_changes(pool, always=True)]

    def preflight(self, current):
        p = self.params
        if p["state"] == "absent":
            return
        if current is None and not p["flavor"]:
            self.fail("flavor is required to create the node pool %s." % p["name"])
        if p["flavor"] and (current is None or self.differences(current)):
            self.require_flavor(self.cluster, p["flavor"])
        if current is not None and not self.differences(current):
            after = dict(current, **self.update_body(current))
            self.check_sizes(after.get("minNodes"), after.get("maxNodes"), after.get("desiredNodes"),
                             after.get("antiAffinity"))

    # -- desired state -------------------------------------------------------

    def autoscales(self, pool):
        if self.params["autoscale"] is not None:
            return self.params["autoscale"]
        return bool(pool and pool.get("autoscale"))

    def creation_body(self, name, base=None):
        """The POST body of a new pool: the options that are set, else ``base``'s values (a replacement)."""
        p = self.params
        base = base or {}
        body = dict(self.fields(CREATE_OPTIONS, base), name=name,
                    flavorName=p["flavor"] if p["flavor"] is not None else base.get("flavor"),
                    autoscaling=autoscaling_body(p["autoscaling"], base.get("autoscaling")) or base.get("autoscaling"),
                    template=template_body(p["template"], base.get("template"))
                    if (p["template"] or base.get("template")) else None)
        if base and self.autoscales(base) and p["desired_nodes"] is not None and not p["force_desired_nodes"]:
            # A replacement starts as large as the pool the autoscaler sized.
            body["desiredNodes"] = base.get("desiredNodes")
        return drop_none(body)

    def update_body(self, pool):
        """The PUT body that brings ``pool`` to the options (empty when nothing differs)."""
        p = self.params
        want = self.fields(("min_nodes", "max_nodes", "autoscale"))
        if p["desired_nodes"] is not None and (p["force_desired_nodes"] or not self.autoscales(pool)):
            want["desiredNodes"] = p["desired_nodes"]
        body = changed_fields(pool, want)
        autoscaling = autoscaling_body(p["autoscaling"], pool.get("autoscaling"))
        if autoscaling is not None and changed_fields(pool.get("autoscaling"), autoscaling):
            body["autoscaling"] = autoscaling
        if p["template"] is not None and template_changed(p["template"], pool.get("template")):
            body["template"] = template_body(p["template"], pool.get("template"))
        removing = self.nodes_to_remove(pool)
        if removing:
            body["nodesToRemove"] = removing
            if "desiredNodes" not in body:
                body["desiredNodes"] = p["desired_nodes"] if p["desired_nodes"] is not None else \
                    max(0, (pool.get("desiredNodes") or 0) - len(removing))
        return body

    def nodes_to_remove(self, pool):
        refs = self.params["nodes_to_remove"]
        if not refs:
            return []
        known = set()
        for node in self.client.get(self.item_path(pool["id"]) + "/nodes") or []:
            known.update(v for v in (node.get("id"), node.get("instanceId"), node.get("name")) if v)
        return [ref for ref in refs if ref in known]

    @staticmethod
    def predicted(body):
        pool = dict((k, v) for k, v in body.items() if k != "flavorName")
        pool.update(flavor=body.get("flavorName"), id=None, status="INSTALLING")
        return pool

    # -- plans ---------------------------------------------------------------

    def plan_create(self):
        body = self.creation_body(self.params["name"])
        return Plan(None).add("create node pool %s (flavor %s)" % (body["name"], body["flavorName"]),
                              self._creator(body, wait=self.params["wait"]), after=self.predicted(body),
                              creates=True)

    def plan_update(self, current):
        pool = current
        diffs = self.differences(pool)
        if diffs:
            return self.plan_replace(pool, diffs)
        plan = Plan(pool)
        if self.leftovers:
            plan.add("wait until node pool %s is READY" % pool.get("name"),
                     lambda: self.wait_for("until_ready", self.fetcher(self.item_path(pool["id"])), KUBE_NODEPOOL,
                                           pool.get("name")))
            for old in self.leftovers:
                plan.add("delete node pool %s (replaced)" % old.get("name"), self._deleter(old, replaced=True))
        body = self.update_body(pool)
        if body:
            plan.add("update node pool %s (%s)" % (pool.get("name"), ", ".join(sorted(body))),
                     lambda: self.put(pool["id"], body, wait=True, what=pool.get("name")),
                     patch=dict((k, v) for k, v in body.items() if k != "nodesToRemove"))
        return plan

    def plan_replace(self, old, diffs):
        used = [_created_key(c)[1] for c in [old] + self.leftovers]
        new_name = "%s-r%d" % (self.params["name"], max(used + [0]) + 1)
        body = self.creation_body(new_name, base=old)
        plan = Plan(old).add("create node pool %s (%s) to replace %s" % (
            new_name, ", ".join("%s %s" % (diff[0], diff[2]) for diff in diffs), old.get("name")),
            self._creator(body, wait=True), after=self.predicted(body), creates=True)
        for pool in [old] + self.leftovers:
            plan.add("delete node pool %s (replaced)" % pool.get("name"), self._deleter(pool, replaced=True))
        return plan

    def plan_absent(self, current):
        pools = self.pools
        plan = Plan(pools[0] if len(pools) == 1 else ({"pools": pools} if pools else None))
        for pool in pools:
            plan.add("delete node pool %s" % pool.get("name"), self._deleter(pool))
        plan.after = None
        return plan

    # -- steps ---------------------------------------------------------------

    def _creator(self, body, wait):
        return self.create_step(body, lambda: self.find_by_name(body["name"]), "node pool %s" % body["name"],
                                wait=wait, before=lambda: self.cluster_stable(self.cluster))

    def _deleter(self, pool, replaced=False):
        def record():
            self.result.setdefault("replaced", []).append(
                {"name": pool.get("name"), "id": pool["id"], "flavor": pool.get("flavor")})
        path = self.item_path(pool["id"])
        return self.delete_step(path, self.fetcher(path), KUBE_NODEPOOL, pool.get("name"), missing_ok=True,
                                deleted=record if replaced else None)


def main():
    OvhKubeNodepool().main()


if __name__ == "__main__":
    main()
