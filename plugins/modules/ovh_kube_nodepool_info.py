#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_kube_nodepool_info
short_description: List the node pools of an OVHcloud Managed Kubernetes cluster, with their nodes
version_added: 0.1.0
description:
  - Returns the node pools of a Managed Kubernetes cluster, each with its nodes.
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh
  - keikolatam.gitops.ovh.project
  - keikolatam.gitops.ovh.kube_cluster
attributes:
  check_mode:
    description: Can run in check mode and return the changed status prediction without modifying the target.
    support: full
    details: The module changes nothing.
options:
  name:
    description:
      - Only this pool, and the pools named C(<name>-r<N>) that M(keikolatam.gitops.ovh_kube_nodepool) created to
        replace it.
    type: str
  nodes:
    description:
      - Read the nodes of each pool (one request per pool).
    type: bool
    default: true
seealso:
  - module: keikolatam.gitops.ovh_kube_nodepool
  - module: keikolatam.gitops.ovh_kube_cluster_info
"""

EXAMPLES = r"""
- name: The pools of the cluster and their nodes
  keikolatam.gitops.ovh_kube_nodepool_info:
    service_name: "{{ ovh_project_id }}"
    cluster: keiko-staging
  register: pools

- name: Every node of the apps pool is ready
  ansible.builtin.assert:
    that: >-
      pools.nodepools | selectattr('name', 'match', '^apps(-r[0-9]+)?$') | map(attribute='nodes') | flatten
      | rejectattr('phase', 'eq', 'ready') | list | length == 0
"""

RETURN = r"""
nodepools:
  description: The node pools, as the API returns them (camelCase keys), sorted by name, each with C(phase)
    and C(nodes).
  returned: always
  type: list
  elements: dict
  contains:
    phase:
      description:
        - What the status means, as the modules' waits read it (for example to show progress or to fail early).
        - V(ready) (C(READY)), V(error) (an error status, which fails a wait at once), V(gone) (C(DELETED)), or
          V(pending) (every other status, among them the transitional ones and values newer than the schema).
      type: str
      returned: always
      choices: [ready, pending, error, gone]
      sample: pending
    nodes:
      description: The nodes of the pool, as the API returns them, each with its C(phase) (as the pool's). Only
        with O(nodes=true).
      type: list
      elements: dict
      returned: when O(nodes=true)
      sample:
        - id: 3d8f2e10-5a6b-4c7d-8e9f-0a1b2c3d4e5f
          name: apps-node-3f2a1b
          flavor: b3-8
          status: READY
          version: "1.29.3-1"
          isUpToDate: true
          nodePoolId: 0f6e3a5e-2d7b-4c55-9a59-0e3c6b3f2a10
          instanceId: 8c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f
          phase: ready
  sample:
    - id: 0f6e3a5e-2d7b-4c55-9a59-0e3c6b3f2a10
      name: apps
      flavor: b3-8
      status: READY
      desiredNodes: 3
      currentNodes: 3
      minNodes: 3
      maxNodes: 8
      autoscale: true
      phase: ready
      nodes: []
cluster_id:
  description: The ID of the cluster.
  returned: always
  type: str
retries:
  description: How many API requests were retried (429, 5xx).
  returned: always
  type: int
failure:
  description: The API error (HTTP status, OVH error class, message, query id, method and path).
  returned: on an API failure
  type: dict
"""

import re

from ansible_collections.keikolatam.gitops.plugins.module_utils._kube import CLUSTER_ARGS, KubeModule
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import KUBE_NODE, KUBE_NODEPOOL


class OvhKubeNodepoolInfo(KubeModule):
    waits = False
    argument_spec = dict(
        CLUSTER_ARGS,
        name=dict(type="str"),
        nodes=dict(type="bool", default=True),
    )

    def run(self):
        cluster = self.require_cluster(self.params["cluster"])
        base = self.cluster_path(cluster["id"]) + "/nodepool"
        name = self.params["name"]
        pattern = re.compile(r"^%s(-r\d+)?$" % re.escape(name)) if name else None
        pools = [p for p in self.client.get(base) or [] if pattern is None or pattern.match(p.get("name") or "")]
        for pool in pools:
            pool["phase"] = KUBE_NODEPOOL.phase(pool)
            if self.params["nodes"]:
                pool["nodes"] = [dict(n, phase=KUBE_NODE.phase(n))
                                 for n in self.client.get("%s/%s/nodes" % (base, pool["id"])) or []]
        self.result["cluster_id"] = cluster["id"]
        self.result["nodepools"] = sorted(pools, key=lambda p: (p.get("name") or "", p.get("id") or ""))


def main():
    OvhKubeNodepoolInfo().main()


if __name__ == "__main__":
    main()
