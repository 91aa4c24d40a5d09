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
    cluster: keiko-production
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

from ansible_collections.keikolatam.gitops.plugins.module_utils._database import OvhDatabaseChildModule
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import Plan


class OvhDatabaseConnectionPool(OvhDatabaseChildModule):
    resource_key = "connection_pool"
    argument_spec = dict(
        OvhDatabaseChildModule.CLUSTER_ARGS,
        name=dict(type="str", required=True),
        database=dict(type="str"),
        user=dict(type="str"),
        mode=dict(type="str", choices=["session", "transaction", "statement"]),
        size=dict(type="int"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )

    def validate(self):
        if self.params["size"] is not None and self.params["size"] < 1:
            self.fail("size must be at least 1.")

    def find(self):
        return self.find_object("connectionPool")

    def resolve(self, kind, ref, field):
        """A database or user of the service, by ID or by name."""
        objects = self.list_objects(kind)
        for obj in objects:
            if obj.get("id") == ref:
                return obj["id"]
        matches = [o for o in objects if o.get(field) == ref]
        if not matches:
            self.fail("No %s %r in database service %s." % (kind, ref, self.cluster.get("description")))
        return matches[0]["id"]

    def desired(self):
        p = self.params
        want = {}
        if p["database"] is not None:
            want["databaseId"] = self.resolve("database", p["database"], "name")
        if p["user"] is not None:
            want["userId"] = self.resolve("user", p["user"], "username") if p["user"] else None
        if p["mode"] is not None:
            want["mode"] = p["mode"]
        if p["size"] is not None:
            want["size"] = p["size"]
        return want

    def pool_path(self, pool_id):
        return self.child_path("connectionPool", pool_id)

    def present(self, current):
        p = self.params
        want = self.desired()
        if current is None:
            missing = [o for o in ("database", "mode", "size") if p[o] is None]
            if missing:
                self.fail("To create connection pool %s, set %s." % (p["name"], ", ".join(missing)))
            body = dict(name=p["name"], databaseId=want["databaseId"], mode=want["mode"], size=want["size"])
            if want.get("userId"):
                body["userId"] = want["userId"]
            plan = Plan(None)
            state = {}

            def do_create():
                state["pool"] = self.create_object("connectionPool", body, "connection pool %s" % p["name"])

            plan.add("create connection pool %s" % p["name"], do_create, after=dict(body, userId=body.get("userId")))
            self.result["connection_pool"] = state["pool"] if self.execute(plan) else plan.after
            return
        changes = dict((k, v) for k, v in want.items() if current.get(k) != v)
        plan = Plan(current)
        if changes:
            body = dict(databaseId=current.get("databaseId"), mode=current.get("mode"), size=current.get("size"),
                        userId=current.get("userId"))
            body.update(changes)

            def do_update():
                self.wait_cluster_ready()
                self.client.put(self.pool_path(current["id"]), body)

            plan.add("update connection pool %s: %s" % (p["name"], ", ".join(sorted(changes))), do_update,
                     patch=changes)
        if self.execute(plan):
            self.result["connection_pool"] = self.client.get(self.pool_path(current["id"]))
        else:
            self.result["connection_pool"] = plan.after

    def absent(self, current):
        if current is None:
            return
        self.result["connection_pool"] = current
        self.execute(self.plan_delete_object(current, "connectionPool",
                                             "delete connection pool %s" % self.params["name"]))


def main():
    OvhDatabaseConnectionPool().main()


if __name__ == "__main__":
    main()
