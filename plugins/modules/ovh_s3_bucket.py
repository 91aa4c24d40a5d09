#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_s3_bucket
short_description: Manage an OVHcloud S3 object storage bucket (for example the database backups)
version_added: 0.1.0
description:
  - Create, change or delete an S3 bucket of the Public Cloud object storage, with the API's
    C(/cloud/project/{serviceName}/region/{regionName}/storage) routes.
  - Versioning and server-side encryption change in place; the owner cannot change.
  - Why these routes and not C(/cloud/project/{serviceName}/storage)? The latter manages Swift containers
    (the legacy OpenStack object storage, with archive and static containers and no owner). The platform's backup
    job speaks S3 (C(aws s3 cp)), with the key pair of a Public Cloud user
    (M(keikolatam.gitops.ovh_s3_credentials)); the regional S3 routes create a bucket owned by that user,
    with versioning (keep overwritten or deleted backups) and encryption at rest, which Swift containers do
    not offer through the API.
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh
  - keikolatam.gitops.ovh.project
  - keikolatam.gitops.ovh.attributes
attributes:
  check_mode:
    details: Returns the predicted bucket.
options:
  name:
    description:
      - The bucket name (3 to 63 lower case letters, digits, dots and dashes).
    type: str
    required: true
  region:
    description:
      - The object storage region (V(GRA), V(SBG), V(BHS), V(DE), V(UK), V(WAW)...).
    type: str
    required: true
  owner:
    description:
      - The Public Cloud user that owns the bucket, by numeric ID or by description
        (see M(keikolatam.gitops.ovh_cloud_user)). Required to create; cannot change.
    type: str
  versioning:
    description:
      - The versioning status. Once V(enabled), a bucket can only be V(suspended), not V(disabled) (S3 rule).
      - Unset leaves it as it is (a new bucket is not versioned).
    type: str
    choices: [enabled, suspended, disabled]
  encryption:
    description:
      - Server-side encryption of new objects, V(AES256) (SSE-S3) or V(plaintext).
      - Unset leaves it as it is.
    type: str
    choices: [AES256, plaintext]
  state:
    description:
      - Whether the bucket exists. A bucket that holds objects cannot be deleted (the API refuses).
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: keikolatam.gitops.ovh_cloud_user
  - module: keikolatam.gitops.ovh_s3_credentials
"""

EXAMPLES = r"""
- name: The bucket of the PostgreSQL backups, owned by the backup user
  keikolatam.gitops.ovh_s3_bucket:
    service_name: "{{ ovh_project_id }}"
    name: keikolatam-backups
    region: GRA
    owner: keiko-production-backups
    versioning: enabled
    encryption: AES256
  register: bucket

- name: The endpoint the backup job uses
  ansible.builtin.debug:
    msg: "s3://{{ bucket.bucket.name }} on https://{{ bucket.bucket.virtualHost }}"
"""

RETURN = r"""
bucket:
  description:
    - The bucket, as the API returns it (C(cloud.StorageContainer)); C(objects) lists at most one object.
    - In check mode, the predicted bucket. With O(state=absent), the bucket as it was before its deletion.
  returned: when the bucket exists, is created, or is deleted
  type: dict
  sample:
    name: keikolatam-backups
    region: GRA
    ownerId: 48213
    versioning: {"status": "enabled"}
    encryption: {"sseAlgorithm": "AES256"}
    virtualHost: keikolatam-backups.s3.gra.io.cloud.ovh.net
    objectsCount: 0
    objectsSize: 0
    objects: []
    createdAt: "2025-01-31T12:00:00Z"
actions:
  description: What the task did (or, in check mode, would do), in words.
  returned: changed
  type: list
  elements: str
adopted:
  description: True when the create answered an error but the bucket was created anyway, and was adopted.
  returned: when a bucket was adopted
  type: bool
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

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


# Seconds to look for the bucket of an ambiguous create before sending it again (S3 answers at once).
CREATE_GRACE = 3.0


class OvhS3Bucket(OvhModule):
    resource_key = "bucket"
    waits = False
    argument_spec = dict(
        name=dict(type="str", required=True),
        region=dict(type="str", required=True),
        owner=dict(type="str"),
        versioning=dict(type="str", choices=["enabled", "suspended", "disabled"]),
        encryption=dict(type="str", choices=["AES256", "plaintext"]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )

    def validate(self):
        name = self.params["name"]
        if not NAME_RE.match(name) or ".." in name or re.match(r"^\d+\.\d+\.\d+\.\d+$", name):
            self.fail("name must be a valid S3 bucket name: 3 to 63 lower case letters, digits, dots and dashes, "
                      "starting and ending with a letter or digit; got %r." % name)

    @property
    def base(self):
        return "%s/region/%s/storage" % (self.project_path, self.params["region"])

    def find(self):
        for bucket in self.client.get(self.base) or []:
            if bucket.get("name") == self.params["name"]:
                return self.client.get_or_none("%s/%s?limit=1" % (self.base, bucket["name"])) or bucket
        return None

    def resolve_owner(self):
        return self.pick_cloud_user(self.params["owner"], "set owner to the ID of one of them")

    def present(self, current):
        p = self.params
        owner = self.resolve_owner() if p["owner"] is not None else None
        if current is None:
            if owner is None:
                self.fail("To create bucket %s, set owner." % p["name"])
            body = dict(name=p["name"], ownerId=owner["id"])
            if p["versioning"]:
                body["versioning"] = dict(status=p["versioning"])
            if p["encryption"]:
                body["encryption"] = dict(sseAlgorithm=p["encryption"])
            plan = Plan(None)
            state = {}

            def do_create():
                state["bucket"] = self.create_or_adopt(self.base, body, self.find, "bucket %s" % p["name"],
                                                       grace=CREATE_GRACE)

            after = dict(name=p["name"], region=p["region"], ownerId=owner["id"],
                         versioning=body.get("versioning", dict(status="disabled")),
                         encryption=body.get("encryption", dict(sseAlgorithm="plaintext")))
            plan.add("create bucket %s in %s owned by user %s" % (p["name"], p["region"], owner["id"]), do_create,
                     after=after)
            if self.execute(plan):
                self.result["bucket"] = self.client.get("%s/%s" % (self.base, p["name"]), limit=1)
            else:
                self.result["bucket"] = plan.after
            return
        if owner is not None and owner["id"] != current.get("ownerId"):
            self.fail("The owner of bucket %s cannot be updated (it is user %s). Nothing was changed."
                      % (p["name"], current.get("ownerId")))
        body = {}
        have_versioning = (current.get("versioning") or {}).get("status") or "disabled"
        if p["versioning"] and p["versioning"] != have_versioning:
            if have_versioning in ("enabled", "suspended") and p["versioning"] == "disabled":
                self.fail("Versioning of bucket %s is %s: it can be suspended, not disabled (S3 rule). Nothing was "
                          "changed." % (p["name"], have_versioning))
            body["versioning"] = dict(status=p["versioning"])
        have_encryption = (current.get("encryption") or {}).get("sseAlgorithm") or "plaintext"
        if p["encryption"] and p["encryption"] != have_encryption:
            body["encryption"] = dict(sseAlgorithm=p["encryption"])
        plan = Plan(current)
        if body:
            plan.add("update bucket %s: %s" % (p["name"], ", ".join(sorted(body))),
                     lambda: self.client.put("%s/%s" % (self.base, p["name"]), body), patch=body)
        if self.execute(plan):
            self.result["bucket"] = self.client.get("%s/%s" % (self.base, p["name"]), limit=1)
        else:
            self.result["bucket"] = plan.after

    def absent(self, current):
        if current is None:
            return
        self.result["bucket"] = current
        self.execute(self.plan_delete(current, "delete bucket %s in %s" % (self.params["name"], self.params["region"]),
                                      "%s/%s" % (self.base, self.params["name"])))


def main():
    OvhS3Bucket().main()


if __name__ == "__main__":
    main()
