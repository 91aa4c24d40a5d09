#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_kube_oidc
short_description: Manage the OpenID Connect provider of an OVHcloud Managed Kubernetes cluster
version_added: 0.1.0
description:
  - Configures (or removes) the OpenID Connect identity provider that the cluster's API server trusts.
  - Only the options that are set are compared and changed; the others keep their values.
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh
  - keikolatam.gitops.ovh.project
  - keikolatam.gitops.ovh.kube_cluster
  - keikolatam.gitops.ovh.wait
  - keikolatam.gitops.ovh.attributes
options:
  state:
    description:
      - V(present) configures the provider, V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  oidc_client_id:
    description:
      - The client ID that the tokens are issued for (C(clientId)). Required with O(state=present).
      - Named so because O(client_id) is the OAuth2 client of the OVH API credentials.
    type: str
  issuer_url:
    description: The issuer URL of the provider, C(https://) only. Required with O(state=present).
    type: str
  ca_content:
    description: The base64-encoded CA certificate that signed the provider's web certificate.
    type: str
  groups_claim:
    description: The JWT claims to read the user's groups from.
    type: list
    elements: str
  groups_prefix:
    description: A prefix for the group names (for example V(oidc:)).
    type: str
  required_claim:
    description: C(key=value) claims that every ID token must carry.
    type: list
    elements: str
  signing_algorithms:
    description: The accepted signing algorithms (the API's default is V(RS256)).
    type: list
    elements: str
    choices: [ES256, ES384, ES512, PS256, PS384, PS512, RS256, RS384, RS512]
  username_claim:
    description: The JWT claim to use as the user name (the API's default is V(sub)).
    type: str
  username_prefix:
    description: A prefix for the user names.
    type: str
notes:
  - After a create answered a 5xx or timed out, the module looks the object up for ten times O(wait_sleep)
    (at most 30 seconds) and adopts it when it was created; otherwise it sends the create again (twice at most).
  - The API server is redeployed after a change; with O(wait) the module waits until the cluster is ready again.
seealso:
  - module: keikolatam.gitops.ovh_kube_cluster
"""

EXAMPLES = r"""
- name: Trust the company's Keycloak
  keikolatam.gitops.ovh_kube_oidc:
    service_name: "{{ ovh_project_id }}"
    cluster: keiko-staging
    oidc_client_id: kubernetes
    issuer_url: https://sso.example.com/realms/keiko
    groups_claim: [groups]
    groups_prefix: "oidc:"
    username_claim: email

- name: Remove the OpenID Connect provider
  keikolatam.gitops.ovh_kube_oidc:
    cluster: keiko-staging
    state: absent
"""

RETURN = r"""
oidc:
  description:
    - The OpenID Connect configuration as the API returns it (camelCase keys), or the predicted one in check mode.
  returned: when it exists
  type: dict
  sample:
    clientId: kubernetes
    issuerUrl: https://sso.example.com/realms/keiko
    groupsClaim: [groups]
    groupsPrefix: "oidc:"
    usernameClaim: email
    usernamePrefix: null
    requiredClaim: null
    signingAlgorithms: null
    caContent: null
cluster_id:
  description: The ID of the cluster.
  returned: always
  type: str
actions:
  description: What the module did (or would do in check mode), in words.
  returned: when changed
  type: list
  elements: str
  sample: ["configure OpenID Connect"]
waited:
  description: How long the module waited for the cluster, in seconds, and the last status it read.
  returned: when the module waited
  type: dict
  sample: {seconds: 30.0, status: READY}
adopted:
  description: True when the create answered an error but the configuration had been created, and was taken over.
  returned: when adopted
  type: bool
retries:
  description: How many API requests were retried (429, 5xx, busy answers).
  returned: always
  type: int
failure:
  description: The API error (HTTP status, OVH error class, message, query id, method and path).
  returned: on an API failure
  type: dict
"""

import base64
import binascii

from ansible_collections.keikolatam.gitops.plugins.module_utils._kube import CLUSTER_ARGS, KubeModule
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import Plan, changed_fields, drop_none, merge

FIELDS = (
    ("oidc_client_id", "clientId"),
    ("issuer_url", "issuerUrl"),
    ("ca_content", "caContent"),
    ("groups_claim", "groupsClaim"),
    ("groups_prefix", "groupsPrefix"),
    ("required_claim", "requiredClaim"),
    ("signing_algorithms", "signingAlgorithms"),
    ("username_claim", "usernameClaim"),
    ("username_prefix", "usernamePrefix"),
)


def is_base64_pem(text):
    """True for the base64 encoding of a PEM certificate (what the API's caContent is)."""
    try:
        decoded = base64.b64decode("".join(text.split()), validate=True).decode("ascii")
    except (binascii.Error, ValueError):
        return False
    return "-----BEGIN CERTIFICATE-----" in decoded


class OvhKubeOidc(KubeModule):
    resource_key = "oidc"
    what = "OpenID Connect configuration"
    return_deleted = False
    not_empty = ("oidc_client_id",)
    argument_spec = dict(
        CLUSTER_ARGS,
        state=dict(type="str", choices=["present", "absent"], default="present"),
        oidc_client_id=dict(type="str"),
        issuer_url=dict(type="str"),
        ca_content=dict(type="str"),
        groups_claim=dict(type="list", elements="str"),
        groups_prefix=dict(type="str"),
        required_claim=dict(type="list", elements="str"),
        signing_algorithms=dict(type="list", elements="str",
                                choices=["ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384",
                                         "RS512"]),
        username_claim=dict(type="str"),
        username_prefix=dict(type="str"),
    )
    module_kwargs = dict(required_if=[("state", "present", ("oidc_client_id", "issuer_url"))])

    def validate(self):
        p = self.params
        if p["issuer_url"] is not None and not p["issuer_url"].startswith("https://"):
            self.fail("issuer_url must be an https:// URL, not %r." % p["issuer_url"])
        for claim in p["required_claim"] or []:
            if "=" not in claim:
                self.fail("required_claim entries are key=value pairs, not %r." % claim)
        if p["ca_content"] is not None and not is_base64_pem(p["ca_content"]):
            self.fail("ca_content must be the base64 encoding of a PEM certificate (base64 -w0 ca.pem), not the "
                      "certificate itself or other text.")

    def prepare(self):
        self.cluster = self.require_cluster(self.params["cluster"])
        self.result["cluster_id"] = self.cluster["id"]
        self.path = self.cluster_path(self.cluster["id"]) + "/openIdConnect"

    def find(self):
        return self.client.get_or_none(self.path)

    def read_back(self, obj, created=False):
        return self.client.get_or_none(self.path)

    def plan_create(self):
        want = drop_none(dict((field, self.params[option]) for option, field in FIELDS))
        return Plan(None).add("configure OpenID Connect (issuer %s)" % want["issuerUrl"], lambda: self.cluster_write(
            self.cluster, lambda: self.create_or_adopt(self.path, want, self.find, "OpenID Connect configuration")),
            after=want)

    def plan_update(self, current):
        want = drop_none(dict((field, self.params[option]) for option, field in FIELDS))
        plan = Plan(current)
        changes = changed_fields(current, want)
        if changes:
            body = drop_none(merge(current, want))
            plan.add("update OpenID Connect (%s)" % ", ".join(sorted(changes)),
                     lambda: self.cluster_write(self.cluster, lambda: self.client.put(self.path, body)),
                     after=merge(current, want))
        return plan

    def plan_absent(self, current):
        if current is None:
            return Plan(None)
        return Plan(current).delete("remove OpenID Connect", lambda: self.cluster_write(
            self.cluster, lambda: self.delete_if_exists(self.path)))


def main():
    OvhKubeOidc().main()


if __name__ == "__main__":
    main()
