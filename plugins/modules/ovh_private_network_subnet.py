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

from ansible_collections.keikolatam.gitops.plugins.module_utils._module import OvhModule, Plan


def subnet_region(subnet):
    pools = subnet.get("ipPools") or []
    return pools[0].get("region") if pools else None


class OvhPrivateNetworkSubnet(OvhModule):
    resource_key = "subnet"
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

    def resolve_network(self):
        return self.pick(self.client.get(self.base) or [], self.params["network"], "private network",
                         "%d private networks are named %r; use the ID.")

    def find(self, nid):
        for subnet in self.client.get("%s/%s/subnet" % (self.base, nid)) or []:
            if subnet.get("cidr") == self.params["cidr"] and subnet_region(subnet) == self.params["region"]:
                return subnet
        return None

    def region_active(self, net):
        region = self.params["region"]

        def ready(obj):
            return obj is not None and any(r.get("region") == region and r.get("status") == "ACTIVE"
                                           for r in obj.get("regions") or [])

        if ready(net) or not self.params["wait"]:
            return net
        return self.wait_for("until", lambda: self.client.get_or_none("%s/%s" % (self.base, net["id"])), ready,
                             "%s in %s" % (net.get("name"), region))

    def check_unchangeable(self, current):
        p = self.params
        pool = (current.get("ipPools") or [{}])[0]
        diffs = []
        if p["start"] is not None and pool.get("start") != self.pool[0]:
            diffs.append("start (%s)" % pool.get("start"))
        if p["end"] is not None and pool.get("end") != self.pool[1]:
            diffs.append("end (%s)" % pool.get("end"))
        if bool(current.get("dhcpEnabled")) != p["dhcp"]:
            diffs.append("dhcp (%s)" % current.get("dhcpEnabled"))
        if (current.get("gatewayIp") is None) != p["no_gateway"]:
            diffs.append("no_gateway (gateway %s)" % current.get("gatewayIp"))
        if diffs:
            self.fail("Subnet %s of %s cannot be updated: %s differ. Delete the subnet and create it again; nothing "
                      "was changed." % (p["cidr"], p["network"], ", ".join(diffs)))

    def run(self):
        p = self.params
        net = self.resolve_network()
        nid = net["id"]
        ids = dict((r.get("region"), r.get("openstackId")) for r in net.get("regions") or [])
        if p["state"] == "present" and p["region"] not in ids:
            known = ", ".join(sorted(ids)) or "none"
            self.fail("Private network %s does not exist in region %s (regions: %s); add the region with "
                      "keikolatam.gitops.ovh_private_network first." % (p["network"], p["region"], known))
        self.result.update(network_id=nid, openstack_id=ids.get(p["region"]))
        current = self.find(nid)
        path = "%s/%s/subnet" % (self.base, nid)
        if p["state"] == "absent":
            if current is None:
                return
            self.result["subnet"] = current
            summary = "delete subnet %s of %s in %s" % (p["cidr"], net.get("name"), p["region"])
            self.execute(self.plan_delete(current, summary, "%s/%s" % (path, current["id"])))
            return
        if current is not None:
            self.check_unchangeable(current)
            self.result["subnet"] = current
            return
        body = dict(network=p["cidr"], region=p["region"], start=self.pool[0], end=self.pool[1], dhcp=p["dhcp"],
                    noGateway=p["no_gateway"])
        plan = Plan(None)
        state = {}

        def do_create():
            self.region_active(net)
            state["subnet"] = self.create_or_adopt(path, body, lambda: self.find(nid), "subnet %s" % p["cidr"])

        gateway = None if p["no_gateway"] else str(ipaddress.ip_network(p["cidr"]).network_address + 1)
        plan.add("create subnet %s of %s in %s" % (p["cidr"], net.get("name"), p["region"]), do_create, after=dict(
            cidr=p["cidr"], dhcpEnabled=p["dhcp"], gatewayIp=gateway,
            ipPools=[dict(network=p["cidr"], region=p["region"], start=self.pool[0], end=self.pool[1],
                          dhcp=p["dhcp"])]))
        self.result["subnet"] = state["subnet"] if self.execute(plan) else plan.after


def main():
    OvhPrivateNetworkSubnet().main()


if __name__ == "__main__":
    main()
