#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: argocd_application_sync
short_description: Refresh and sync an Argo CD application, and wait until it is Synced and Healthy
version_added: 0.2.0
description:
  - Has Argo CD refresh the application from git (C(GET /api/v1/applications/{name}?refresh=normal)), so that a
    commit just pushed is seen at once instead of at the next 3-minute polling.
  - Then, with O(sync), starts a sync (C(POST /api/v1/applications/{name}/sync)) when the application is
    C(OutOfSync) or not at the revision asked for.
  - An operation that already runs (an automated sync started by the refresh; Argo CD answers "another
    operation is already in progress") is not an error. The module waits for it to end and syncs afterwards
    only if that is still needed.
  - With O(wait), waits until no operation runs and the application is C(Synced) and C(Healthy) (at
    O(wait_for_revision) when it is given), with the one waiter of the collection.
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.argocd
attributes:
  check_mode:
    description: Can run in check mode and return the changed status prediction without modifying the target.
    support: full
    details:
      - The application is only read (no refresh, no sync, no wait); C(changed) says whether a sync would
        be started (O(sync) and C(OutOfSync) or not at O(revision) or O(wait_for_revision), and no operation
        running).
options:
  name:
    description:
      - The name of the Application (its C(metadata.name)).
    type: str
    required: true
  refresh:
    description:
      - V(normal) compares the application with git again first, V(hard) also drops the cached manifests,
        V(no) uses the state Argo CD has.
    type: str
    choices: ["no", normal, hard]
    default: normal
  sync:
    description:
      - Start a sync when one is needed. V(false) only refreshes and waits (for an application with an
        automated sync policy, which syncs by itself).
    type: bool
    default: true
  revision:
    description:
      - The git revision (a commit sha, a branch or a tag) to sync to, instead of the application's
        C(targetRevision). A sync is started unless the synced revision is this sha (a branch or tag always
        starts one).
      - With O(wait), a sync started to a sha is waited for until its operation succeeded at that commit and the
        application is C(Healthy); its sync status may stay C(OutOfSync), Argo CD comparing it with
        C(targetRevision).
    type: str
  prune:
    description:
      - Delete the resources that are no longer in git during the sync.
    type: bool
    default: false
  strategy:
    description:
      - The sync strategy, V(hook) (run the sync hooks, as Argo CD does by default) or V(apply) (apply only).
    type: str
    choices: [hook, apply]
    default: hook
  wait:
    description:
      - Wait until no operation runs and the application is C(Synced) and C(Healthy). V(false) returns after
        the sync is started (or right away when an operation already runs, with a warning).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait at most, greater than 0, for the whole task (an operation that runs, the sync, the
        health). The task then fails with the last status in the message and the application in the result.
    type: int
    default: 600
  wait_for_revision:
    description:
      - A git commit sha (7 to 40 hex digits). Wait until the application is synced at that commit (both its
        C(status.sync.revision) and the last operation's C(syncResult.revision)) and C(Synced) and C(Healthy),
        for example the commit a deploy just pushed.
    type: str
  fail_on_degraded:
    description:
      - Stop waiting and fail as soon as the application is C(Degraded) (once no operation runs, at
        O(wait_for_revision) when it is given) or an operation that started during the task ended C(Failed) or
        C(Error). The message names each Deployment that is not C(Healthy) with Argo CD's message for it
        (for example a Deployment that exceeded its C(progressDeadlineSeconds)).
      - Without it, the task waits through a C(Degraded) state (Argo CD may still heal it) until O(wait_timeout).
      - A sync that this task started and that ended C(Failed) or C(Error) always fails the task.
    type: bool
    default: false
notes:
  - The wait polls the application every 2 seconds.
seealso:
  - module: keikolatam.gitops.argocd_application_info
"""

EXAMPLES = r"""
- name: Deploy the commit just pushed, and fail fast when the new pods never become ready
  keikolatam.gitops.argocd_application_sync:
    api_url: "{{ keiko_argocd.api_url }}"
    username: "{{ keiko_argocd.username }}"
    password: "{{ keiko_argocd.password }}"
    name: keiko-staging
    wait_for_revision: "{{ release.commit }}"
    fail_on_degraded: true
    wait_timeout: 300
  register: synced

- name: An application with an automated sync policy, refreshed and waited for until it has synced by itself
  keikolatam.gitops.argocd_application_sync:
    api_url: "{{ keiko_argocd.api_url }}"
    token: "{{ argocd_token }}"
    name: keiko-dev
    sync: false
    wait_for_revision: "{{ release.commit }}"

- name: The connection options once for every Argo CD task
  module_defaults:
    group/keikolatam.gitops.argocd:
      api_url: "{{ keiko_argocd.api_url }}"
      username: "{{ keiko_argocd.username }}"
      password: "{{ keiko_argocd.password }}"
      validate_certs: "{{ keiko_argocd.validate_certs }}"
  block:
    - name: Sync with pruning
      keikolatam.gitops.argocd_application_sync:
        name: keiko-production
        prune: true
"""

RETURN = r"""
application:
  description:
    - The application when the task ended, as M(keikolatam.gitops.argocd_application_info) returns it
      (sync and health status, synced revision, last operation, conditions, the live images, health and message of
      each Deployment under C(workloads), and the history).
  returned: success, and on a failure after the application was read (a timeout, Degraded, a failed sync)
  type: dict
  sample:
    name: keiko-staging
    sync_status: Synced
    health_status: Healthy
    revision: 9f1c2ab0d5e4c3b2a1f0e9d8c7b6a5f4e3d2c1b0
    operation_phase: Succeeded
    workloads: {identity: {images: [registry.example.com/keiko/identity:0.2.0], health: Healthy, message: null,
                           live: true}}
sync_started:
  description: Whether the task started a sync (in check mode, whether it would).
  returned: always
  type: bool
waited:
  description: How long the task waited, in seconds, and the last status it saw.
  returned: when it waited
  type: dict
  sample: {seconds: 12.4, status: "sync Synced, health Healthy, revision 9f1c2ab0d5e4, last operation Succeeded"}
unhealthy:
  description: Each Deployment that is not C(Healthy), with its health and Argo CD's message for it.
  returned: when the task fails on Degraded, a failed sync or a timeout
  type: list
  elements: str
  sample: ['Deployment identity: Degraded: Deployment "identity" exceeded its progress deadline']
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
    CONNECTION_ARGS, CONNECTION_KWARGS, SHA_RE, ApplicationTarget, ArgoCDError, NoOperation, client_from_params,
    describe, fail_with, needs_sync, operation_key, operation_running, summarize, unhealthy, validate_connection,
    validate_name)
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import WaitError, Waiter

INTERVAL = 2.0
# A sync refused because another operation runs is tried again at most this many times (each after that
# operation ended).
MAX_ROUNDS = 5


class ApplicationSync(object):
    def __init__(self, module, clock=None):
        self.module = module
        self.params = module.params
        self.name = module.params["name"]
        self.client = client_from_params(module.params, clock=clock, log=module.debug)
        self.waiter = Waiter(timeout=module.params["wait_timeout"], interval=INTERVAL, clock=self.client.clock,
                             log=module.debug)
        self.result = {"changed": False, "sync_started": False}
        self.app = None

    def validate(self):
        p = self.params
        problems = validate_connection(p) + validate_name(self.name)
        if p["wait_timeout"] <= 0:
            problems.append("wait_timeout must be a number of seconds greater than 0, got %s" % p["wait_timeout"])
        if p["wait_for_revision"] is not None and not SHA_RE.match(p["wait_for_revision"]):
            problems.append("wait_for_revision must be a git commit sha (7 to 40 lowercase hex digits), got %r"
                            % p["wait_for_revision"])
        if p["revision"] is not None and not p["revision"].strip():
            problems.append("revision must not be empty")
        if p["revision"] and p["wait_for_revision"] and SHA_RE.match(p["revision"]) and not (
                p["revision"].startswith(p["wait_for_revision"]) or p["wait_for_revision"].startswith(p["revision"])):
            problems.append("revision %s and wait_for_revision %s name different commits" % (
                p["revision"], p["wait_for_revision"]))
        if problems:
            self.module.fail_json(msg="; ".join(problems), retries=0, sync_started=False)

    def fetch(self):
        self.app = self.client.application(self.name)
        return self.app

    def remaining(self):
        return max(0.0, self.params["wait_timeout"] - self.waiter.total_seconds)

    def needs_sync(self, app):
        return self.params["sync"] and needs_sync(app, self.params["revision"], self.params["wait_for_revision"])

    def start_sync(self):
        """True when the sync started, False when another operation runs."""
        try:
            self.app = self.client.sync(self.name, revision=self.params["revision"], prune=self.params["prune"],
                                        strategy=self.params["strategy"])
        except ArgoCDError as exc:
            if exc.in_progress:
                return False
            raise
        self.result.update(changed=True, sync_started=True)
        return True

    def run(self):
        self.validate()
        p = self.params
        if self.module.check_mode:
            app = self.fetch()
            would = bool(self.needs_sync(app)) and not operation_running(app)
            self.result.update(changed=would, sync_started=would)
            return self.finish()
        app = self.client.application(self.name, refresh=p["refresh"])
        self.app = app
        since = operation_key(app)
        own = False
        for dummy in range(MAX_ROUNDS):
            if operation_running(self.app):
                if not p["wait"]:
                    if self.needs_sync(self.app):
                        self.module.warn("An operation already runs on Argo CD application %s: no sync was started "
                                         "(wait: false)" % self.name)
                    return self.finish()
                self.wait(NoOperation(), "no operation running")
            if not self.needs_sync(self.app):
                break
            if self.start_sync():
                own = True
                break
            # refused: an operation started meanwhile (an automated sync); wait for it, then look again
            self.fetch()
        if not p["wait"]:
            return self.finish()
        sync_revision = p["revision"] if own and p["revision"] and SHA_RE.match(p["revision"]) else None
        self.wait(ApplicationTarget(revision=p["wait_for_revision"], fail_on_degraded=p["fail_on_degraded"], own=own,
                                    since=since, sync_revision=sync_revision),
                  "synced at %s and Healthy" % sync_revision if sync_revision else "Synced and Healthy")
        return self.finish()

    def wait(self, model, wanted):
        try:
            self.waiter.until_ready(self.fetch, model, self.name, timeout=self.remaining())
        except WaitError as exc:
            self.result["waited"] = {"seconds": round(self.waiter.total_seconds, 3), "status": exc.last_status}
            summary = self.summary()
            bad = unhealthy(summary)
            revision = self.params["wait_for_revision"]
            at = " at revision %s" % revision if revision and wanted != "no operation running" else ""
            if exc.timed_out:
                msg = "Timed out after %ss waiting for Argo CD application %s to be %s%s; last status: %s" % (
                    self.params["wait_timeout"], self.name, wanted, at, exc.last_status)
            else:
                msg = "Argo CD application %s failed%s: %s; status: %s" % (
                    self.name, at, getattr(model, "reason", None) or exc.message, exc.last_status)
            if bad:
                msg += ". Not healthy: %s" % "; ".join(bad)
            self.module.fail_json(msg=msg, application=summary, unhealthy=bad, retries=self.client.retries,
                                  **self.result)
        self.result["waited"] = {"seconds": round(self.waiter.total_seconds, 3), "status": describe(self.app)}

    def summary(self):
        managed = None
        try:
            managed = self.client.managed_resources(self.name)
        except ArgoCDError as exc:
            self.module.warn("Could not read the live resources of %s: %s" % (self.name, exc.message))
        return summarize(self.app, managed)

    def finish(self):
        self.module.exit_json(application=self.summary(), retries=self.client.retries, **self.result)


def main():
    spec = dict(
        CONNECTION_ARGS,
        name=dict(type="str", required=True),
        refresh=dict(type="str", choices=["no", "normal", "hard"], default="normal"),
        sync=dict(type="bool", default=True),
        revision=dict(type="str"),
        prune=dict(type="bool", default=False),
        strategy=dict(type="str", choices=["hook", "apply"], default="hook"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
        wait_for_revision=dict(type="str"),
        fail_on_degraded=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, **CONNECTION_KWARGS)
    runner = ApplicationSync(module)
    try:
        runner.run()
    except ArgoCDError as exc:
        extra = dict((k, v) for k, v in runner.result.items() if k != "waited")
        if runner.app is not None:
            extra["application"] = summarize(runner.app)
        fail_with(module, exc, runner.client, **extra)


if __name__ == "__main__":
    main()
