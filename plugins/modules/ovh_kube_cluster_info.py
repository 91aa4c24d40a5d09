#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_kube_cluster_info
short_description: List the OVHcloud Managed Kubernetes clusters of a project
version_added: 0.1.0
description:
  - Returns the Managed Kubernetes clusters of a Public Cloud project, all of them or the one named.
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
  name:
    description:
      - Only the clusters with this name, or the cluster with this ID.
    type: str
seealso:
  - module: keikolatam.gitops.ovh_kube_cluster
  - module: keikolatam.gitops.ovh_kube_nodepool_info
"""

EXAMPLES = r"""
- name: All clusters of the project
  keikolatam.gitops.ovh_kube_cluster_info:
    service_name: "{{ ovh_project_id }}"
  register: kube

- name: One cluster
  keikolatam.gitops.ovh_kube_cluster_info:
    name: keiko-staging
  register: staging

- name: Fail early when the cluster is not ready
  ansible.builtin.assert:
    that: staging.clusters | length == 1 and staging.clusters[0].phase == 'ready'
"""

RETURN = r"""
clusters:
  description: The clusters, as the API returns them (camelCase keys), sorted by name, each with C(phase).
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
      sample: ready
  sample:
    - id: 5b3f4c9e-7a2c-4a26-8a1f-3b8b2a1c0d11
      name: keiko-staging
      region: GRA11
      version: "1.29"
      status: READY
      updatePolicy: MINIMAL_DOWNTIME
      kubeProxyMode: iptables
      url: xxxxxx.c1.gra11.k8s.ovh.net
      nextUpgradeVersions: ["1.30"]
      phase: ready
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
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import KUBE_CLUSTER


class OvhKubeClusterInfo(KubeModule):
    waits = False
    argument_spec = dict(name=dict(type="str"))

    def run(self):
        ref = self.params["name"]
        clusters = [dict(c, phase=KUBE_CLUSTER.phase(c)) for c in self.list_clusters()
                    if ref is None or ref in (c.get("name"), c.get("id"))]
        self.result["clusters"] = sorted(clusters, key=lambda c: (c.get("name") or "", c.get("id") or ""))


def main():
    OvhKubeClusterInfo().main()


if __name__ == "__main__":
    main()
