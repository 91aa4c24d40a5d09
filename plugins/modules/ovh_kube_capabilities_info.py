#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_kube_capabilities_info
short_description: What OVHcloud Managed Kubernetes offers to a project (regions, versions, flavors)
version_added: 0.1.0
description:
  - Returns the regions, the Kubernetes versions, the node flavors and the admission plugins that Managed
    Kubernetes offers, so that a playbook can check its input before it creates anything.
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh
  - keikolatam.gitops.ovh.project
attributes:
  check_mode:
    description: Can run in check mode and return the changed status prediction without modifying the target.
    support: full
    details: The module changes nothing.
options:
  region:
    description:
      - Only the flavors of this region (C(GET .../capabilities/kube/flavors?region=)).
      - A region that is not a Managed Kubernetes region of the project fails, with RV(regions) in the result.
    type: str
  cluster:
    description:
      - Only the flavors that this cluster (name or ID) can use (C(GET .../kube/{kubeId}/flavors)), instead of
        the region's.
    type: str
  versions:
    description:
      - Read the installable versions. They are the values of C(cloud.kube.VersionEnum) in the API's own
        schema (C(GET /cloud.json) on the endpoint, about 3 MB), which no other route lists.
      - When the endpoint does not serve its schema, RV(versions) is V(null) and a warning says so.
    type: bool
    default: true
seealso:
  - module: keikolatam.gitops.ovh_kube_cluster
  - module: keikolatam.gitops.ovh_kube_nodepool
"""

EXAMPLES = r"""
- name: What can be created in GRA11
  keikolatam.gitops.ovh_kube_capabilities_info:
    service_name: "{{ ovh_project_id }}"
    region: GRA11
  register: caps

- name: Check the inventory against it
  ansible.builtin.assert:
    that:
      - kube_region in caps.regions
      - kube_version in caps.versions
      - kube_pools | map(attribute='flavor') | difference(caps.flavors | map(attribute='name')) | length == 0
    fail_msg: The inventory asks for a region, version or flavor that OVH does not offer.
"""

RETURN = r"""
regions:
  description: The regions where a cluster can be created.
  returned: always, also when O(region) is not one of them
  type: list
  elements: str
  sample: [GRA11, GRA9, SBG5, BHS5, WAW1, DE1, UK1]
versions:
  description: The Kubernetes minor versions a cluster can be created with, oldest first.
  returned: always
  type: list
  elements: str
  sample: ["1.27", "1.28", "1.29"]
flavors:
  description:
    - The node flavors (of O(region), or of O(cluster), or of every region), as the API returns them.
      Only those in the V(available) state.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: b3-8, category: b, state: available, vCPUs: 2, ram: 8, gpus: 0}
unavailable_flavors:
  description: The names of the flavors the API lists as V(unavailable).
  returned: always
  type: list
  elements: str
  sample: [t2-45]
admission_plugins:
  description: The API server admission plugins that a cluster customization may enable or disable.
  returned: always
  type: list
  elements: str
  sample: [AlwaysPullImages, NodeRestriction]
retries:
  description: How many API requests were retried (429, 5xx).
  returned: always
  type: int
failure:
  description: The API error (HTTP status, OVH error class, message, query id, method and path).
  returned: on an API failure
  type: dict
"""

from ansible_collections.keikolatam.gitops.plugins.module_utils._kube import KubeModule


class OvhKubeCapabilitiesInfo(KubeModule):
    waits = False
    argument_spec = dict(
        region=dict(type="str"),
        cluster=dict(type="str"),
        versions=dict(type="bool", default=True),
    )
    module_kwargs = dict(mutually_exclusive=[("region", "cluster")])

    def run(self):
        caps = self.capabilities_path
        self.result["regions"] = self.regions()
        if self.params["region"]:
            self.require_region(self.params["region"], self.result["regions"])
        self.result["admission_plugins"] = sorted(self.client.get(caps + "/admissionplugins") or [])
        if self.params["cluster"]:
            cluster = self.require_cluster(self.params["cluster"])
            flavors = self.client.get(self.cluster_path(cluster["id"]) + "/flavors")
        else:
            flavors = self.client.get(caps + "/flavors", region=self.params["region"])
        flavors = flavors or []
        self.result["flavors"] = sorted((f for f in flavors if f.get("state", "available") == "available"),
                                        key=lambda f: f.get("name") or "")
        self.result["unavailable_flavors"] = sorted(
            f.get("name") for f in flavors if f.get("state", "available") != "available")
        self.result["versions"] = self.offered_versions() if self.params["versions"] else None


def main():
    OvhKubeCapabilitiesInfo().main()


if __name__ == "__main__":
    main()
