#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_s3_credentials
short_description: Make sure a Public Cloud user has an S3 key pair
version_added: 0.1.0
description:
  - O(state=present) means "this user has an S3 key pair". When the user has one (or the one named by
    O(access)), nothing changes; otherwise one is created. Running it twice leaves one key pair.
  - The secret is returned when the key pair is created, and with O(fetch_secret=true) (a C(POST) that
    reads the secret of an existing key pair). A task result that carries a secret is hidden from the output
    (as with C(no_log)), but C(register) still receives it.
  - O(state=absent) deletes the key pair named by O(access), or every key pair of the user without it.
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh
  - keikolatam.gitops.ovh.project
  - keikolatam.gitops.ovh.wait
  - keikolatam.gitops.ovh.attributes
attributes:
  check_mode:
    details: Nothing is created or deleted, and no secret is read (O(fetch_secret) is ignored).
options:
  user:
    description:
      - The Public Cloud user, by numeric ID or by description (see M(keikolatam.gitops.ovh_cloud_user)).
    type: str
    required: true
    aliases: [user_id]
  access:
    description:
      - A specific access key. With O(state=present) it must exist (the API chooses the access key of a new
        pair); with O(state=absent) only this pair is deleted.
    type: str
  fetch_secret:
    description:
      - Also return the secret of an existing key pair.
    type: bool
    default: false
  state:
    description:
      - Whether the user has a key pair.
    type: str
    choices: [present, absent]
    default: present
notes:
  - O(wait) applies to the user; a key pair is only created once the user is ready.
seealso:
  - module: keikolatam.gitops.ovh_cloud_user
  - module: keikolatam.gitops.ovh_s3_bucket
"""

EXAMPLES = r"""
- name: The key pair of the backup user
  keikolatam.gitops.ovh_s3_credentials:
    service_name: "{{ ovh_project_id }}"
    user: keiko-production-backups
    fetch_secret: true
  register: s3

- name: Into the cluster, for the backup CronJob
  kubernetes.core.k8s:
    state: present
    definition:
      apiVersion: v1
      kind: Secret
      metadata:
        name: backup-s3
        namespace: keiko
      stringData:
        AWS_ACCESS_KEY_ID: "{{ s3.credentials.access }}"
        AWS_SECRET_ACCESS_KEY: "{{ s3.credentials.secret }}"
  no_log: true
"""

RETURN = r"""
credentials:
  description:
    - The key pair (C(cloud.user.S3Credentials)); with C(secret) when it was created by this task or
      O(fetch_secret=true).
    - With O(state=absent), the last key pair deleted.
  returned: when a key pair exists, is created, or is deleted
  type: dict
  sample: {"access": "5a4d8b9c0e1f2a3b4c5d6e7f8a9b0c1d", "tenantId": "47a6f352a88b5ef67ad9c9ac819c3d51",
           "userId": "0a1b2c3d4e5f60718293a4b5c6d7e8f9"}
user_id:
  description: The numeric ID of the user.
  returned: always
  type: int
actions:
  description: What the task did (or, in check mode, would do), in words.
  returned: changed
  type: list
  elements: str
adopted:
  description: True when the create answered an error but the key pair was created anyway, and was adopted.
  returned: when a key pair was adopted
  type: bool
waited:
  description: How long the task waited for the user, and its last status.
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
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import CLOUD_USER


class OvhS3Credentials(OvhModule):
    resource_key = "credentials"
    what = "S3 key pair"
    id_field = "access"
    not_empty = ("user",)
    argument_spec = dict(
        user=dict(type="str", required=True, aliases=["user_id"]),
        access=dict(type="str", no_log=False),
        fetch_secret=dict(type="bool", default=False, no_log=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )

    def prepare(self):
        self.user = self.pick_cloud_user(self.params["user"], "user")
        self.result["user_id"] = self.user["id"]

    @property
    def base(self):
        return "%s/user/%s/s3Credentials" % (self.project_path, self.user["id"])

    def item_path(self, oid):
        return "%s/%s" % (self.base, oid)

    def find(self):
        """The user's first key pair (its last with O(state=absent)), or the pair O(access)."""
        self.pairs = [c for c in sorted(self.client.get(self.base) or [], key=lambda c: c.get("access") or "")
                      if self.params["access"] in (None, c.get("access"))]
        if not self.pairs:
            return None
        return self.pairs[-1 if self.params["state"] == "absent" else 0]

    def preflight(self, current):
        p = self.params
        if current is None and p["state"] == "present" and p["access"] is not None:
            self.fail("User %s has no S3 key pair %s; the API chooses the access key of a new pair, so leave "
                      "access unset to create one." % (self.user.get("description"), p["access"]))

    def read_back(self, obj, created=False):
        return obj  # the answer of the create (the only one that shows the secret)

    def decorate(self, obj):
        if self.params["fetch_secret"] and not obj.get("secret") and not self.module.check_mode:
            # A POST that changes nothing; still, check mode sends no POST at all.
            return {"credentials": dict(obj, secret=self.secret(obj))}
        return {}

    def secret(self, pair):
        return (self.client.post(self.item_path(pair["access"]) + "/secret", idempotent=True) or {}).get("secret")

    def plan_create(self):
        label = self.user.get("description") or self.user["id"]

        def create():
            if self.user.get("status") != "ok" and self.params["wait"]:
                self.wait_for("until_ready", self.fetcher("%s/user/%s" % (self.project_path, self.user["id"])),
                              CLOUD_USER, label)
            return self.send_create()

        return Plan(None).add("create an S3 key pair for user %s" % label, create, creates=True,
                              after=dict(userId=self.user.get("openstackId"), tenantId=self.params["service_name"]))

    def send_create(self):
        """POST a key pair. After a 5xx or a timeout the POST is not resent while its pair may exist: a pair
        that appears is the one it created (there was none before), and its secret is read. Only when no
        pair appears within the grace period is the create sent again (CREATE_RESEND times at most)."""
        def adopt(found, exc, _earlier):
            self.module.warn("The create of the S3 key pair answered %s %s but the pair was created; it has been "
                             "adopted." % (exc.http_status or "", exc.message))
            return dict(found, secret=self.secret(found))

        return self.create_or_adopt(self.base, None, lambda: (self.client.get(self.base) or [None])[0],
                                    "the S3 key pair", conflict=False, adopt=adopt)

    def plan_absent(self, current):
        plan = Plan(dict(credentials=self.pairs) if self.pairs else None)
        for pair in self.pairs:
            plan.add("delete S3 key pair %s of user %s" % (pair["access"], self.user.get("description")),
                     lambda pair=pair: self.client.delete(self.item_path(pair["access"])))
        plan.after = None
        return plan


def main():
    OvhS3Credentials().main()


if __name__ == "__main__":
    main()
