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
    service: keiko-production
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
    service: keiko-production
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

from ansible_collections.keikolatam.gitops.plugins.module_utils._database import (
    OvhDatabaseChildModule,
    check_identifier,
)
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import Plan
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import DATABASE


class OvhDatabaseUser(OvhDatabaseChildModule):
    resource_key = "user"
    what = "user"
    kind = "user"
    name_field = "username"
    model = DATABASE
    argument_spec = dict(
        OvhDatabaseChildModule.SERVICE_ARGS,
        name=dict(type="str", required=True),
        roles=dict(type="list", elements="str"),
        reset_password=dict(type="bool", default=False, no_log=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )

    def validate(self):
        check_identifier(self, "name")
        if self.params["state"] == "absent" and self.params["reset_password"]:
            self.fail("reset_password is only used with state=present.")

    def preflight(self, current):
        roles = self.params["roles"]
        if self.params["state"] == "present" and roles:
            known = self.client.get(self.child_path("roles")) or []
            unknown = sorted(set(roles) - set(known))
            if unknown:
                self.fail("%s is not a role of database service %s (roles: %s)."
                          % (", ".join(unknown), self.service.get("description"), ", ".join(sorted(known)) or "none"))

    def plan_create(self):
        p = self.params
        body = dict(name=p["name"])
        if p["roles"] is not None:
            body["roles"] = sorted(set(p["roles"]))
        return Plan(None).add("create user %s" % p["name"], lambda: self.create(body),
                              after=dict(username=p["name"], roles=body.get("roles", []), status="CREATING"),
                              creates=True)

    def plan_update(self, current):
        p = self.params
        plan = Plan(current)
        roles = sorted(set(p["roles"] or []))
        if p["roles"] is not None and roles != sorted(set(current.get("roles") or [])):
            plan.add("set the roles of user %s: %s" % (p["name"], ", ".join(roles) or "none"),
                     lambda: self.put_roles(current, roles), patch=dict(roles=roles))
        if p["reset_password"]:
            plan.add("reset the password of user %s" % p["name"], lambda: self.reset(current), creates=True)
        return plan

    def read_back(self, obj, created=False):
        """The user read again, with the password of a create or a reset (the API shows it only then)."""
        user = dict(super(OvhDatabaseUser, self).read_back(obj, created))
        user.pop("password", None)
        if obj.get("password"):
            user["password"] = obj["password"]
        return user

    def put_roles(self, user, roles):
        self.wait_service_ready()
        self.client.put(self.item_path(user["id"]), dict(roles=roles))
        if self.params["wait"]:
            self.wait_for("until_ready", self.fetcher(self.item_path(user["id"])), DATABASE, self.label(user))

    def reset(self, user):
        """POST a new password; returns the user with it."""
        self.wait_service_ready()
        if user.get("status") != "READY":
            self.wait_for("until_ready", self.fetcher(self.item_path(user["id"])), DATABASE, self.label(user))
        return self.client.post("%s/credentials/reset" % self.item_path(user["id"]), idempotent=True)

    def create(self, body):
        """The create step: the user, with its password (reset when the user was adopted after an ambiguous
        create, since nobody received it), with the asked roles."""
        user, reset = self.send_create(body)
        if reset:
            user = self.reset(user)
            self.result.setdefault("actions", []).append(
                "reset the password of user %s (adopted after an ambiguous create)" % body["name"])
        if body.get("roles") is not None and sorted(set(user.get("roles") or [])) != body["roles"]:
            self.put_roles(user, body["roles"])  # adopted with other roles: converge
        return user

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

        return self.create_object(body, "user %s" % name, adopt=adopt), bool(reset)

    def plan_absent(self, current):
        if current is not None and current.get("username") == "avnadmin":
            self.result["user"] = current
            self.fail("The avnadmin user of a service cannot be deleted.")
        return super(OvhDatabaseUser, self).plan_absent(current)


def main():
    OvhDatabaseUser().main()


if __name__ == "__main__":
    main()
