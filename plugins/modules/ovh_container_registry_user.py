#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_container_registry_user
short_description: Manage a user of an OVHcloud managed private registry
version_added: 0.1.0
description:
  - Create or delete a user of a managed private registry (Harbor), for example the CI robot that pushes
    images.
  - The password is returned only when the user is created; the API never shows it again. A task result
    that carries a password is hidden from the output (as with C(no_log)), but C(register) still receives it.
  - The API cannot change a user; a different O(email) fails (delete and create the user again).
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh
  - keikolatam.gitops.ovh.project
  - keikolatam.gitops.ovh.wait
  - keikolatam.gitops.ovh.attributes
attributes:
  check_mode:
    details: Returns the predicted user; no password is created.
options:
  registry:
    description:
      - The registry, by ID or by name.
    type: str
    required: true
    aliases: [registry_id]
  login:
    description:
      - The user's login.
    type: str
    required: true
  email:
    description:
      - The user's email. Required to create.
    type: str
  state:
    description:
      - Whether the user exists.
    type: str
    choices: [present, absent]
    default: present
notes:
  - O(wait) applies to the registry; users are only created once the registry is C(READY).
seealso:
  - module: keikolatam.gitops.ovh_container_registry
"""

EXAMPLES = r"""
- name: The CI user that pushes images
  keikolatam.gitops.ovh_container_registry_user:
    service_name: "{{ ovh_project_id }}"
    registry: keiko-production
    login: ci-pusher
    email: ci@keiko.example
  register: ci_user

- name: Keep the password (returned only now) in the CI secret store
  ansible.builtin.copy:
    dest: /secure/ci-registry-password
    content: "{{ ci_user.user.password }}"
    mode: "0600"
  when: ci_user.user.password is defined
  no_log: true
"""

RETURN = r"""
user:
  description:
    - The user, as the API returns it (C(cloud.containerRegistry.User)).
    - C(password) is a string only when the user was created by this task.
  returned: when the user exists, is created, or is deleted
  type: dict
  sample: {"id": "12", "user": "ci-pusher", "email": "ci@keiko.example", "password": null}
registry_id:
  description: The ID of the registry.
  returned: always
  type: str
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
  description: How long the task waited for the registry, and its last status.
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

from ansible_collections.keikolatam.gitops.plugins.module_utils._module import OvhModule, Plan
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import REGISTRY


class OvhContainerRegistryUser(OvhModule):
    resource_key = "user"
    argument_spec = dict(
        registry=dict(type="str", required=True, aliases=["registry_id"]),
        login=dict(type="str", required=True),
        email=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )

    @property
    def base(self):
        return "%s/containerRegistry" % self.project_path

    def resolve_registry(self):
        return self.pick(self.client.get(self.base) or [], self.params["registry"], "registry",
                         "%d registries are named %r; use the ID.")

    def find(self, rid):
        for user in self.client.get("%s/%s/users" % (self.base, rid)) or []:
            if user.get("user") == self.params["login"]:
                return user
        return None

    def registry_ready(self, reg):
        if reg.get("status") == "READY" or not self.params["wait"]:
            return reg
        return self.wait_for("until_ready", lambda: self.client.get_or_none("%s/%s" % (self.base, reg["id"])),
                             REGISTRY, reg.get("name"))

    def run(self):
        p = self.params
        reg = self.resolve_registry()
        rid = reg["id"]
        self.result["registry_id"] = rid
        current = self.find(rid)
        users = "%s/%s/users" % (self.base, rid)
        if p["state"] == "absent":
            if current is None:
                return
            self.result["user"] = current
            self.execute(self.plan_delete(current, "delete registry user %s" % p["login"],
                                          "%s/%s" % (users, current["id"]), prepare=lambda: self.registry_ready(reg)))
            return
        if current is not None:
            if p["email"] is not None and p["email"] != current.get("email"):
                self.fail("The email of registry user %s cannot be updated (it is %s); delete the user and create "
                          "it again. Nothing was changed." % (p["login"], current.get("email")))
            self.result["user"] = current
            return
        if not p["email"]:
            self.fail("To create registry user %s, set email." % p["login"])
        body = dict(login=p["login"], email=p["email"])
        plan = Plan(None)
        state = {}

        def do_create():
            self.registry_ready(reg)
            state["user"] = self.create_or_adopt(users, body, lambda: self.find(rid), "registry user %s" % p["login"])

        plan.add("create registry user %s" % p["login"], do_create,
                 after=dict(user=p["login"], email=p["email"], password=None))
        self.result["user"] = state["user"] if self.execute(plan) else plan.after
        if self.result.get("adopted"):
            self.module.warn("Registry user %s was adopted after an ambiguous create: its password is unknown. "
                             "Delete the user and create it again to get one." % p["login"])


def main():
    OvhContainerRegistryUser().main()


if __name__ == "__main__":
    main()
