#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_database_backup_info
short_description: List the backups of an OVHcloud managed database service
version_added: 0.1.0
description:
  - List the backups of a managed database service, oldest first, and its point-in-time recovery window,
    what M(keikolatam.gitops.ovh_database) can fork a new service from (O(keikolatam.gitops.ovh_database#module:fork_from)).
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh
  - keikolatam.gitops.ovh.project
  - keikolatam.gitops.ovh_database
attributes:
  check_mode:
    description: Can run in check mode and return the changed status prediction without modifying the target.
    support: full
    details: The module changes nothing.
options:
  status:
    description:
      - Only the backups in these statuses (for example V(READY)). Unset means every backup.
    type: list
    elements: str
seealso:
  - module: keikolatam.gitops.ovh_database
"""

EXAMPLES = r"""
- name: The backups of the production service
  keikolatam.gitops.ovh_database_backup_info:
    service_name: "{{ ovh_project_id }}"
    service: keiko-production
    status: [READY]
  register: backups

- name: Restore the latest backup into a new service
  keikolatam.gitops.ovh_database:
    service_name: "{{ ovh_project_id }}"
    description: keiko-production-restore
    plan: business
    flavor: db1-7
    version: "17"
    nodes: 2
    region: GRA
    fork_from:
      service: "{{ backups.service_id }}"
      backup_id: "{{ (backups.backups | last).id }}"
"""

RETURN = r"""
backups:
  description: The backups (C(cloud.project.database.Backup)), oldest first.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 5d3c2b1a-0f9e-4d8c-b7a6-958473625140
      createdAt: "2025-01-31T02:00:00Z"
      description: automatic backup
      status: READY
      type: automatic
      region: GRA
      regions: [{"name": "GRA"}]
      size: {"unit": "B", "value": 104857600}
cluster_id:
  description: Deprecated, the same as RV(service_id) (its former name); it will be removed in a later release.
  returned: always
  type: str
service_id:
  description: The ID of the service the backups belong to. Its former name RV(cluster_id) is still returned.
  returned: always
  type: str
pitr:
  description:
    - The point-in-time recovery window, C(from) (the oldest restorable time) and C(until) (the latest, the
      service's C(backups.pitr)). A fork at a point in time must fall inside it.
  returned: always
  type: dict
  sample: {"from": "2025-01-24T02:00:00Z", "until": "2025-01-31T12:34:56Z"}
retries:
  description: How many API requests were retried.
  returned: always
  type: int
failure:
  description: The API error that made the task fail.
  returned: failed on an API error
  type: dict
"""

from ansible_collections.keikolatam.gitops.plugins.module_utils._database import OvhDatabaseChildModule


class OvhDatabaseBackupInfo(OvhDatabaseChildModule):
    waits = False
    argument_spec = dict(
        OvhDatabaseChildModule.SERVICE_ARGS,
        status=dict(type="list", elements="str"),
    )

    def run(self):
        self.prepare()
        wanted = set(self.params["status"]) if self.params["status"] is not None else None
        every = self.list_objects("backup")
        every.sort(key=lambda b: (b.get("createdAt") or "", b.get("id")))
        svc = self.service
        ready = sorted(b.get("createdAt") for b in every if b.get("status") == "READY" and b.get("createdAt"))
        self.result["backups"] = [b for b in every if wanted is None or b.get("status") in wanted]
        self.result["service_id"] = self.result["cluster_id"] = svc["id"]
        self.result["pitr"] = {"from": ready[0] if ready else None,
                               "until": (svc.get("backups") or {}).get("pitr")}


def main():
    OvhDatabaseBackupInfo().main()


if __name__ == "__main__":
    main()
