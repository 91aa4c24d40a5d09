#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_kube_iprestrictions
short_description: Manage the IP restrictions of an OVHcloud Managed Kubernetes API server
version_added: 0.1.0
description:
  - Sets which source networks may reach the API server of a Managed Kubernetes cluster.
  - A cluster without restrictions accepts every source.
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh
  - keikolatam.gitops.ovh.project
  - keikolatam.gitops.ovh.kube_cluster
  - keikolatam.gitops.ovh.wait
  - keikolatam.gitops.ovh.attributes
options:
  ips:
    description:
      - Networks in CIDR notation (V(203.0.113.0/24)); a bare address means a single host (V(/32) or V(/128)).
      - A network with host bits set (V(10.0.0.1/8)) is refused.
      - Required with O(state=present). With O(state=absent), the networks to remove; all of them when not set.
    type: list
    elements: str
  purge:
    description:
      - With O(state=present), remove the networks that are not in O(ips). With V(false), O(ips) are added to
        the existing ones.
    type: bool
    default: true
  state:
    description:
      - V(present) makes sure O(ips) are allowed, V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
notes:
  - O(state=present) writes the whole list with one C(PUT .../ipRestrictions); O(state=absent) removes each network
    with C(DELETE .../ipRestrictions/{ip}).
  - The module waits until the cluster is not busy before a change, and (with O(wait)) until it is ready again.
seealso:
  - module: keikolatam.gitops.ovh_kube_cluster
"""

EXAMPLES = r"""
- name: Only the office and the CI runners may reach the API server
  keikolatam.gitops.ovh_kube_iprestrictions:
    service_name: "{{ ovh_project_id }}"
    cluster: keiko-staging
    ips:
      - 203.0.113.0/24
      - 198.51.100.7

- name: Also allow a bastion, keeping the others
  keikolatam.gitops.ovh_kube_iprestrictions:
    cluster: keiko-staging
    ips: [192.0.2.10/32]
    purge: false

- name: Remove every restriction
  keikolatam.gitops.ovh_kube_iprestrictions:
    cluster: keiko-staging
    state: absent
"""

RETURN = r"""
ip_restrictions:
  description: The networks allowed after the change (or predicted in check mode). Empty means every source.
  returned: always
  type: list
  elements: str
  sample: ["203.0.113.0/24", "198.51.100.7/32"]
cluster_id:
  description: The ID of the cluster.
  returned: always
  type: str
actions:
  description: What the module did (or would do in check mode), in words.
  returned: when changed
  type: list
  elements: str
  sample: ["set IP restrictions 203.0.113.0/24, 198.51.100.7/32"]
waited:
  description: How long the module waited for the cluster, in seconds, and the last status it read.
  returned: when the module waited
  type: dict
  sample: {seconds: 12.0, status: READY}
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

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover - Python 2
    from urllib import quote

from ansible.module_utils.six import text_type

from ansible_collections.keikolatam.gitops.plugins.module_utils._kube import CLUSTER_ARGS, KubeModule
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import Plan


def normalize(cidr, strict=True):
    """``"198.51.100.7"`` -> ``"198.51.100.7/32"``; raises ValueError on a bad network."""
    return text_type(ipaddress.ip_network(text_type(cidr).strip(), strict=strict))


class OvhKubeIpRestrictions(KubeModule):
    resource_key = "ip_restrictions"
    composite = True
    what = "IP restrictions"
    argument_spec = dict(
        CLUSTER_ARGS,
        ips=dict(type="list", elements="str"),
        purge=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module_kwargs = dict(required_if=[("state", "present", ("ips",))])

    def validate(self):
        self.wanted = None
        if self.params["ips"] is None:
            return
        wanted = []
        for cidr in self.params["ips"]:
            try:
                net = normalize(cidr)
            except ValueError as exc:
                self.fail("ips: %r is not a network in CIDR notation: %s." % (cidr, exc))
            if net not in wanted:
                wanted.append(net)
        self.wanted = wanted

    def prepare(self):
        self.cluster = self.require_cluster(self.params["cluster"])
        self.result["cluster_id"] = self.cluster["id"]
        self.path = self.cluster_path(self.cluster["id"]) + "/ipRestrictions"

    def find(self):
        """The networks as the API lists them, normalized (``by_norm`` maps them back to the API's spelling)."""
        self.by_norm = dict((normalize(cidr, strict=False), cidr) for cidr in self.client.get(self.path) or [])
        return list(self.by_norm)

    def plan_present(self, current):
        plan = Plan({"ip_restrictions": current})
        target = list(self.wanted) if self.params["purge"] else current + [n for n in self.wanted if n not in current]
        if sorted(target) != sorted(current):
            plan.add("set IP restrictions %s" % (", ".join(target) or "(none)"),
                     lambda: self.cluster_write(self.cluster, lambda: self.client.put(self.path, {"ips": target})),
                     after={"ip_restrictions": target})
        return plan

    def plan_absent(self, current):
        plan = Plan({"ip_restrictions": current})
        removing = [n for n in current if self.wanted is None or n in self.wanted]
        if removing:
            plan.add("remove IP restrictions %s" % ", ".join(removing),
                     lambda: self.cluster_write(self.cluster, lambda: self._delete_each(removing)),
                     after={"ip_restrictions": [n for n in current if n not in removing]})
        return plan

    def read_back(self, obj, created=False):
        return [normalize(c, strict=False) for c in self.client.get(self.path) or []]

    def _delete_each(self, networks):
        for net in networks:
            self.delete_if_exists("%s/%s" % (self.path, quote(self.by_norm[net], safe="")))


def main():
    OvhKubeIpRestrictions().main()


if __name__ == "__main__":
    main()
