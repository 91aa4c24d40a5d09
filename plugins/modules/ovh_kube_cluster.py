#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_kube_cluster
short_description: Manage an OVHcloud Managed Kubernetes cluster
version_added: 0.1.0
description:
  - Create, update, upgrade and delete a Managed Kubernetes Service (MKS) cluster of a Public Cloud project.
  - Changes are applied in place where the API allows it (the name and the update policy, the
    customization (API server admission plugins, kube-proxy tuning), the private network
    configuration and the load balancers subnet).
  - The region, the kube-proxy mode, the private network and the nodes subnet cannot be updated in place;
    a difference fails before any write. The private network, the nodes subnet and the kube-proxy mode
    can be changed by a reset (O(action=reset)), which reinstalls the cluster.
  - A newer O(version) upgrades the cluster one minor version at a time (C(NEXT_MINOR)), waiting until it
    is ready after each step. A downgrade is refused before anything is sent.
  - Node pools are managed with M(keikolatam.gitops.ovh_kube_nodepool).
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh
  - keikolatam.gitops.ovh.project
  - keikolatam.gitops.ovh.wait
  - keikolatam.gitops.ovh.attributes
attributes:
  check_mode:
    details: Returns the predicted cluster. The actions O(action=reset) and O(action=restart) are reported as changes.
options:
  name:
    description:
      - The cluster name. Identifies the cluster unless O(id) is set; two clusters with this name are an error.
      - With O(id), a different name renames the cluster.
    type: str
    required: true
  id:
    description:
      - The cluster ID. Use it to rename a cluster or to pick one of two clusters with the same name.
      - The cluster must exist; a cluster cannot be created with a given ID.
    type: str
  state:
    description:
      - V(present) creates or updates the cluster, V(absent) deletes it (and its node pools).
    type: str
    choices: [present, absent]
    default: present
  region:
    description:
      - The OpenStack region, for example V(GRA11). Required to create the cluster; cannot be updated.
      - M(keikolatam.gitops.ovh_kube_capabilities_info) lists the regions.
    type: str
  version:
    description:
      - The Kubernetes minor version, C(MAJOR.MINOR) (for example V(1.29)). The patch level is OVH's.
      - A newer minor than the cluster's runs one C(NEXT_MINOR) update per minor, with a wait after each one
        (whatever O(wait) says). An older one is refused before any request is sent.
      - Unset means the API's default at creation and leave the version alone afterwards.
    type: str
  update_policy:
    description:
      - When OVH may apply patch updates. V(NEVER_UPDATE) also makes the API refuse the version updates of
        this module; set V(MINIMAL_DOWNTIME) or V(ALWAYS_UPDATE) in the same task to upgrade.
    type: str
    choices: [ALWAYS_UPDATE, MINIMAL_DOWNTIME, NEVER_UPDATE]
  kube_proxy_mode:
    description:
      - The kube-proxy mode. Set at creation; changing it needs O(action=reset).
    type: str
    choices: [iptables, ipvs]
  customization:
    description:
      - The cluster customization. Only the parts that are set are compared and changed; the others keep
        their values. Durations are RFC 3339 durations (for example V(PT60S)).
    type: dict
    suboptions:
      api_server:
        description: API server customization.
        type: dict
        suboptions:
          admission_plugins:
            description: Admission plugins.
            type: dict
            suboptions:
              enabled:
                description: Plugins to enable, for example V(AlwaysPullImages), V(NodeRestriction).
                type: list
                elements: str
              disabled:
                description: Plugins to disable.
                type: list
                elements: str
      kube_proxy:
        description: kube-proxy customization.
        type: dict
        suboptions:
          iptables:
            description: Settings of the iptables mode.
            type: dict
            suboptions:
              min_sync_period:
                description: Minimum period between two refreshes of the rules.
                type: str
              sync_period:
                description: Period of the refreshes of the rules.
                type: str
          ipvs:
            description: Settings of the ipvs mode.
            type: dict
            suboptions:
              min_sync_period:
                description: Minimum period between two refreshes of the rules.
                type: str
              sync_period:
                description: Period of the refreshes of the rules.
                type: str
              scheduler:
                description: The ipvs scheduler.
                type: str
                choices: [dh, lc, nq, rr, sed, sh]
              tcp_fin_timeout:
                description: Timeout of TCP sessions after a FIN.
                type: str
              tcp_timeout:
                description: Timeout of idle TCP sessions.
                type: str
              udp_timeout:
                description: Timeout of UDP packets.
                type: str
  private_network_id:
    description:
      - The OpenStack ID of the private network (vRack) the nodes attach to. Set at creation; changing it
        needs O(action=reset).
    type: str
  nodes_subnet_id:
    description:
      - The OpenStack subnet ID the nodes use. Set at creation; changing it needs O(action=reset).
    type: str
  load_balancers_subnet_id:
    description:
      - The OpenStack subnet ID the load balancers use. Updated in place.
    type: str
  private_network_configuration:
    description:
      - How the nodes use the private network. Updated in place.
    type: dict
    suboptions:
      default_vrack_gateway:
        description:
          - An IP address of the private network that all egress traffic is routed to. An empty string
            removes it.
        type: str
      private_network_routing_as_default:
        description:
          - Route through the nodes' private interface by default instead of the public one.
        type: bool
  upgrade:
    description:
      - V(latest_patch) applies the latest patch of the current minor version (C(LATEST_PATCH)) when the
        cluster is not up to date. With O(force=true) it is sent on every run (not idempotent).
    type: str
    choices: [latest_patch]
  force:
    description:
      - With O(upgrade), redeploy the control plane and reinstall the nodes even when they are up to date.
      - With O(action=restart), restart the API server even when that causes a short downtime.
    type: bool
    default: false
  action:
    description:
      - An explicit action on an existing cluster. B(Not idempotent:) the action runs on every run, and is
        reported as a change.
      - V(reset) reinstalls the cluster (C(POST .../reset)). Its worker nodes are deleted or reinstalled
        (O(worker_nodes_policy)). The options that are set (O(version), O(update_policy), O(kube_proxy_mode),
        O(customization), O(private_network_id), O(nodes_subnet_id), O(load_balancers_subnet_id),
        O(private_network_configuration), and O(name) with O(id)) are sent with the reset; this is how the
        fields that cannot be updated in place are changed.
      - V(restart) restarts the API server (C(POST .../restart)) after the other changes of the task.
    type: str
    choices: [reset, restart]
  worker_nodes_policy:
    description:
      - With O(action=reset), what happens to the worker nodes. The API's default is V(delete).
    type: str
    choices: [delete, reinstall]
notes:
  - After a create answered a 5xx or timed out, the module looks the object up for ten times O(wait_sleep)
    (at most 30 seconds) and adopts it when it was created; otherwise it sends the create again (twice at most).
  - The cluster is looked up by name among the project's clusters (one request per cluster).
  - Version updates, resets and restarts are POSTs that the client never resends after a 5xx or a timeout
    unless the cluster shows that they were not applied.
seealso:
  - module: keikolatam.gitops.ovh_kube_cluster_info
  - module: keikolatam.gitops.ovh_kube_nodepool
  - module: keikolatam.gitops.ovh_kube_kubeconfig
  - module: keikolatam.gitops.ovh_kube_capabilities_info
"""

EXAMPLES = r"""
- name: A subnet for the nodes on a private network
  keikolatam.gitops.ovh_private_network_subnet:
    service_name: "{{ ovh_project_id }}"
    network: keiko-staging
    region: GRA11
    cidr: 10.0.0.0/16
  register: subnet

- name: Create a cluster in GRA11 on that private network
  keikolatam.gitops.ovh_kube_cluster:
    service_name: "{{ ovh_project_id }}"
    name: keiko-staging
    region: GRA11
    version: "1.29"
    update_policy: MINIMAL_DOWNTIME
    kube_proxy_mode: ipvs
    private_network_id: "{{ subnet.openstack_id }}"
    nodes_subnet_id: "{{ subnet.subnet.id }}"
    private_network_configuration:
      default_vrack_gateway: 10.0.0.1
      private_network_routing_as_default: true
    customization:
      api_server:
        admission_plugins:
          enabled: [NodeRestriction, AlwaysPullImages]
      kube_proxy:
        ipvs:
          scheduler: rr
          sync_period: PT30S
  register: kube

- name: Upgrade to 1.30, one minor version at a time
  keikolatam.gitops.ovh_kube_cluster:
    name: keiko-staging
    version: "1.30"
    update_policy: MINIMAL_DOWNTIME

- name: Apply the latest patch release of the current minor version
  keikolatam.gitops.ovh_kube_cluster:
    name: keiko-staging
    upgrade: latest_patch

- name: Restart the API server (runs every time)
  keikolatam.gitops.ovh_kube_cluster:
    name: keiko-staging
    action: restart

- name: Reset the cluster onto another subnet, reinstalling the nodes (runs every time)
  keikolatam.gitops.ovh_kube_cluster:
    name: keiko-staging
    action: reset
    worker_nodes_policy: reinstall
    nodes_subnet_id: "{{ new_subnet.subnet.id }}"

- name: Delete the cluster
  keikolatam.gitops.ovh_kube_cluster:
    name: keiko-staging
    state: absent
"""

RETURN = r"""
cluster:
  description:
    - The cluster as the API returns it after the changes (camelCase keys), or the predicted cluster in
      check mode. Absent when the cluster does not exist or was deleted.
  returned: when the cluster exists
  type: dict
  sample:
    id: 5b3f4c9e-7a2c-4a26-8a1f-3b8b2a1c0d11
    name: keiko-staging
    region: GRA11
    version: "1.29"
    status: READY
    updatePolicy: MINIMAL_DOWNTIME
    kubeProxyMode: ipvs
    url: xxxxxx.c1.gra11.k8s.ovh.net
    nodesUrl: xxxxxx.nodes.c1.gra11.k8s.ovh.net
    isUpToDate: true
    controlPlaneIsUpToDate: true
    nextUpgradeVersions: ["1.30"]
    privateNetworkId: null
    nodesSubnetId: null
    loadBalancersSubnetId: null
    privateNetworkConfiguration: null
    customization: {}
    createdAt: "2024-06-01T12:00:00Z"
    updatedAt: "2024-06-01T12:05:00Z"
actions:
  description: What the module did (or would do in check mode), in order, in words.
  returned: when changed
  type: list
  elements: str
  sample: ["update version 1.27 -> 1.28 (NEXT_MINOR)", "update version 1.28 -> 1.29 (NEXT_MINOR)"]
waited:
  description: How long the module waited for the cluster, in seconds, and the last status it read.
  returned: when the module waited
  type: dict
  sample: {seconds: 312.4, status: READY}
adopted:
  description:
    - True when the create answered an error but the cluster had been created, and was taken over.
  returned: when a cluster was adopted
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

import ipaddress

from ansible_collections.keikolatam.gitops.plugins.module_utils._kube import (
    NEVER_UPDATE,
    KubeModule,
    admission_plugins,
    check_customization,
    comparable,
    customization_body,
    is_minor_version,
)
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import (
    Immutable,
    Plan,
    camel_keys,
    changed_fields,
    drop_none,
    merge,
)
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import KUBE_CLUSTER

RESET = "use action=reset to reinstall the cluster with it"
NETWORK_ID = ("the OpenStack ID of the private network in the region, openstack_ids of "
              "keikolatam.gitops.ovh_private_network, not its pn-... ID")
SUBNET_ID = "a subnet of the private network, as keikolatam.gitops.ovh_private_network_subnet returns it"
# The options sent as they are (as camelCase fields), at creation, in place or with a reset.
FIELDS = ("name", "region", "version", "update_policy", "kube_proxy_mode", "private_network_id", "nodes_subnet_id",
          "load_balancers_subnet_id")
# Options that need the cluster to be on a private network.
NEEDS_NETWORK = ("nodes_subnet_id", "load_balancers_subnet_id", "private_network_configuration")


def _not_reset(module):
    return module.params["action"] != "reset"


class OvhKubeCluster(KubeModule):
    resource_key = "cluster"
    what = "Kubernetes cluster"
    model = KUBE_CLUSTER
    return_deleted = False
    noun = "cluster"
    delete_missing_ok = True
    not_empty = ("name",)
    uuid_options = {"id": "the cluster's ID", "private_network_id": NETWORK_ID, "nodes_subnet_id": SUBNET_ID,
                    "load_balancers_subnet_id": SUBNET_ID}
    immutable = (
        Immutable("region", "region", "recreate the cluster"),
        Immutable("kube_proxy_mode", "kubeProxyMode", RESET, applies=_not_reset),
        Immutable("private_network_id", "privateNetworkId", RESET, applies=_not_reset),
        Immutable("nodes_subnet_id", "nodesSubnetId", RESET, applies=_not_reset),
    )
    argument_spec = dict(
        name=dict(type="str", required=True),
        id=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        region=dict(type="str"),
        version=dict(type="str"),
        update_policy=dict(type="str", choices=["ALWAYS_UPDATE", "MINIMAL_DOWNTIME", "NEVER_UPDATE"]),
        kube_proxy_mode=dict(type="str", choices=["iptables", "ipvs"]),
        customization=dict(type="dict", options=dict(
            api_server=dict(type="dict", options=dict(
                admission_plugins=dict(type="dict", options=dict(
                    enabled=dict(type="list", elements="str"),
                    disabled=dict(type="list", elements="str"),
                )),
            )),
            kube_proxy=dict(type="dict", options=dict(
                iptables=dict(type="dict", options=dict(
                    min_sync_period=dict(type="str"),
                    sync_period=dict(type="str"),
                )),
                ipvs=dict(type="dict", options=dict(
                    min_sync_period=dict(type="str"),
                    sync_period=dict(type="str"),
                    scheduler=dict(type="str", choices=["dh", "lc", "nq", "rr", "sed", "sh"]),
                    tcp_fin_timeout=dict(type="str"),
                    tcp_timeout=dict(type="str"),
                    udp_timeout=dict(type="str"),
                )),
            )),
        )),
        private_network_id=dict(type="str"),
        nodes_subnet_id=dict(type="str"),
        load_balancers_subnet_id=dict(type="str"),
        private_network_configuration=dict(type="dict", options=dict(
            default_vrack_gateway=dict(type="str"),
            private_network_routing_as_default=dict(type="bool"),
        )),
        upgrade=dict(type="str", choices=["latest_patch"]),
        force=dict(type="bool", default=False),
        action=dict(type="str", choices=["reset", "restart"]),
        worker_nodes_policy=dict(type="str", choices=["delete", "reinstall"]),
    )
    refused = (
        (lambda p: p["state"] == "absent" and (p["action"] or p["upgrade"]), "action and upgrade need state=present."),
        (lambda p: p["worker_nodes_policy"] and p["action"] != "reset",
         "worker_nodes_policy only applies with action=reset."),
        (lambda p: p["action"] == "reset" and p["upgrade"],
         "upgrade and action=reset cannot be combined: a reset takes the version to install."),
    )

    # -- input ---------------------------------------------------------------

    def validate(self):
        p = self.params
        if p["version"] is not None and not is_minor_version(p["version"]):
            self.fail("version must be a Kubernetes minor version MAJOR.MINOR, such as 1.29 (got %r); "
                      "the patch level is chosen by OVH (see upgrade=latest_patch)." % p["version"])
        self.check_refused()
        gateway = (p["private_network_configuration"] or {}).get("default_vrack_gateway")
        if gateway:
            try:
                ipaddress.ip_address(gateway)
            except ValueError:
                self.fail("private_network_configuration.default_vrack_gateway must be an IP address, not %r."
                          % gateway)
        check_customization(self, p["customization"])

    def desired(self):
        """The API fields the user set (None = leave alone)."""
        p = self.params
        pnc = p["private_network_configuration"]
        return dict(self.fields(FIELDS), customization=customization_body(p["customization"]),
                    privateNetworkConfiguration=drop_none(camel_keys(pnc)) if pnc is not None else None)

    # -- lookups and the API's rules ---------------------------------------------

    def find(self):
        return self.find_own(self.list_clusters, get=self.get_cluster, gone=("DELETED",))

    def item_path(self, oid):
        return self.cluster_path(oid)

    def preflight(self, current):
        p = self.params
        name = self.label(current)
        if p["state"] == "absent":
            return
        if current is None:
            if not p["region"]:
                self.fail("region is required to create the Kubernetes cluster %s." % name)
            if p["action"]:
                self.fail("action=%s needs an existing cluster; Kubernetes cluster %s does not exist."
                          % (p["action"], name))
            self.require_region(p["region"])
        network = p["private_network_id"] or (current or {}).get("privateNetworkId")
        for opt in NEEDS_NETWORK:
            if p[opt] is not None and not network:
                self.fail("%s needs private_network_id: Kubernetes cluster %s has no private network." % (opt, name))
        versions = self.check_version(current)
        if p["version"] is not None and (versions is None or versions[1] > versions[0]):
            self.require_version(p["version"])
        plugins = admission_plugins(p["customization"])
        self.require_admission_plugins(sorted(set((plugins.get("enabled") or []) + (plugins.get("disabled") or []))))
        policy = p["update_policy"] or (current or {}).get("updatePolicy")
        upgrading = (versions and versions[1] > versions[0]) or self.patch_wanted(current)
        if current is not None and upgrading and policy == "NEVER_UPDATE" and p["action"] != "reset":
            self.fail(NEVER_UPDATE % name)

    # -- plans -----------------------------------------------------------------

    def plan_create(self):
        body = drop_none(self.desired())
        return Plan(None).add("create cluster %s in %s" % (body["name"], body["region"]), self.create_step(
            body, lambda: self.find_cluster(body["name"]), "cluster %s" % body["name"], path=self.kube_path,
            wait=self.params["wait"]), after=dict(body, id=None, status="INSTALLING"), creates=True)

    def plan_update(self, current):
        p = self.params
        want = self.desired()
        cid = current["id"]
        plan = Plan(current)
        if p["action"] == "reset":
            return self.plan_reset(current, plan)
        if p["id"] and want["name"] != current.get("name"):
            self.plan_put(plan, cid, {"name": want["name"]},
                          "rename cluster %s to %s" % (current.get("name"), want["name"]))
        policy = want["updatePolicy"]
        if policy and policy != current.get("updatePolicy"):
            self.plan_put(plan, cid, {"updatePolicy": policy}, "set update policy %s" % policy, "/updatePolicy")
        have = current.get("customization") or {}
        if want["customization"] and changed_fields(comparable(have), comparable(want["customization"])):
            self.plan_put(plan, cid, merge(have, want["customization"]), "update customization", "/customization",
                          part="customization")
        have = current.get("privateNetworkConfiguration") or {}
        if want["privateNetworkConfiguration"] and changed_fields(have, want["privateNetworkConfiguration"]):
            body = merge(merge({"defaultVrackGateway": "", "privateNetworkRoutingAsDefault": False}, have),
                         want["privateNetworkConfiguration"])
            self.plan_put(plan, cid, body, "update private network configuration", "/privateNetworkConfiguration",
                          part="privateNetworkConfiguration")
        lb = want["loadBalancersSubnetId"]
        if lb and lb != current.get("loadBalancersSubnetId"):
            self.plan_put(plan, cid, {"loadBalancersSubnetId": lb}, "set load balancers subnet %s" % lb,
                          "/updateLoadBalancersSubnetId")
        self.plan_upgrade(plan, current, self.check_version(current))
        if p["action"] == "restart":
            plan.add("restart the API server%s" % (" (force)" if p["force"] else ""),
                     self.action_step(cid, "/restart", {"force": p["force"]}))
        return plan

    def plan_reset(self, current, plan):
        body = drop_none(dict(self.desired(), region=None, workerNodesPolicy=self.params["worker_nodes_policy"]))
        if not self.params["id"]:
            body.pop("name", None)
        predicted = dict((k, v) for k, v in body.items() if k != "workerNodesPolicy")
        return plan.add("reset the cluster (worker nodes: %s)" % (self.params["worker_nodes_policy"] or "delete"),
                        self.action_step(current["id"], "/reset", body), patch=predicted)


def main():
    OvhKubeCluster().main()


if __name__ == "__main__":
    main()
