#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_database_database
short_description: Manage a database inside an OVHcloud managed PostgreSQL service
version_added: 0.1.0
description:
  - Create or delete a database (the SQL C(CREATE DATABASE) kind) in a managed database service.
  - A database has nothing to update; it exists or it does not.
  - A create that answers 500 although the database was created is adopted, never duplicated.
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh
  - keikolatam.gitops.ovh.project
  - keikolatam.gitops.ovh.wait
  - keikolatam.gitops.ovh_database
  - keikolatam.gitops.ovh.attributes
attributes:
  check_mode:
    details: Returns the predicted database.
options:
  name:
    description:
      - The database name.
    type: str
    required: true
  state:
    description:
      - Whether the database exists. The default database of a service (C(defaultdb)) cannot be deleted.
    type: str
    choices: [present, absent]
    default: present
notes:
  - O(wait) applies to the service; a database is only created once the service is C(READY).
seealso:
  - module: keikolatam.gitops.ovh_database
  - module: keikolatam.gitops.ovh_database_connection_pool
"""

EXAMPLES = r"""
- name: One database per service of the platform
  keikolatam.gitops.ovh_database_database:
    service_name: "{{ ovh_project_id }}"
    service: keiko-production
    name: "{{ item }}"
  loop: [identity, learning, reputation, passport, governance, marketplace]
"""

RETURN = r"""
database:
  description: The database, as the API returns it (C(cloud.project.database.service.Database)).
  returned: when the database exists, is created, or is deleted
  type: dict
  sample: {"id": "0c1f...", "name": "identity", "default": false}
actions:
  description: What the task did (or, in check mode, would do), in words.
  returned: changed
  type: list
  elements: str
adopted:
  description: True when the create answered an error but the database was created anyway, and was adopted.
  returned: when a database was adopted
  type: bool
waited:
  description: How long the task waited for the service, and its last status.
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

from ansible_collections.keikolatam.gitops.plugins.module_utils._database import (
    OvhDatabaseChildModule,
    check_identifier,
)
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import Plan


class OvhDatabaseDatabase(OvhDatabaseChildModule):
    resource_key = "database"
    what = "database"
    kind = "database"
    argument_spec = dict(
        OvhDatabaseChildModule.SERVICE_ARGS,
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )

    def validate(self):
        check_identifier(self, "name")

    def plan_create(self):
        name = self.params["name"]
        return Plan(None).add("create database %s" % name,
                              lambda: self.create_object(dict(name=name), "database %s" % name),
                              after=dict(name=name, default=False), creates=True)

    def plan_absent(self, current):
        if current is not None and current.get("default"):
            self.result["database"] = current
            self.fail("Database %s is the default database of the service; it cannot be deleted." % current["name"])
        return super(OvhDatabaseDatabase, self).plan_absent(current)


def main():
    OvhDatabaseDatabase().main()


if __name__ == "__main__":
    main()
