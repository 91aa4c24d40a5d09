#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_database_connection_pool
short_description: Manage a PgBouncer connection pool of an OVHcloud managed PostgreSQL service
version_added: 0.1.0
description:
  - Create, change or delete a connection pool (PgBouncer) of a managed PostgreSQL service.
  - The database, the user, the mode and the size change in place; the name cannot change.
  - While the service still provisions, the API can refuse a create with
    C(403 Service database '...' does not exist); the module waits for the service and retries within
    O(wait_timeout).
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
    details: Returns the predicted pool.
options:
  name:
    description:
      - The pool name (what clients use as the database name on the pool's port).
    type: str
    required: true
  database:
    description:
      - The database the pool connects to, by name or by ID. Required to create.
    type: str
  user:
    description:
      - The only user allowed through the pool, by name or by ID. Unset at creation means every user.
      - Unset on an existing pool leaves it as it is; an empty string allows every user again.
    type: str
  mode:
    description:
      - The pooling mode. Required to create.
    type: str
    choices: [session, transaction, statement]
  size:
    description:
      - The number of server connections of the pool. Required to create.
    type: int
  state:
    description:
      - Whether the pool exists.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: keikolatam.gitops.ovh_database_database
  - module: keikolatam.gitops.ovh_database_user
"""

EXAMPLES = r"""
- name: A transaction pool for the identity service
  keikolatam.gitops.ovh_database_connection_pool:
    service_name: "{{ ovh_project_id }}"
    service: keiko-production
    name: identity-pool
    database: identity
    user: identity_service
    mode: transaction
    size: 20
  register: pool

- name: The URI the application connects to
  ansible.builtin.debug:
    msg: "{{ pool.connection_pool.uri }}"
"""

RETURN = r"""
connection_pool:
  description: The pool, as the API returns it (C(cloud.project.database.postgresql.ConnectionPool)).
  returned: when the pool exists, is created, or is deleted
  type: dict
  sample:
    id: 6a1d4c2e-3b0f-4e51-9a7c-2d8e1f0a9b3c
    name: identity-pool
    databaseId: 0c1f8e34-51a2-4d6b-8a3e-7f9b0c2d1e4a
    userId: 2b1c1f50-92d2-4c64-b1f8-3f5e5b6a7d80
    mode: transaction
    size: 20
    port: 20185
    sslMode: require
    uri: postgres://postgresql-1f6f2a1c-o1a2b3c4d.database.cloud.ovh.net:20185/identity-pool?sslmode=require
actions:
  description: What the task did (or, in check mode, would do), in words.
  returned: changed
  type: list
  elements: str
adopted:
  description: True when the create answered an error but the pool was created anyway, and was adopted.
  returned: when a pool was adopted
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

# The number of server connections the API allows a pool.
SIZE_MAX = 10000


class OvhDatabaseConnectionPool(OvhDatabaseChildModule):
    resource_key = "connection_pool"
    what = "connection pool"
    kind = "connectionPool"
    argument_spec = dict(
        OvhDatabaseChildModule.SERVICE_ARGS,
        name=dict(type="str", required=True),
        database=dict(type="str"),
        user=dict(type="str"),
        mode=dict(type="str", choices=["session", "transaction", "statement"]),
        size=dict(type="int"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )

    def validate(self):
        check_identifier(self, "name")
        if self.params["size"] is not None and not 1 <= self.params["size"] <= SIZE_MAX:
            self.fail("size must be at least 1 and at most %d, not %d." % (SIZE_MAX, self.params["size"]))

    def preflight(self, current):
        """The database and the user named by the options must exist (their IDs are what the API takes)."""
        p = self.params
        if p["state"] == "absent":
            return
        if current is None:
            missing = [o for o in ("database", "mode", "size") if p[o] is None]
            if missing:
                self.fail("To create connection pool %s, set %s." % (p["name"], ", ".join(missing)))
        self.want = dict((k, v) for k, v in (("mode", p["mode"]), ("size", p["size"])) if v is not None)
        if p["database"] is not None:
            self.want["databaseId"] = self.resolve_id("database", p["database"], "name")
        if p["user"] is not None:
            self.want["userId"] = self.resolve_id("user", p["user"], "username") if p["user"] else None

    def resolve_id(self, kind, ref, field):
        """The ID of the service's database or user ``ref`` (its ID or name)."""
        objects = self.list_objects(kind)
        found = [o for o in objects if o.get("id") == ref] or [o for o in objects if o.get(field) == ref]
        if not found:
            self.fail("No %s %s in database service %s." % (kind, ref, self.service.get("description")))
        return found[0]["id"]

    def plan_create(self):
        p = self.params
        body = dict(name=p["name"], databaseId=self.want["databaseId"], mode=p["mode"], size=p["size"])
        if self.want.get("userId"):
            body["userId"] = self.want["userId"]
        return Plan(None).add("create connection pool %s" % p["name"],
                              lambda: self.create_object(body, "connection pool %s" % p["name"]),
                              after=dict(body, userId=body.get("userId")), creates=True)

    def plan_update(self, current):
        changes = dict((k, v) for k, v in self.want.items() if current.get(k) != v)
        plan = Plan(current)
        if changes:
            body = dict(databaseId=current.get("databaseId"), mode=current.get("mode"), size=current.get("size"),
                        userId=current.get("userId"))
            body.update(changes)

            def update():
                self.wait_service_ready()
                self.client.put(self.item_path(current["id"]), body)

            plan.add("update connection pool %s: %s" % (self.params["name"], ", ".join(sorted(changes))), update,
                     patch=changes)
        return plan


def main():
    OvhDatabaseConnectionPool().main()


if __name__ == "__main__":
    main()
