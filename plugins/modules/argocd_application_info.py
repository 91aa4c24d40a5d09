#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: argocd_application_info
short_description: The sync and health state, the live images and the history of an Argo CD application
version_added: 0.2.0
description:
  - Reads an Argo CD Application through the REST API of the Argo CD API server
    (C(GET /api/v1/applications/{name})), optionally refreshed first, and the live state of its Deployments
    (C(GET /api/v1/applications/{name}/managed-resources)).
  - The images of RV(application.workloads) are what runs in the cluster (the live Deployments), not what a
    file in git says; a promotion reads them from the source environment.
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.argocd
attributes:
  check_mode:
    description: Can run in check mode and return the changed status prediction without modifying the target.
    support: full
    details: The module changes nothing. In check mode O(refresh) is not sent (the application is only read).
options:
  name:
    description:
      - The name of the Application (its C(metadata.name)).
      - One of O(name) and O(names) is required.
    type: str
  names:
    description:
      - Several Applications (for example one per service of an environment), read one after the other; the
        result is RV(applications), in this order.
    type: list
    elements: str
  refresh:
    description:
      - V(normal) has Argo CD compare the application with git again before it answers (what a push needs,
        instead of waiting for the 3-minute polling); V(hard) also drops the cached manifests; V(no) reads the
        state Argo CD has.
    type: str
    choices: ["no", normal, hard]
    default: "no"
seealso:
  - module: keikolatam.gitops.argocd_application_sync
"""

EXAMPLES = r"""
- name: What runs in staging
  keikolatam.gitops.argocd_application_info:
    api_url: "{{ keiko_argocd.api_url }}"
    username: "{{ keiko_argocd.username }}"
    password: "{{ keiko_argocd.password }}"
    name: keiko-staging
    refresh: normal
  register: staging

- name: Refuse to promote from an environment that is not Synced and Healthy
  ansible.builtin.assert:
    that:
      - staging.application.sync_status == 'Synced'
      - staging.application.health_status == 'Healthy'
    fail_msg: "staging is {{ staging.application.sync_status }}/{{ staging.application.health_status }}"

- name: What runs of two services, one Application each
  keikolatam.gitops.argocd_application_info:
    api_url: "{{ keiko_argocd.api_url }}"
    token: "{{ argocd_token }}"
    names: [identity-staging, learning-staging]
  register: services

- name: The image of each service as it runs
  ansible.builtin.debug:
    msg: "{{ item.key }}: {{ item.value.images | join(', ') }}"
  loop: "{{ staging.application.workloads | dict2items }}"
"""

RETURN = r"""
applications:
  description: With O(names), each application as RV(application) describes it, in the order of O(names).
  returned: with O(names), on success and on a failure after an application was read
  type: list
  elements: dict
application:
  description: The application.
  returned: with O(name), on success and on a failure after the application was read
  type: dict
  contains:
    name:
      description: The name of the Application.
      type: str
      sample: keiko-staging
    project:
      description: Its AppProject.
      type: str
      sample: keiko-staging
    target_revision:
      description: The revision of git it follows (C(spec.source.targetRevision)).
      type: str
      sample: main
    auto_sync:
      description: Whether its sync policy is automated.
      type: bool
    sync_status:
      description: C(Synced), C(OutOfSync) or C(Unknown).
      type: str
      sample: Synced
    health_status:
      description: C(Healthy), C(Progressing), C(Degraded), C(Suspended), C(Missing) or C(Unknown).
      type: str
      sample: Healthy
    health_message:
      description: The message of its health, if any.
      type: str
    revision:
      description: The git commit the live state was compared with (C(status.sync.revision)).
      type: str
      sample: a718e168b2aba0763cfb9ce3a95eb4b767efa044
    operation_running:
      description: Whether an operation (a sync) is requested or runs.
      type: bool
    operation_phase:
      description: The phase of the last operation (C(Running), C(Succeeded), C(Failed), C(Error), C(Terminating)).
      type: str
      sample: Succeeded
    operation_message:
      description: The message of the last operation.
      type: str
      sample: successfully synced (all tasks run)
    operation_revision:
      description: The git commit of the last sync operation (C(operationState.syncResult.revision)).
      type: str
    conditions:
      description: The application's conditions (errors and warnings), each with C(type) and C(message).
      type: list
      elements: dict
      sample: [{type: ComparisonError, message: "Failed to load target state: ..."}]
    images:
      description: The images Argo CD lists for the application (C(status.summary.images)).
      type: list
      elements: str
      sample: [registry.example.com/keiko/identity:0.2.0]
    workloads:
      description:
        - Each Deployment of the application by name, from its LIVE state in the cluster.
        - C(images) are the container images of its live pod template, C(health) and C(message) Argo CD's
          health of it (C(Missing) when it does not exist), C(live) whether it exists.
      type: dict
      sample: {identity: {images: [registry.example.com/keiko/identity:0.2.0], health: Healthy, message: null,
                          live: true}}
    history:
      description: The syncs Argo CD recorded, oldest first, each with C(id), C(revision) and C(deployed_at).
      type: list
      elements: dict
      sample: [{id: 0, revision: a718e168b2aba0763cfb9ce3a95eb4b767efa044, deployed_at: "2026-12-01T22:59:11Z"}]
retries:
  description: How many requests were sent again (no answer, 5xx).
  returned: always
  type: int
failure:
  description: The request that failed (C(status), the gRPC C(code), C(message), C(method), C(path)).
  returned: on an API failure
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.keikolatam.gitops.plugins.module_utils._argocd import (
    CONNECTION_ARGS, CONNECTION_KWARGS, ArgoCDError, app_names, client_from_params, fail_with, summarize,
    validate_connection)


def main():
    spec = dict(CONNECTION_ARGS, name=dict(type="str"), names=dict(type="list", elements="str"),
                refresh=dict(type="str", choices=["no", "normal", "hard"], default="no"))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, mutually_exclusive=[("name", "names")],
                           required_one_of=CONNECTION_KWARGS["required_one_of"] + [("name", "names")])
    names, problems = app_names(module.params)
    problems = validate_connection(module.params) + problems
    if problems:
        module.fail_json(msg="; ".join(problems), retries=0)
    client = client_from_params(module.params, log=module.debug)
    refresh = None if module.check_mode else module.params["refresh"]
    single = module.params["names"] is None
    done = []
    try:
        for name in names:
            app = None
            app = client.application(name, refresh=refresh)
            done.append(summarize(app, client.managed_resources(name)))
    except ArgoCDError as exc:
        if app is not None:
            done.append(summarize(app))
        fail_with(module, exc, client, **(({"application": done[0]} if done else {}) if single
                                          else {"applications": done}))
    module.exit_json(changed=False, retries=client.retries,
                     **({"application": done[0]} if single else {"applications": done}))


if __name__ == "__main__":
    main()
