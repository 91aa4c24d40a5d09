#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_database_user
short_description: Manage a user of an OVHcloud managed PostgreSQL service
version_added: 0.1.0
description:
  - Create, change the roles of, reset the password of, or delete a user of a managed database service.
  - The password is returned only when the user is created and when O(reset_password=true); the API never
    shows it again. A task result that carries a password is hidden from the output (as with C(no_log)),
    but C(register) still receives it.
  - A create that answers 500 although the user was created (then C(409 PostgresUserAlreadyExist) on a
    retry) ends with the user adopted, never duplicated; as nobody received its password, the module
    resets it once and returns the new one.
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
    details: Returns the predicted user; no password is created or reset.
options:
  name:
    description:
      - The user name.
    type: str
    required: true
  roles:
    description:
      - The roles of the user (for PostgreSQL, V(replication) and the engine's other roles; see the
        C(roles) route of the service). Compared as a set; changed in place.
      - Unset leaves the roles as they are.
    type: list
    elements: str
  reset_password:
    description:
      - Reset the password of an existing user and return the new one. Always changes something.
    type: bool
    default: false
  state:
    description:
      - Whether the user exists.
    type: str
    choices: [present, absent]
    default: present
notes:
  - The C(avnadmin) user that OVH creates with every service can be managed like any other, but not deleted.
seealso:
  - module: keikolatam.gitops.ovh_database
  - module: keikolatam.gitops.ovh_database_info
"""

EXAMPLES = r"""
- name: The application user; its password goes straight into a Kubernetes secret
  keikolatam.gitops.ovh_database_user:
    service_name: "{{ ovh_project_id }}"
    cluster: keiko-production
    name: identity_service
    roles: []
  register: identity_user

- name: Store the password (only returned on creation or reset)
  kubernetes.core.k8s:
    state: present
    definition:
      apiVersion: v1
      kind: Secret
      metadata:
        name: identity-db
        namespace: keiko
      stringData:
        username: "{{ identity_user.user.username }}"
        password: "{{ identity_user.user.password }}"
  when: identity_user.user.password is defined
  no_log: true

- name: Rotate the password
  keikolatam.gitops.ovh_database_user:
    service_name: "{{ ovh_project_id }}"
    cluster: keiko-production
    name: identity_service
    reset_password: true
  register: rotated
"""

RETURN = r"""
user:
  description:
    - The user, as the API returns it (C(cloud.project.database.service.UserWithRoles)).
    - C(password) is present only when the user was created or its password reset by this task.
  returned: when the user exists, is created, or is deleted
  type: dict
  sample:
    id: 2b1c1f50-92d2-4c64-b1f8-3f5e5b6a7d80
    username: identity_service
    roles: []
    status: READY
    createdAt: "2025-01-31T12:00:00Z"
actions:
  description: What the task did (or, in check mode, would do), in words.
  returned: changed
  type: list
  elements: str
adopted:
  description: True when the create answered an error but the user was created anyway, and was adopted.
  returned: when a user was adopted
  type: bool
waited:
  description: How long the task waited (for the service, then for the user), and the last status seen.
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
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import DATABASE


class OvhDatabaseUser(OvhDatabaseChildModule):
    resource_key = "user"
    argument_spec = dict(
        OvhDatabaseChildModule.CLUSTER_ARGS,
        name=dict(type="str", required=True),
        roles=dict(type="list", elements="str"),
        reset_password=dict(type="bool", default=False, no_log=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )

    def validate(self):
        if self.params["state"] == "absent" and self.params["reset_password"]:
            self.fail("reset_password is only used with state=present.")

    def find(self):
        return self.find_object("user", "username")

    def user_path(self, user):
        return self.child_path("user", user["id"])

    def fetcher(self, user_id):
        return lambda: self.client.get_or_none(self.child_path("user", user_id))

    def present(self, current):
        p = self.params
        name = p["name"]
        if current is None:
            self.create()
            return
        plan = Plan(current)
        roles = p["roles"]
        if roles is not None and sorted(set(roles)) != sorted(set(current.get("roles") or [])):
            plan.add("set the roles of user %s: %s" % (name, ", ".join(sorted(set(roles))) or "none"),
                     lambda: self.put_roles(current, sorted(set(roles))), patch=dict(roles=sorted(set(roles))))
        state = {}
        if p["reset_password"]:
            def do_reset():
                state["user"] = self.reset(current)
            plan.add("reset the password of user %s" % name, do_reset)
        if not self.execute(plan):
            self.result["user"] = self.redact(plan.after)
            return
        user = self.client.get(self.user_path(current))
        if state.get("user"):
            user = dict(user, password=state["user"].get("password"))
        self.result["user"] = user

    def put_roles(self, current, roles):
        self.wait_cluster_ready()
        self.client.put(self.user_path(current), dict(roles=roles))
        if self.params["wait"]:
            self.wait_for("until_ready", self.fetcher(current["id"]), DATABASE, "user %s" % self.params["name"])

    def reset(self, user):
        self.wait_cluster_ready()
        if user.get("status") != "READY":
            self.wait_for("until_ready", self.fetcher(user["id"]), DATABASE, "user %s" % self.params["name"])
        return self.client.post("%s/credentials/reset" % self.user_path(user), idempotent=True)

    def create(self):
        p = self.params
        body = dict(name=p["name"])
        if p["roles"] is not None:
            body["roles"] = sorted(set(p["roles"]))
        plan = Plan(None)
        state = {}

        def do_create():
            state["user"], state["reset"] = self.send_create(body)

        plan.add("create user %s" % p["name"], do_create,
                 after=dict(username=p["name"], roles=body.get("roles", []), status="CREATING"))
        if not self.execute(plan):
            self.result["user"] = plan.after
            return
        user = state["user"]
        password = user.get("password")
        if state.get("reset"):
            password = self.reset(user).get("password")
            self.result.setdefault("actions", []).append(
                "reset the password of user %s (adopted after an ambiguous create)" % p["name"])
        if self.params["wait"] and user.get("status") != "READY":
            user = self.wait_for("until_ready", self.fetcher(user["id"]), DATABASE, "user %s" % p["name"])
        else:
            user = self.client.get_or_none(self.user_path(user)) or user
        user = dict(user)
        user.pop("password", None)
        if password:
            user["password"] = password
        self.result["user"] = user
        if p["roles"] is not None and sorted(set(user.get("roles") or [])) != body["roles"]:
            # Adopted with other roles: converge.
            self.put_roles(user, body["roles"])
            self.result["user"]["roles"] = body["roles"]

    def send_create(self, body):
        """POST the user; returns (user, reset_needed).

        A create that answered 5xx or timed out is never resent while its user may exist: the user is looked
        up for a grace period and adopted; nobody received its password, so it must be reset. Only a create
        whose user is still missing after that is sent again (CREATE_RESEND times at most). A 409
        PostgresUserAlreadyExist right away means the user was created by someone else: it is adopted as
        it is (its password is not changed).
        """
        name = self.params["name"]
        reset = []

        def adopt(found, exc, earlier):
            if exc.is_conflict and earlier is None:
                self.module.warn("User %s already existed (%s); adopted without changing its password (set "
                                 "reset_password to get one)." % (name, exc.message))
                return found
            reset.append(found)
            if exc.is_conflict:
                # 500 but created, then 409 on the resend (FACTS.md): it is the user this task created.
                self.module.warn("The create of user %s answered %s, then %s; the user has been adopted and its "
                                 "password reset." % (name, earlier.http_status, exc.message))
            else:
                self.module.warn("The create of user %s answered %s %s but the user was created; it has been "
                                 "adopted and its password reset." % (name, exc.http_status or "", exc.message))
            return found

        return self.create_object("user", body, "user %s" % name, adopt=adopt), bool(reset)

    def absent(self, current):
        if current is None:
            return
        self.result["user"] = current
        if current.get("username") == "avnadmin":
            self.fail("The avnadmin user of a service cannot be deleted.")
        self.execute(self.plan_delete_object(current, "user", "delete user %s" % current.get("username"),
                                             self.fetcher(current["id"]), DATABASE, "user %s" % self.params["name"]))


def main():
    OvhDatabaseUser().main()


if __name__ == "__main__":
    main()
