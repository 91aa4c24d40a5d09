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

from ansible_collections.keikolatam.gitops.plugins.module_utils._module import Immutable, OvhModule, Plan
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import REGISTRY

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


class OvhContainerRegistry(OvhModule):
    resource_key = "registry"
    composite = True
    what = "registry"
    model = REGISTRY
    uuid_options = {"id": "the registry's ID"}
    immutable = (Immutable("region", "region", "create a new registry in that region"),)
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
    def collection_path(self):
        return "%s/containerRegistry" % self.project_path

    def preflight(self, current):
        """The region offers managed registries, and the plan is one of those it offers (by name or ID)."""
        p = self.params
        self.plan_obj = None
        if p["state"] == "absent":
            return
        if current is None:
            if not p["region"]:
                self.fail("To create registry %s, set region." % p["name"])
            caps = self.client.get("%s/capabilities/containerRegistry" % self.project_path) or []
            plans = next((c.get("plans") or [] for c in caps if c.get("regionName") == p["region"]), None)
            if plans is None:
                self.fail("Region %s does not offer managed registries (regions: %s)."
                          % (p["region"], ", ".join(sorted(c.get("regionName") for c in caps))))
        elif p["plan"]:
            plans = self.client.get(self.item_path(current["id"]) + "/capabilities/plan") or []
        if p["plan"]:
            region = p["region"] or current.get("region")
            want = p["plan"].lower()
            self.plan_obj = next(
                (x for x in plans if want in (str(x.get("id")).lower(), (x.get("name") or "").lower())), None)
            if self.plan_obj is None:
                self.fail("Unknown registry plan %s in %s (available: %s)."
                          % (p["plan"], region, ", ".join(sorted(x.get("name") for x in plans))))

    def plan_create(self):
        p = self.params
        body = dict(name=p["name"], region=p["region"])
        if self.plan_obj:
            body["planID"] = self.plan_obj["id"]
        return Plan(None).add("create registry %s in %s" % (p["name"], p["region"]), lambda: self.create_or_adopt(
            self.collection_path, body, self.find, "registry %s" % p["name"]), creates=True, after=dict(
                registry=dict(name=p["name"], region=p["region"], status="INSTALLING"), plan=self.plan_obj))

    def plan_update(self, current):
        p = self.params
        name = current.get("name")
        rid = current["id"]
        plan = Plan(dict(registry=current, plan=self.client.get(self.item_path(rid) + "/plan")))
        if p["id"] and p["name"] and p["name"] != name:
            plan.add("rename registry %s to %s" % (name, p["name"]), lambda: self.put(rid, dict(name=p["name"])),
                     patch=dict(registry=dict(name=p["name"])))
        have = plan.before["plan"] or {}
        if self.plan_obj and self.plan_obj.get("id") != have.get("id"):
            plan.add("change the plan of registry %s from %s to %s"
                     % (name, have.get("name"), self.plan_obj.get("name")),
                     lambda: self.put(rid, dict(planID=self.plan_obj["id"]), "/plan"), patch=dict(plan=self.plan_obj))
        return plan

    def read_parts(self, obj):
        return {"plan": self.client.get(self.item_path(obj["id"]) + "/plan")}


def main():
    OvhContainerRegistry().main()


if __name__ == "__main__":
    main()
