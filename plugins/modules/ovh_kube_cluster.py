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
import re

from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhApiError
from ansible_collections.keikolatam.gitops.plugins.module_utils._kube import (
    KubeModule,
    is_minor_version,
    minor_of,
)
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import (
    Immutable,
    Plan,
    changed_fields,
    drop_none,
    merge,
)
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import ERROR, KUBE_CLUSTER, WaitError

_DURATION_RE = re.compile(r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$")
_DURATION_OPTS = ("min_sync_period", "sync_period", "tcp_fin_timeout", "tcp_timeout", "udp_timeout")
RESET = "use action=reset to reinstall the cluster with it"
NETWORK_ID = ("the OpenStack ID of the private network in the region, openstack_ids of "
              "keikolatam.gitops.ovh_private_network, not its pn-... ID")
SUBNET_ID = "a subnet of the private network, as keikolatam.gitops.ovh_private_network_subnet returns it"
# Options that need the cluster to be on a private network.
NEEDS_NETWORK = ("nodes_subnet_id", "load_balancers_subnet_id", "private_network_configuration")


def _not_reset(module):
    return module.params["action"] != "reset"


def _camel(name):
    words = name.split("_")
    return words[0] + "".join(w.capitalize() for w in words[1:])


def _duration_seconds(text):
    match = _DURATION_RE.match(text or "")
    if not match or text in ("P", "PT"):
        return None
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def _comparable(value):
    """Durations as seconds and string lists sorted, so PT1M equals PT60S and order does not count."""
    if isinstance(value, dict):
        return dict((k, _comparable(v)) for k, v in value.items())
    if isinstance(value, list):
        return sorted(_comparable(v) for v in value) if all(isinstance(v, str) for v in value) else value
    if isinstance(value, str):
        seconds = _duration_seconds(value)
        return seconds if seconds is not None else value
    return value


def customization_body(opt):
    """The API's customization object from the option (only the parts that are set)."""
    if opt is None:
        return None
    out = {}
    api = (opt.get("api_server") or {}).get("admission_plugins")
    if api is not None:
        out["apiServer"] = {"admissionPlugins": drop_none({"enabled": api.get("enabled"),
                                                           "disabled": api.get("disabled")})}
    proxy = opt.get("kube_proxy") or {}
    kp = {}
    for mode in ("iptables", "ipvs"):
        if proxy.get(mode) is not None:
            kp[mode] = drop_none(dict((_camel(k), v) for k, v in proxy[mode].items()))
    if kp:
        out["kubeProxy"] = kp
    return out


class OvhKubeCluster(KubeModule):
    resource_key = "cluster"
    what = "Kubernetes cluster"
    model = KUBE_CLUSTER
    return_deleted = False
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

    # -- input ---------------------------------------------------------------

    def validate(self):
        p = self.params
        if p["version"] is not None and not is_minor_version(p["version"]):
            self.fail("version must be a Kubernetes minor version MAJOR.MINOR, such as 1.29 (got %r); "
                      "the patch level is chosen by OVH (see upgrade=latest_patch)." % p["version"])
        if p["state"] == "absent" and (p["action"] or p["upgrade"]):
            self.fail("action and upgrade need state=present.")
        if p["worker_nodes_policy"] and p["action"] != "reset":
            self.fail("worker_nodes_policy only applies with action=reset.")
        if p["action"] == "reset" and p["upgrade"]:
            self.fail("upgrade and action=reset cannot be combined: a reset takes the version to install.")
        pnc = p["private_network_configuration"] or {}
        gateway = pnc.get("default_vrack_gateway")
        if gateway:
            try:
                ipaddress.ip_address(gateway)
            except ValueError:
                self.fail("private_network_configuration.default_vrack_gateway must be an IP address, not %r."
                          % gateway)
        plugins = ((p["customization"] or {}).get("api_server") or {}).get("admission_plugins") or {}
        both = sorted(set(plugins.get("enabled") or []) & set(plugins.get("disabled") or []))
        if both:
            self.fail("customization.api_server.admission_plugins: a plugin cannot be both enabled and disabled: %s."
                      % ", ".join(both))
        proxy = (p["customization"] or {}).get("kube_proxy") or {}
        for mode in ("iptables", "ipvs"):
            for key in _DURATION_OPTS:
                value = (proxy.get(mode) or {}).get(key)
                if value is not None and _duration_seconds(value) is None:
                    self.fail("customization.kube_proxy.%s.%s must be an RFC 3339 duration such as PT60S, not %r."
                              % (mode, key, value))

    def desired(self):
        """The API fields the user set (None = leave alone)."""
        p = self.params
        pnc = p["private_network_configuration"]
        return {
            "name": p["name"],
            "region": p["region"],
            "version": p["version"],
            "updatePolicy": p["update_policy"],
            "kubeProxyMode": p["kube_proxy_mode"],
            "privateNetworkId": p["private_network_id"],
            "nodesSubnetId": p["nodes_subnet_id"],
            "loadBalancersSubnetId": p["load_balancers_subnet_id"],
            "customization": customization_body(p["customization"]),
            "privateNetworkConfiguration": drop_none({
                "defaultVrackGateway": pnc.get("default_vrack_gateway"),
                "privateNetworkRoutingAsDefault": pnc.get("private_network_routing_as_default"),
            }) if pnc is not None else None,
        }

    # -- lookups and the API's rules ---------------------------------------------

    def find(self):
        return self.find_own(self.list_clusters,
                             get=lambda cid: self.client.get_or_none(self.cluster_path(cid)), gone=("DELETED",))

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
            offered = self.offered_versions()
            if offered is not None and p["version"] not in offered:
                self.fail("Kubernetes %s is not offered (versions: %s)." % (p["version"], ", ".join(offered)))
        plugins = ((p["customization"] or {}).get("api_server") or {}).get("admission_plugins") or {}
        asked = sorted(set((plugins.get("enabled") or []) + (plugins.get("disabled") or [])))
        if asked:
            known = sorted(self.client.get(self.capabilities_path + "/admissionplugins") or [])
            unknown = [x for x in asked if x not in known]
            if unknown:
                self.fail("%s is not an admission plugin of Managed Kubernetes (plugins: %s)."
                          % (", ".join(unknown), ", ".join(known)))
        policy = p["update_policy"] or (current or {}).get("updatePolicy")
        upgrading = (versions and versions[1] > versions[0]) or self.patch_wanted(current)
        if current is not None and upgrading and policy == "NEVER_UPDATE" and p["action"] != "reset":
            self.fail("Kubernetes cluster %s refuses version updates with the update policy NEVER_UPDATE: set "
                      "update_policy to MINIMAL_DOWNTIME or ALWAYS_UPDATE (in the same task) to upgrade it." % name)

    def check_version(self, current):
        """(the cluster's minor, the asked minor) of an existing cluster; fails on a downgrade."""
        want = self.params["version"]
        if want is None or current is None:
            return None
        have = minor_of(current.get("version"))
        target = minor_of(want)
        if have is None:
            self.fail("Cannot read the version %r of Kubernetes cluster %s."
                      % (current.get("version"), self.label(current)))
        if target[0] != have[0] and target > have:
            self.fail("version %s changes the major version of the cluster's %s: not supported."
                      % (want, current.get("version")))
        if target < have:
            self.fail("version %s is older than the cluster's %s: a downgrade is refused (Kubernetes clusters "
                      "cannot be downgraded; create a new cluster instead)." % (want, current.get("version")))
        return have, target

    def patch_wanted(self, current):
        if current is None or self.params["upgrade"] != "latest_patch":
            return False
        behind = current.get("isUpToDate") is False or current.get("controlPlaneIsUpToDate") is False
        return behind or self.params["force"]

    # -- plans -----------------------------------------------------------------

    def plan_create(self):
        body = drop_none(self.desired())
        return Plan(None).add("create cluster %s in %s" % (body["name"], body["region"]),
                              lambda: self._create(body), after=dict(body, id=None, status="INSTALLING"),
                              creates=True)

    def _create(self, body):
        created = self.create_or_adopt(self.kube_path, body, lambda: self.find_cluster(body["name"]),
                                       "cluster %s" % body["name"])
        if self.params["wait"]:
            self.wait_created(created["id"], body["name"])
        return created

    def plan_update(self, current):
        p = self.params
        want = self.desired()
        cid = current["id"]
        plan = Plan(current)
        if p["action"] == "reset":
            return self.plan_reset(current, plan)
        versions = self.check_version(current)
        if p["id"] and want["name"] != current.get("name"):
            plan.add("rename cluster %s to %s" % (current.get("name"), want["name"]),
                     lambda: self.put(cid, {"name": want["name"]}), patch={"name": want["name"]})
        if want["updatePolicy"] and want["updatePolicy"] != current.get("updatePolicy"):
            plan.add("set update policy %s" % want["updatePolicy"],
                     lambda: self.put(cid, {"updatePolicy": want["updatePolicy"]}, "/updatePolicy"),
                     patch={"updatePolicy": want["updatePolicy"]})
        if want["customization"]:
            have = current.get("customization") or {}
            if changed_fields(_comparable(have), _comparable(want["customization"])):
                body = merge(have, want["customization"])
                plan.add("update customization", lambda: self.put(cid, body, "/customization"),
                         patch={"customization": body})
        if want["privateNetworkConfiguration"]:
            have = current.get("privateNetworkConfiguration") or {}
            if changed_fields(have, want["privateNetworkConfiguration"]):
                body = merge({"defaultVrackGateway": "", "privateNetworkRoutingAsDefault": False}, have)
                body = merge(body, want["privateNetworkConfiguration"])
                plan.add("update private network configuration",
                         lambda: self.put(cid, body, "/privateNetworkConfiguration"),
                         patch={"privateNetworkConfiguration": body})
        lb = want["loadBalancersSubnetId"]
        if lb and lb != current.get("loadBalancersSubnetId"):
            plan.add("set load balancers subnet %s" % lb,
                     lambda: self.put(cid, {"loadBalancersSubnetId": lb}, "/updateLoadBalancersSubnetId"),
                     patch={"loadBalancersSubnetId": lb})
        if versions and versions[1] > versions[0]:
            have, target = versions
            for minor in range(have[1] + 1, target[1] + 1):
                step_to = "%d.%d" % (have[0], minor)
                plan.add("update version %d.%d -> %s (NEXT_MINOR)" % (have[0], minor - 1, step_to),
                         self._next_minor_step(cid, (have[0], minor)), patch={"version": step_to})
        if self.patch_wanted(current):
            plan.add("update to the latest patch (LATEST_PATCH%s)" % (", force" if p["force"] else ""),
                     lambda: self._latest_patch(cid), patch={"isUpToDate": True, "controlPlaneIsUpToDate": True})
        if p["action"] == "restart":
            plan.add("restart the API server%s" % (" (force)" if p["force"] else ""),
                     lambda: self._action(cid, "/restart", {"force": p["force"]}))
        return plan

    def plan_reset(self, current, plan):
        body = drop_none(dict(self.desired(), region=None, workerNodesPolicy=self.params["worker_nodes_policy"]))
        if not self.params["id"]:
            body.pop("name", None)
        predicted = dict((k, v) for k, v in body.items() if k != "workerNodesPolicy")
        return plan.add("reset the cluster (worker nodes: %s)" % (self.params["worker_nodes_policy"] or "delete"),
                        lambda: self._action(current["id"], "/reset", body), patch=predicted)

    def plan_absent(self, current):
        if current is None:
            return Plan(None)
        cid = current["id"]
        return self.plan_delete(current, "delete cluster %s" % current.get("name"), self.cluster_path(cid),
                                self.cluster_fetcher(cid), KUBE_CLUSTER, self.label(current), missing_ok=True)

    # -- steps -----------------------------------------------------------------

    def _action(self, cid, suffix, body):
        self.when_stable(cid, lambda: self.post_action(self.cluster_path(cid) + suffix, body, cid))

    def _post_update(self, cid, body):
        try:
            self.post_action(self.cluster_path(cid) + "/update", body, cid)
        except OvhApiError as exc:
            if exc.is_conflict and "NEVER_UPDATE" in (exc.message or ""):
                self.fail("Kubernetes cluster %s refuses version updates with the update policy NEVER_UPDATE: set "
                          "update_policy to MINIMAL_DOWNTIME or ALWAYS_UPDATE (in the same task) to upgrade it. "
                          "API answer: %s" % (self.label(), exc), exc=exc)
            raise

    def _next_minor_step(self, cid, step_target):
        def run():
            self.when_stable(cid, lambda: None)
            if minor_of(self.client.get(self.cluster_path(cid)).get("version")) >= step_target:
                return  # already there (an earlier answer was lost but the update was applied)
            self._post_update(cid, {"strategy": "NEXT_MINOR"})
            self._wait_version(cid, step_target)
        return run

    def _wait_version(self, cid, target):
        """Wait until the cluster is READY on ``target`` (the wait between two minor steps)."""
        def reached(obj):
            status = KUBE_CLUSTER.status_of(obj)
            if obj is not None and KUBE_CLUSTER.classify(status) == ERROR:
                raise WaitError("Kubernetes cluster %s is in error status %s during the update to %d.%d" % (
                    self.label(), status, target[0], target[1]), last_status=status, obj=obj)
            return status == "READY" and (minor_of(obj.get("version")) or (0, 0)) >= target

        self.waiter.until(self.cluster_fetcher(cid), reached, self.label(), describe=KUBE_CLUSTER.status_of)
        self._record_wait()

    def _latest_patch(self, cid):
        body = {"strategy": "LATEST_PATCH", "force": self.params["force"]}
        self.when_stable(cid, lambda: self._post_update(cid, body))


def main():
    OvhKubeCluster().main()


if __name__ == "__main__":
    main()
