#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_database_info
short_description: Read OVHcloud managed database services, their endpoints, CA certificate, users and databases
version_added: 0.1.0
description:
  - List the managed database services of a Public Cloud project (one, or all of an engine), with their
    endpoints and, on request, their CA certificate, users, databases, connection pools and advanced
    configuration.
  - Never changes anything; passwords are never returned (the API does not show them after creation).
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
  service:
    description:
      - Only this service, by ID or by description. Unset means every service of O(engine).
      - Its former name C(cluster) is an alias.
    type: str
    aliases: [service_id, cluster, cluster_id]
  engine:
    description:
      - The engine of the services to list.
    type: str
    choices: [postgresql]
    default: postgresql
  include:
    description:
      - What to read for each service, besides the service itself (each costs requests).
    type: list
    elements: str
    choices: [certificates, users, databases, connection_pools, advanced_configuration]
    default: [certificates, users, databases, connection_pools]
seealso:
  - module: keikolatam.gitops.ovh_database
"""

EXAMPLES = r"""
- name: Endpoints and CA of the production service, for the applications' configuration
  keikolatam.gitops.ovh_database_info:
    service_name: "{{ ovh_project_id }}"
    service: keiko-production
    include: [certificates]
  register: pg_info

- name: The primary endpoint
  ansible.builtin.set_fact:
    pg_endpoint: "{{ pg_info.services[0].service.endpoints | selectattr('component', 'equalto', 'postgresql') | first }}"
    pg_ca: "{{ pg_info.services[0].certificates.ca }}"
"""

RETURN = r"""
services:
  description: One entry per service, sorted by description.
  returned: always
  type: list
  elements: dict
  contains:
    service:
      description: The service, as the API returns it (C(cloud.project.database.Service)), with C(endpoints).
      type: dict
      returned: always
    phase:
      description:
        - What the status means, as the modules' waits read it (for example to show progress or to fail early).
        - V(ready) (C(READY)), V(error) (an error status such as C(ERROR) or C(LOCKED), which fails a wait at once), or
          V(pending) (every other status, among them the transitional ones and values newer than the schema).
      type: str
      returned: always
      choices: [ready, pending, error]
      sample: pending
    certificates:
      description: The service's certificates (C(ca), the CA certificate clients verify the server with).
      type: dict
      returned: when V(certificates) is in O(include)
      sample: {"ca": "-----BEGIN CERTIFICATE-----\n..."}
    users:
      description: The users (C(cloud.project.database.service.UserWithRoles)), without passwords.
      type: list
      elements: dict
      returned: when V(users) is in O(include)
    databases:
      description: The databases (C(cloud.project.database.service.Database)).
      type: list
      elements: dict
      returned: when V(databases) is in O(include)
    connection_pools:
      description: The connection pools (C(cloud.project.database.postgresql.ConnectionPool)).
      type: list
      elements: dict
      returned: when V(connection_pools) is in O(include)
    advanced_configuration:
      description: The advanced configuration (a string map).
      type: dict
      returned: when V(advanced_configuration) is in O(include)
retries:
  description: How many API requests were retried.
  returned: always
  type: int
failure:
  description: The API error that made the task fail.
  returned: failed on an API error
  type: dict
"""

from ansible_collections.keikolatam.gitops.plugins.module_utils._database import find_services, get_service
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import OvhModule, is_uuid
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import DATABASE


class OvhDatabaseInfo(OvhModule):
    waits = False
    argument_spec = dict(
        service=dict(type="str", aliases=["service_id", "cluster", "cluster_id"]),
        engine=dict(type="str", default="postgresql", choices=["postgresql"]),
        include=dict(type="list", elements="str", default=["certificates", "users", "databases", "connection_pools"],
                     choices=["certificates", "users", "databases", "connection_pools", "advanced_configuration"]),
    )

    def services(self):
        p = self.params
        ref = p["service"]
        if ref is None:
            return find_services(self.client, self.project_path, engine=p["engine"], include_going_away=True)
        svc = get_service(self.client, self.project_path, ref) if is_uuid(ref) else None
        if svc is not None:
            return [svc] if svc.get("engine") == p["engine"] else []
        return find_services(self.client, self.project_path, description=ref, engine=p["engine"],
                             include_going_away=True)

    def list_of(self, base, kind):
        out = []
        for oid in self.client.get("%s/%s" % (base, kind)) or []:
            obj = self.client.get_or_none("%s/%s/%s" % (base, kind, oid))
            if obj is not None:
                obj.pop("password", None)
                out.append(obj)
        return out

    def run(self):
        include = set(self.params["include"])
        out = []
        for svc in sorted(self.services(), key=lambda s: (s.get("description") or "", s.get("id"))):
            base = "%s/database/%s/%s" % (self.project_path, svc["engine"], svc["id"])
            entry = dict(service=svc, phase=DATABASE.phase(svc))
            if "certificates" in include:
                entry["certificates"] = self.client.get("%s/certificates" % base)
            if "users" in include:
                entry["users"] = self.list_of(base, "user")
            if "databases" in include:
                entry["databases"] = self.list_of(base, "database")
            if "connection_pools" in include:
                entry["connection_pools"] = self.list_of(base, "connectionPool")
            if "advanced_configuration" in include:
                entry["advanced_configuration"] = self.client.get("%s/advancedConfiguration" % base) or {}
            out.append(entry)
        self.result["services"] = out


def main():
    OvhDatabaseInfo().main()


if __name__ == "__main__":
    main()
