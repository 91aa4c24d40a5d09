#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_private_network
short_description: Manage an OVHcloud Public Cloud private network (vRack)
version_added: 0.1.0
description:
  - Create, rename, extend to more regions, or delete a private network of a Public Cloud project.
  - The network is identified by O(name), or by O(id) (which allows renaming it).
  - Regions are added in place; a region cannot be removed and the VLAN ID cannot change (the task fails
    before anything is written).
  - Returns, per region, the OpenStack ID of the network, which is the value that
    M(keikolatam.gitops.ovh_kube_cluster) (private network) and M(keikolatam.gitops.ovh_database)
    (O(keikolatam.gitops.ovh_database#module:network_id)) take.
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh
  - keikolatam.gitops.ovh.project
  - keikolatam.gitops.ovh.wait
  - keikolatam.gitops.ovh.attributes
attributes:
  check_mode:
    details: Returns the predicted network; the OpenStack IDs of new regions are null.
options:
  name:
    description:
      - The network name. Required unless O(id) is set. With O(id), a different value renames the network.
    type: str
  id:
    description:
      - The ID of an existing network (C(pn-<vrack>_<vlan>)).
    type: str
  regions:
    description:
      - The OpenStack regions the network exists in (V(GRA7), V(GRA9), V(SBG5)...). Missing regions are
        added; a region cannot be removed.
      - Unset at creation means every region of the project (the API's default).
    type: list
    elements: str
  vlan_id:
    description:
      - The VLAN ID (0 to 4000; 0 means no VLAN). Unset at creation lets the API choose one. Cannot change.
    type: int
  state:
    description:
      - Whether the network exists. A network used by a Kubernetes cluster or a database cannot be deleted
        (the API refuses).
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: keikolatam.gitops.ovh_private_network_subnet
  - module: keikolatam.gitops.ovh_kube_cluster
  - module: keikolatam.gitops.ovh_database
"""

EXAMPLES = r"""
- name: The private network of the production environment
  keikolatam.gitops.ovh_private_network:
    service_name: "{{ ovh_project_id }}"
    name: keiko-production
    regions: [GRA7]
    vlan_id: 42
  register: network

- name: Its subnet
  keikolatam.gitops.ovh_private_network_subnet:
    service_name: "{{ ovh_project_id }}"
    network: "{{ network.network.id }}"
    region: GRA7
    cidr: 10.42.0.0/16
  register: subnet

- name: A database on it
  keikolatam.gitops.ovh_database:
    service_name: "{{ ovh_project_id }}"
    description: keiko-production
    plan: business
    flavor: db1-7
    version: "17"
    nodes: 2
    region: GRA
    network_id: "{{ network.openstack_ids.GRA7 }}"
    subnet_id: "{{ subnet.subnet.id }}"
"""

RETURN = r"""
network:
  description:
    - The network, as the API returns it (C(cloud.network.Network)). In check mode, the predicted network.
      With O(state=absent), the network as it was before its deletion.
  returned: when the network exists, is created, or is deleted
  type: dict
  sample:
    id: pn-1083678_42
    name: keiko-production
    vlanId: 42
    status: ACTIVE
    type: private
    regions:
      - region: GRA7
        status: ACTIVE
        openstackId: 8c5b5e1f-0e3a-4c1d-9b7a-6f2e1d0c9b8a
openstack_ids:
  description: The OpenStack ID of the network in each of its regions (unknown ones are null in check mode).
  returned: when O(state=present)
  type: dict
  sample: {"GRA7": "8c5b5e1f-0e3a-4c1d-9b7a-6f2e1d0c9b8a"}
actions:
  description: What the task did (or, in check mode, would do), in words.
  returned: changed
  type: list
  elements: str
adopted:
  description: True when the create answered an error but the network was created anyway, and was adopted.
  returned: when a network was adopted
  type: bool
waited:
  description: How long the task waited, and the last status seen.
  returned: when the task waited
  type: dict
retries:
  description: How many API requests were retried.
  returned: always
  type: int
failure:
  description: The API error that made the task fail.
  returned: failed on an API error
  type: dict
"""

import re

from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhAmbiguousWrite
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import CREATE_RESEND, Immutable, OvhModule, Plan
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import (
    PRIVATE_NETWORK,
    PRIVATE_NETWORK_REGION,
    READY,
)

ID_RE = re.compile(r"^pn-[A-Za-z0-9]+_\d+$")


def all_active(net):
    return PRIVATE_NETWORK.phase(net) == READY and all(
        PRIVATE_NETWORK_REGION.classify(r.get("status")) == READY for r in net.get("regions") or [])


def describe(net):
    if net is None:
        return None
    regions = ", ".join("%s %s" % (r.get("region"), r.get("status")) for r in net.get("regions") or [])
    return "%s (%s)" % (net.get("status"), regions)


def openstack_ids(net):
    return dict((r.get("region"), r.get("openstackId")) for r in (net or {}).get("regions") or [])


class OvhPrivateNetwork(OvhModule):
    resource_key = "network"
    what = "private network"
    model = PRIVATE_NETWORK
    not_empty = ("name",)
    immutable = (Immutable("vlan_id", "vlanId", "create a new network with it"),)
    argument_spec = dict(
        name=dict(type="str"),
        id=dict(type="str"),
        regions=dict(type="list", elements="str"),
        vlan_id=dict(type="int"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module_kwargs = dict(required_one_of=[["name", "id"]])

    def validate(self):
        p = self.params
        if p["vlan_id"] is not None and not 0 <= p["vlan_id"] <= 4000:
            self.fail("vlan_id must be between 0 and 4000, got %d." % p["vlan_id"])
        if p["id"] is not None and not ID_RE.match(p["id"]):
            self.fail("id must be a private network ID (pn-<vRack>_<VLAN ID>, as the network's id), not %r." % p["id"])

    @property
    def collection_path(self):
        return "%s/network/private" % self.project_path

    def find(self):
        self.networks = self.client.get(self.collection_path) or []
        return self.find_own(self.networks, get=lambda nid: self.client.get_or_none(self.item_path(nid)),
                             gone=("DELETING",))

    def preflight(self, current):
        """Regions of the project only; a region cannot be removed; a VLAN ID used by another network is taken."""
        p = self.params
        if p["state"] == "absent":
            return
        if p["regions"]:
            known = self.client.get("%s/region" % self.project_path) or []
            for region in p["regions"]:
                if region not in known:
                    self.fail("%s is not a region of project %s (regions: %s)."
                              % (region, p["service_name"], ", ".join(sorted(known))))
        if current is None:
            other = next((n for n in self.networks if p["vlan_id"] is not None and n.get("vlanId") == p["vlan_id"]),
                         None)
            if other is not None:
                self.fail("vlan_id %d is used by private network %s (%s) of project %s."
                          % (p["vlan_id"], other.get("name"), other.get("id"), p["service_name"]))
        elif p["regions"] is not None:
            extra = sorted(set(r.get("region") for r in current.get("regions") or []) - set(p["regions"]))
            if extra:
                self.fail("Private network %s cannot leave regions %s (the API cannot remove a region); delete "
                          "the network and create it again. Nothing was changed."
                          % (current.get("name"), ", ".join(extra)))

    def plan_create(self):
        p = self.params
        body = dict(name=p["name"])
        if p["regions"] is not None:
            body["regions"] = list(dict.fromkeys(p["regions"]))
        if p["vlan_id"] is not None:
            body["vlanId"] = p["vlan_id"]
        return Plan(None).add("create private network %s" % p["name"], lambda: self.create_or_adopt(
            self.collection_path, body, self.find, "private network %s" % p["name"]), creates=True, after=dict(
                name=p["name"], vlanId=p["vlan_id"], status="BUILDING", type="private",
                regions=[dict(region=r, status="BUILDING", openstackId=None) for r in body.get("regions", [])]))

    def plan_update(self, current):
        p = self.params
        name = current.get("name")
        nid = current["id"]
        plan = Plan(current)
        if p["id"] and p["name"] and p["name"] != name:
            plan.add("rename private network %s to %s" % (name, p["name"]),
                     lambda: self.client.put(self.item_path(nid), dict(name=p["name"])), patch=dict(name=p["name"]))
        have = [r.get("region") for r in current.get("regions") or []]
        for region in [r for r in dict.fromkeys(p["regions"] or []) if r not in have]:
            plan.add("add region %s to private network %s" % (region, name),
                     lambda region=region: self.add_region(nid, region),
                     patch=dict(regions=(plan.after.get("regions") or []) + [
                         dict(region=region, status="BUILDING", openstackId=None)]))
        return plan

    def read_back(self, obj, created=False):
        """The network read again; with O(wait), once it is active in every region."""
        if not self.params["wait"]:
            return self.client.get(self.item_path(obj["id"]))
        net = self.waiter.until(self.fetcher(self.item_path(obj["id"])), all_active, self.label(obj),
                                describe=describe)
        self._record_wait()
        return net

    def decorate(self, obj):
        return {"openstack_ids": openstack_ids(obj)}

    def add_region(self, nid, region):
        """POST the region; after a 5xx or a timeout, resend only if the region did not appear."""
        sent = 0
        while True:
            sent += 1
            try:
                return self.client.post(self.item_path(nid) + "/region", dict(region=region))
            except OvhAmbiguousWrite:
                if region in openstack_ids(self.client.get(self.item_path(nid))):
                    return None
                if sent > CREATE_RESEND:
                    raise


def main():
    OvhPrivateNetwork().main()


if __name__ == "__main__":
    main()
