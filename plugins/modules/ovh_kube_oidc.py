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
  - keikolatam.gitops.ovh.wait
  - keikolatam.gitops.ovh.attributes
options:
  cluster:
    description:
      - The cluster, by name or ID.
    type: str
    required: true
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

from ansible_collections.keikolatam.gitops.plugins.module_utils._kube import KubeModule
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


class OvhKubeOidc(KubeModule):
    resource_key = "oidc"
    argument_spec = dict(
        cluster=dict(type="str", required=True),
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
        url = self.params["issuer_url"]
        if url is not None and not url.startswith("https://"):
            self.fail("issuer_url must be an https:// URL, not %r." % url)
        for claim in self.params["required_claim"] or []:
            if "=" not in claim:
                self.fail("required_claim entries are key=value pairs, not %r." % claim)

    def desired(self):
        return dict((field, self.params[option]) for option, field in FIELDS)

    def run(self):
        cluster = self.require_cluster(self.params["cluster"])
        cid = cluster["id"]
        path = self.cluster_path(cid) + "/openIdConnect"
        self.result["cluster_id"] = cid
        current = self.client.get_or_none(path)
        plan = Plan(current)
        if self.params["state"] == "absent":
            if current is not None:
                plan.delete("remove OpenID Connect",
                            lambda: self.cluster_write(cluster, lambda: self.delete_if_exists(path)))
            self.execute(plan)
            return
        want = drop_none(self.desired())
        if current is None:
            plan.add("configure OpenID Connect (issuer %s)" % want["issuerUrl"],
                     lambda: self.cluster_write(cluster, lambda: self.create_or_adopt(
                         path, want, lambda: self.client.get_or_none(path), "OpenID Connect configuration")),
                     after=want)
        elif changed_fields(current, want):
            body = drop_none(merge(current, want))
            plan.add("update OpenID Connect (%s)" % ", ".join(sorted(changed_fields(current, want))),
                     lambda: self.cluster_write(cluster, lambda: self.client.put(path, body)), after=merge(current, want))
        applied = self.execute(plan)
        self.result["oidc"] = self.client.get_or_none(path) if applied else plan.after


def main():
    OvhKubeOidc().main()


if __name__ == "__main__":
    main()
