#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_cloud_user
short_description: Manage a Public Cloud (OpenStack) user of an OVHcloud project and its roles
version_added: 0.1.0
description:
  - Create, change the roles of, reset the password of, or delete a Public Cloud user, for example the
    user that owns the backup bucket and whose S3 credentials the backup job uses
    (M(keikolatam.gitops.ovh_s3_credentials)).
  - The API generates the user name (C(user-...)); the module identifies the user by O(description), or by
    O(id).
  - The password is returned only when the user is created and when O(reset_password=true). A task result
    that carries a password is hidden from the output (as with C(no_log)), but C(register) still receives it.
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh
  - keikolatam.gitops.ovh.project
  - keikolatam.gitops.ovh.wait
  - keikolatam.gitops.ovh.attributes
attributes:
  check_mode:
    details: Returns the predicted user; no password is created or generated.
options:
  description:
    description:
      - The description of the user, which identifies it. Required unless O(id) is set.
      - It cannot change (the API has no route for it).
    type: str
  id:
    description:
      - The numeric ID of an existing user.
    type: int
  roles:
    description:
      - The roles of the user (V(objectstore_operator) for S3 access, V(administrator)...). Compared as a set
        and changed in place. Required to create.
    type: list
    elements: str
    choices: [admin, administrator, ai_training_operator, ai_training_read, authentication, backup_operator,
              compute_operator, image_operator, infrastructure_supervisor, network_operator,
              network_security_operator, objectstore_operator, volume_operator]
  reset_password:
    description:
      - Generate a new password for an existing user and return it. Always changes something.
    type: bool
    default: false
  state:
    description:
      - Whether the user exists. Deleting a user deletes its S3 credentials.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: keikolatam.gitops.ovh_s3_credentials
  - module: keikolatam.gitops.ovh_s3_bucket
"""

EXAMPLES = r"""
- name: The user the backup job uses for object storage
  keikolatam.gitops.ovh_cloud_user:
    service_name: "{{ ovh_project_id }}"
    description: keiko-production-backups
    roles: [objectstore_operator]
  register: backup_user
"""

RETURN = r"""
user:
  description:
    - The user, as the API returns it (C(cloud.user.User); C(cloud.user.UserDetail) with C(password) when the
      user was created or its password reset by this task).
    - With O(state=absent), the user as it was before its deletion.
  returned: when the user exists, is created, or is deleted
  type: dict
  sample:
    id: 48213
    username: user-Ab12Cd34Ef56
    description: keiko-production-backups
    status: ok
    openstackId: 0a1b2c3d4e5f60718293a4b5c6d7e8f9
    creationDate: "2025-01-31T12:00:00Z"
    roles:
      - id: 9c1e5b0ea6d54c8fb1bde2c0e5a9f7d3
        name: objectstore_operator
        description: Object Storage Operator
        permissions: ["objectstore:*"]
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
  description: How long the task waited, and the last status seen.
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

from ansible_collections.keikolatam.gitops.plugins.module_utils._module import Immutable, OvhModule, Plan
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import CLOUD_USER

ROLES = ["admin", "administrator", "ai_training_operator", "ai_training_read", "authentication", "backup_operator",
         "compute_operator", "image_operator", "infrastructure_supervisor", "network_operator",
         "network_security_operator", "objectstore_operator", "volume_operator"]


def role_names(user):
    return sorted(set(r.get("name") for r in (user or {}).get("roles") or []))


class OvhCloudUser(OvhModule):
    resource_key = "user"
    what = "Public Cloud user"
    name_option = name_field = "description"
    model = CLOUD_USER
    not_empty = ("description",)
    immutable = (Immutable("description", "description", "the API has no route for it"),)
    argument_spec = dict(
        description=dict(type="str"),
        id=dict(type="int"),
        roles=dict(type="list", elements="str", choices=ROLES),
        reset_password=dict(type="bool", default=False, no_log=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module_kwargs = dict(required_one_of=[["description", "id"]])

    def validate(self):
        if self.params["state"] == "absent" and self.params["reset_password"]:
            self.fail("reset_password is only used with state=present.")

    @property
    def collection_path(self):
        return "%s/user" % self.project_path

    def preflight(self, current):
        p = self.params
        if p["state"] == "absent":
            return
        if current is None and not p["roles"]:
            self.fail("To create %s %s, set roles." % (self.what, self.label()))
        wanted = sorted(set(p["roles"] or []))
        self.roles = None
        if p["roles"] is not None and wanted != role_names(current):
            catalog = (self.client.get("%s/role" % self.project_path) or {}).get("roles") or []
            by_name = dict((r.get("name"), r) for r in catalog)
            missing = [n for n in wanted if n not in by_name]
            if missing:
                self.fail("The project has no role %s (available: %s)."
                          % (", ".join(missing), ", ".join(sorted(by_name))))
            self.roles = [by_name[n] for n in wanted]

    def plan_create(self):
        p = self.params
        body = dict(description=p["description"], roles=sorted(set(p["roles"])))
        return Plan(None).add("create user %s with roles %s" % (p["description"], ", ".join(body["roles"])),
                              lambda: self.create(body), creates=True, after=dict(
                                  description=p["description"], roles=[dict(name=r) for r in body["roles"]],
                                  status="creating"))

    def create(self, body):
        user = self.create_or_adopt(self.collection_path, body, self.find, "user %s" % body["description"], conflict=False,
                                    adopt=self.adopt)
        if self.result.get("adopted"):
            user = self.regenerate(user)
            self.result["actions"].append("generate a new password for user %s (adopted after an ambiguous create)"
                                          % body["description"])
        return user

    def plan_update(self, current):
        plan = Plan(current)
        uid = current["id"]
        if self.roles is not None:
            names = ", ".join(role_names(dict(roles=self.roles)))
            plan.add("set the roles of user %s: %s" % (self.label(current), names),
                     lambda: self.when_stable(uid, lambda: self.client.put(
                         self.item_path(uid) + "/role", dict(rolesIds=[r["id"] for r in self.roles]))),
                     patch=dict(roles=self.roles))
        if self.params["reset_password"]:
            plan.add("generate a new password for user %s" % self.label(current), lambda: self.regenerate(current),
                     creates=True)
        return plan

    def regenerate(self, user):
        """A new password for ``user`` (once it is ready); returns the user with it."""
        self.wait_for("until_ready", self.fetcher(self.item_path(user["id"])), CLOUD_USER, self.label(user))
        answer = self.client.post(self.item_path(user["id"]) + "/regeneratePassword", idempotent=True) or {}
        return dict(user, password=answer.get("password"))

    def adopt(self, found, exc, _earlier):
        """A user found after an ambiguous create is adopted; nobody received its password: a new one is generated."""
        self.module.warn("The create of user %s answered %s %s but the user was created; it has been adopted and "
                         "given a new password." % (self.params["description"], exc.http_status or "", exc.message))
        return found


def main():
    OvhCloudUser().main()


if __name__ == "__main__":
    main()
