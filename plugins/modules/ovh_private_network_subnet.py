#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_private_network_subnet
short_description: Manage a subnet of an OVHcloud Public Cloud private network
version_added: 0.1.0
description:
  - Create or delete the subnet of a private network in one region.
  - The subnet is identified by its network, its region and its CIDR. The API cannot change a subnet; a
    different allocation pool, DHCP or gateway setting fails before anything is written (delete the subnet
    and create it again).
  - Returns the subnet's ID and the network's OpenStack ID in the region, which is what
    M(keikolatam.gitops.ovh_kube_cluster) and M(keikolatam.gitops.ovh_database) take.
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh
  - keikolatam.gitops.ovh.project
  - keikolatam.gitops.ovh.wait
  - keikolatam.gitops.ovh.attributes
attributes:
  check_mode:
    details: Returns the predicted subnet.
options:
  network:
    description:
      - The private network, by ID (C(pn-...)) or by name.
    type: str
    required: true
    aliases: [network_id]
  region:
    description:
      - The region of the subnet; the network must exist there.
    type: str
    required: true
  cidr:
    description:
      - The subnet (C(10.42.0.0/16)).
    type: str
    required: true
  start:
    description:
      - The first address of the allocation pool. Unset means the third address of O(cidr) (after the
        network address and the gateway).
    type: str
  end:
    description:
      - The last address of the allocation pool. Unset means the last usable address of O(cidr).
    type: str
  dhcp:
    description:
      - Whether the subnet has DHCP.
    type: bool
    default: true
  no_gateway:
    description:
      - True for a subnet without a default gateway.
    type: bool
    default: false
  state:
    description:
      - Whether the subnet exists. A subnet used by a Kubernetes cluster cannot be deleted (the API refuses).
    type: str
    choices: [present, absent]
    default: present
notes:
  - O(wait) applies to the network; the subnet is created once the network is active in O(region).
seealso:
  - module: keikolatam.gitops.ovh_private_network
"""

EXAMPLES = r"""
- name: The subnet of the production network in GRA7
  keikolatam.gitops.ovh_private_network_subnet:
    service_name: "{{ ovh_project_id }}"
    network: keiko-production
    region: GRA7
    cidr: 10.42.0.0/16
  register: subnet

- name: Kubernetes nodes on it
  keikolatam.gitops.ovh_kube_cluster:
    service_name: "{{ ovh_project_id }}"
    name: keiko-production
    region: GRA7
    private_network_id: "{{ subnet.openstack_id }}"
    nodes_subnet_id: "{{ subnet.subnet.id }}"
"""

RETURN = r"""
subnet:
  description:
    - The subnet, as the API returns it (C(cloud.network.Subnet)). In check mode, the predicted subnet.
      With O(state=absent), the subnet as it was before its deletion.
  returned: when the subnet exists, is created, or is deleted
  type: dict
  sample:
    id: 3f2e1d0c-9b8a-4c7d-8e6f-5a4b3c2d1e0f
    cidr: 10.42.0.0/16
    dhcpEnabled: true
    gatewayIp: 10.42.0.1
    ipPools:
      - network: 10.42.0.0/16
        region: GRA7
        start: 10.42.0.2
        end: 10.42.255.254
        dhcp: true
network_id:
  description: The ID of the private network (C(pn-...)).
  returned: always
  type: str
openstack_id:
  description: The OpenStack ID of the network in O(region) (null in check mode for a region being created).
  returned: always
  type: str
actions:
  description: What the task did (or, in check mode, would do), in words.
  returned: changed
  type: list
  elements: str
adopted:
  description: True when the create answered an error but the subnet was created anyway, and was adopted.
  returned: when a subnet was adopted
  type: bool
waited:
  description: How long the task waited for the network, and its last status.
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

import ipaddress

from ansible_collections.keikolatam.gitops.plugins.module_utils._module import Immutable, OvhModule, Plan

RECREATE = "delete the subnet and create it again"


def subnet_region(subnet):
    pools = subnet.get("ipPools") or []
    return pools[0].get("region") if pools else None


def _pool(subnet, key):
    return ((subnet.get("ipPools") or [{}])[0]).get(key)


class OvhPrivateNetworkSubnet(OvhModule):
    resource_key = "subnet"
    what = "subnet"
    name_option = name_field = "cidr"
    immutable = (
        Immutable("start", lambda s: _pool(s, "start"), RECREATE,
                  value=lambda m: m.pool[0] if m.params["start"] is not None else None),
        Immutable("end", lambda s: _pool(s, "end"), RECREATE,
                  value=lambda m: m.pool[1] if m.params["end"] is not None else None),
        Immutable("dhcp", "dhcpEnabled", RECREATE, same=lambda have, want: bool(have) == want),
        Immutable("no_gateway", lambda s: s.get("gatewayIp") is None, RECREATE),
    )
    argument_spec = dict(
        network=dict(type="str", required=True, aliases=["network_id"]),
        region=dict(type="str", required=True),
        cidr=dict(type="str", required=True),
        start=dict(type="str"),
        end=dict(type="str"),
        dhcp=dict(type="bool", default=True),
        no_gateway=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )

    def validate(self):
        p = self.params
        try:
            net = ipaddress.ip_network(p["cidr"], strict=False)
        except ValueError:
            self.fail("cidr must be an IP network such as 10.42.0.0/16, got %r." % p["cidr"])
        if net.num_addresses < 8:
            self.fail("cidr %s is too small for a subnet." % net)
        p["cidr"] = str(net)
        for name in ("start", "end"):
            if p[name] is not None:
                try:
                    addr = ipaddress.ip_address(p[name])
                except ValueError:
                    self.fail("%s must be an IP address, got %r." % (name, p[name]))
                if addr not in net:
                    self.fail("%s %s is not in %s." % (name, addr, net))
        start = ipaddress.ip_address(p["start"]) if p["start"] else net.network_address + 2
        end = ipaddress.ip_address(p["end"]) if p["end"] else net.broadcast_address - 1
        if int(start) > int(end):
            self.fail("start %s is after end %s." % (start, end))
        self.pool = (str(start), str(end))

    @property
    def base(self):
        return "%s/network/private" % self.project_path

    def prepare(self):
        p = self.params
        self.network = self.resolve(p["network"], "private network", "network",
                                    lambda: self.client.get(self.base) or [])
        ids = dict((r.get("region"), r.get("openstackId")) for r in self.network.get("regions") or [])
        if p["state"] == "present" and p["region"] not in ids:
            self.fail("Private network %s does not exist in region %s (regions: %s); add the region with "
                      "keikolatam.gitops.ovh_private_network first."
                      % (p["network"], p["region"], ", ".join(sorted(ids)) or "none"))
        self.result.update(network_id=self.network["id"], openstack_id=ids.get(p["region"]))

    @property
    def subnets_path(self):
        return "%s/%s/subnet" % (self.base, self.network["id"])

    def find(self):
        p = self.params
        self.subnets = [s for s in self.client.get(self.subnets_path) or [] if subnet_region(s) == p["region"]]
        return next((s for s in self.subnets if s.get("cidr") == p["cidr"]), None)

    def preflight(self, current):
        if current is not None or self.params["state"] == "absent":
            return
        net = ipaddress.ip_network(self.params["cidr"])
        for other in self.subnets:
            if other.get("cidr") and net.overlaps(ipaddress.ip_network(other["cidr"])):
                self.fail("%s overlaps subnet %s of private network %s in %s." % (
                    net, other["cidr"], self.network.get("name"), self.params["region"]))

    def region_active(self):
        region = self.params["region"]

        def ready(obj):
            return obj is not None and any(r.get("region") == region and r.get("status") == "ACTIVE"
                                           for r in obj.get("regions") or [])

        if ready(self.network) or not self.params["wait"]:
            return self.network
        return self.wait_for("until", self.fetcher("%s/%s" % (self.base, self.network["id"])), ready,
                             "%s in %s" % (self.network.get("name"), region))

    def plan_create(self):
        p = self.params
        body = dict(network=p["cidr"], region=p["region"], start=self.pool[0], end=self.pool[1], dhcp=p["dhcp"],
                    noGateway=p["no_gateway"])

        def create():
            self.region_active()
            return self.create_or_adopt(self.subnets_path, body, self.find, "subnet %s" % p["cidr"])

        gateway = None if p["no_gateway"] else str(ipaddress.ip_network(p["cidr"]).network_address + 1)
        return Plan(None).add("create subnet %s of %s in %s" % (p["cidr"], self.network.get("name"), p["region"]),
                              create, creates=True, after=dict(
                                  cidr=p["cidr"], dhcpEnabled=p["dhcp"], gatewayIp=gateway,
                                  ipPools=[dict(network=p["cidr"], region=p["region"], start=self.pool[0],
                                                end=self.pool[1], dhcp=p["dhcp"])]))

    def plan_absent(self, current):
        if current is None:
            return Plan(None)
        return self.plan_delete(current, "delete subnet %s of %s in %s" % (
            self.params["cidr"], self.network.get("name"), self.params["region"]),
            "%s/%s" % (self.subnets_path, current["id"]))


def main():
    OvhPrivateNetworkSubnet().main()


if __name__ == "__main__":
    main()
