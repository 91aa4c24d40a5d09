#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_container_registry
short_description: Manage an OVHcloud managed private registry (Harbor)
version_added: 0.1.0
description:
  - Create, change the plan of, rename or delete a managed private container registry of a Public Cloud
    project.
  - The registry is identified by O(name), or by O(id) (which allows renaming it).
  - The plan changes in place (C(PUT .../plan)); the region cannot change.
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh
  - keikolatam.gitops.ovh.project
  - keikolatam.gitops.ovh.wait
  - keikolatam.gitops.ovh.attributes
attributes:
  check_mode:
    details: Returns the predicted registry and plan.
options:
  name:
    description:
      - The registry name (lower case letters, digits and dashes). Required unless O(id) is set.
      - With O(id), a different value renames the registry.
    type: str
  id:
    description:
      - The ID of an existing registry, to look it up by ID instead of by O(name).
    type: str
  region:
    description:
      - The region (V(GRA), V(DE), V(BHS)...). Required to create; cannot change.
    type: str
  plan:
    description:
      - The plan, by name (V(SMALL), V(MEDIUM), V(LARGE), case-insensitive) or by ID, as the
        C(capabilities/containerRegistry) route lists them for the region.
      - Unset at creation means the API's default plan; unset later leaves the plan as it is.
    type: str
  state:
    description:
      - Whether the registry exists. Deleting a registry deletes every image in it.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: keikolatam.gitops.ovh_container_registry_user
"""

EXAMPLES = r"""
- name: The registry of the production environment
  keikolatam.gitops.ovh_container_registry:
    service_name: "{{ ovh_project_id }}"
    name: keiko-production
    region: GRA
    plan: MEDIUM
  register: registry

- name: Its URL, for the CI pipeline
  ansible.builtin.debug:
    msg: "{{ registry.registry.url }}"
"""

RETURN = r"""
registry:
  description:
    - The registry, as the API returns it (C(cloud.containerRegistry.Registry)). In check mode, the predicted
      registry. With O(state=absent), the registry as it was before its deletion.
  returned: when the registry exists, is created, or is deleted
  type: dict
  sample:
    id: 7d6a2c1e-5b4f-4e3d-9c8b-1a2b3c4d5e6f
    name: keiko-production
    region: GRA
    status: READY
    url: https://abcd1234.gra7.container-registry.ovh.net
    version: 2.10.1
    size: 0
plan:
  description: The registry's plan (C(cloud.containerRegistry.Plan)).
  returned: when O(state=present)
  type: dict
  sample:
    id: 9f1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d
    name: MEDIUM
    code: registry.m-plan-equivalent.hour.consumption
    features: {"vulnerability": true}
    registryLimits: {"imageStorage": 600000000000, "parallelRequest": 30}
actions:
  description: What the task did (or, in check mode, would do), in words.
  returned: changed
  type: list
  elements: str
adopted:
  description: True when the create answered an error but the registry was created anyway, and was adopted.
  returned: when a registry was adopted
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

import re

from ansible_collections.keikolatam.gitops.plugins.module_utils._module import OvhModule, Plan
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import REGISTRY

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


class OvhContainerRegistry(OvhModule):
    resource_key = "registry"
    argument_spec = dict(
        name=dict(type="str"),
        id=dict(type="str"),
        region=dict(type="str"),
        plan=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module_kwargs = dict(required_one_of=[["name", "id"]])

    def validate(self):
        name = self.params["name"]
        if name is not None and not NAME_RE.match(name):
            self.fail("name must be 3 to 63 lower case letters, digits and dashes, starting and ending with a "
                      "letter or digit; got %r." % name)

    @property
    def base(self):
        return "%s/containerRegistry" % self.project_path

    def find(self):
        return self.find_by_id_or_name(self.base, "registries", gone=("DELETING", "DELETED"))

    def fetcher(self, rid):
        return lambda: self.client.get_or_none("%s/%s" % (self.base, rid))

    def resolve_plan(self, region, registry_id=None):
        """The plan named by O(plan) (by name or ID), among those offered in ``region``."""
        want = self.params["plan"]
        if registry_id:
            plans = self.client.get("%s/%s/capabilities/plan" % (self.base, registry_id)) or []
        else:
            caps = self.client.get("%s/capabilities/containerRegistry" % self.project_path) or []
            plans = next((c.get("plans") or [] for c in caps if c.get("regionName") == region), None)
            if plans is None:
                self.fail("No managed registry in region %s (available: %s)."
                          % (region, ", ".join(sorted(c.get("regionName") for c in caps))))
        for plan in plans:
            if plan.get("id") == want or (plan.get("name") or "").lower() == want.lower():
                return plan
        self.fail("Unknown registry plan %r in %s (available: %s)."
                  % (want, region, ", ".join(sorted(p.get("name") for p in plans))))

    def present(self, current):
        p = self.params
        if current is None:
            if p["id"]:
                self.fail("No registry with the ID %s; to create one, set name instead of id." % p["id"])
            if not p["region"]:
                self.fail("To create registry %s, set region." % p["name"])
            plan_obj = self.resolve_plan(p["region"]) if p["plan"] else None
            body = dict(name=p["name"], region=p["region"])
            if plan_obj:
                body["planID"] = plan_obj["id"]
            plan = Plan(None)
            state = {}

            def do_create():
                state["reg"] = self.create_or_adopt(self.base, body, self.find, "registry %s" % p["name"])

            plan.add("create registry %s in %s" % (p["name"], p["region"]), do_create,
                     after=dict(name=p["name"], region=p["region"], status="INSTALLING"))
            if not self.execute(plan):
                self.result["registry"] = plan.after
                if plan_obj:
                    self.result["plan"] = plan_obj
                return
            reg = state["reg"]
            if p["wait"]:
                reg = self.wait_for("until_ready", self.fetcher(reg["id"]), REGISTRY, p["name"])
            self.result["registry"] = reg
            self.result["plan"] = self.client.get("%s/%s/plan" % (self.base, reg["id"]))
            return

        name = current.get("name")
        if p["region"] and p["region"] != current.get("region"):
            self.fail("The region of registry %s cannot be updated: it is %s, the task asks for %s. Nothing was "
                      "changed." % (name, current.get("region"), p["region"]))
        rid = current["id"]
        path = "%s/%s" % (self.base, rid)
        current_plan = self.client.get("%s/plan" % path)
        before = dict(registry=current, plan=current_plan)
        plan = Plan(before)
        if p["id"] and p["name"] and p["name"] != name:
            def do_rename():
                self.wait_for("until_stable", self.fetcher(rid), REGISTRY, name)
                self.client.put(path, dict(name=p["name"]))
            plan.add("rename registry %s to %s" % (name, p["name"]), do_rename, patch=dict(registry=dict(name=p["name"])))
        if p["plan"]:
            want = self.resolve_plan(current.get("region"), rid)
            if want.get("id") != (current_plan or {}).get("id"):
                def do_plan():
                    self.wait_for("until_stable", self.fetcher(rid), REGISTRY, name)
                    self.client.put("%s/plan" % path, dict(planID=want["id"]))
                plan.add("change the plan of registry %s from %s to %s"
                         % (name, (current_plan or {}).get("name"), want.get("name")), do_plan,
                         patch=dict(plan=want))
        if not self.execute(plan):
            self.result.update(registry=plan.after["registry"], plan=plan.after["plan"])
            return
        if p["wait"]:
            reg = self.wait_for("until_ready", self.fetcher(rid), REGISTRY, p["name"] or name)
        else:
            reg = self.client.get(path)
        self.result.update(registry=reg, plan=self.client.get("%s/plan" % path))

    def absent(self, current):
        if current is None:
            return
        name = current.get("name")
        self.result["registry"] = current
        rid = current["id"]
        self.execute(self.plan_delete(current, "delete registry %s (%s)" % (name, rid), "%s/%s" % (self.base, rid),
                                      self.fetcher(rid), REGISTRY, name))


def main():
    OvhContainerRegistry().main()


if __name__ == "__main__":
    main()
