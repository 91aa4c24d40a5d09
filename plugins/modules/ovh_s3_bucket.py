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

from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhApiError
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import Immutable, OvhModule, Plan

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


# Seconds to look for the bucket of an ambiguous create before sending it again (S3 answers at once).
CREATE_GRACE = 3.0


class OvhS3Bucket(OvhModule):
    resource_key = "bucket"
    what = "bucket"
    waits = False
    id_field = "name"
    immutable = (Immutable("owner", "ownerId", "a bucket keeps its owner",
                           value=lambda m: m.owner["id"] if m.owner else None),)
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

    def item_path(self, oid):
        return "%s/%s" % (self.base, oid)

    def prepare(self):
        self.owner = self.pick_cloud_user(self.params["owner"], "owner") if self.params["owner"] is not None else None

    def find(self):
        try:
            buckets = self.client.get(self.base) or []
        except OvhApiError as exc:
            if not exc.is_not_found:
                raise
            self.fail("Region %s does not offer S3 object storage in project %s (the API answered: %s)."
                      % (self.params["region"], self.params["service_name"], exc.message))
        for bucket in buckets:
            if bucket.get("name") == self.params["name"]:
                return self.read_back(bucket)
        return None

    def read_back(self, obj, created=False):
        return self.client.get_or_none(self.item_path(obj["name"]) + "?limit=1") or obj

    def preflight(self, current):
        p = self.params
        if p["state"] == "absent":
            return
        if current is None and self.owner is None:
            self.fail("To create bucket %s, set owner." % p["name"])
        have = ((current or {}).get("versioning") or {}).get("status") or "disabled"
        if have in ("enabled", "suspended") and p["versioning"] == "disabled":
            self.fail("Versioning of bucket %s is %s: it can be suspended, not disabled (S3 rule). Nothing was "
                      "changed." % (p["name"], have))

    def plan_create(self):
        p = self.params
        body = dict(name=p["name"], ownerId=self.owner["id"])
        if p["versioning"]:
            body["versioning"] = dict(status=p["versioning"])
        if p["encryption"]:
            body["encryption"] = dict(sseAlgorithm=p["encryption"])
        return Plan(None).add(
            "create bucket %s in %s owned by user %s" % (p["name"], p["region"], self.owner["id"]),
            lambda: self.create_or_adopt(self.base, body, self.find, "bucket %s" % p["name"], grace=CREATE_GRACE),
            creates=True, after=dict(name=p["name"], region=p["region"], ownerId=self.owner["id"],
                                     versioning=body.get("versioning", dict(status="disabled")),
                                     encryption=body.get("encryption", dict(sseAlgorithm="plaintext"))))

    def plan_update(self, current):
        p = self.params
        body = {}
        if p["versioning"] and p["versioning"] != ((current.get("versioning") or {}).get("status") or "disabled"):
            body["versioning"] = dict(status=p["versioning"])
        if p["encryption"] and p["encryption"] != ((current.get("encryption") or {}).get("sseAlgorithm")
                                                   or "plaintext"):
            body["encryption"] = dict(sseAlgorithm=p["encryption"])
        plan = Plan(current)
        if body:
            plan.add("update bucket %s: %s" % (p["name"], ", ".join(sorted(body))),
                     lambda: self.client.put(self.item_path(p["name"]), body), patch=body)
        return plan


def main():
    OvhS3Bucket().main()


if __name__ == "__main__":
    main()
