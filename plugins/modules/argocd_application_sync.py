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
      - One of O(name) and O(names) is required.
    type: str
  names:
    description:
      - Several Applications (for example one per service of an environment), each refreshed and synced as with
        O(name), one after the other, then all waited for at once (an application that is ready is not read
        again); the task fails as soon as one fails. RV(applications) holds them, in this order.
    type: list
    elements: str
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
  - The wait timeout covers the whole task, all the applications of O(names) together.
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

- name: The services changed by a commit, one Application each, synced and waited for together
  keikolatam.gitops.argocd_application_sync:
    api_url: "{{ keiko_argocd.api_url }}"
    token: "{{ argocd_token }}"
    names: [identity-staging, learning-staging]
    wait_for_revision: "{{ release.commit }}"
    fail_on_degraded: true

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
  returned: with O(name), on success and on a failure after the application was read (a timeout, Degraded, a
    failed sync)
  type: dict
  sample:
    name: keiko-staging
    sync_status: Synced
    health_status: Healthy
    revision: 9f1c2ab0d5e4c3b2a1f0e9d8c7b6a5f4e3d2c1b0
    operation_phase: Succeeded
    workloads: {identity: {images: [registry.example.com/keiko/identity:0.2.0], health: Healthy, message: null,
                           live: true}}
applications:
  description: With O(names), each application as RV(application) describes it, in the order of O(names).
  returned: with O(names), on success and on a failure after the applications were read
  type: list
  elements: dict
sync_started:
  description: Whether the task started a sync (of any of the applications; in check mode, whether it would).
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
    CONNECTION_ARGS, CONNECTION_KWARGS, SHA_RE, AllApplications, ApplicationTarget, ArgoCDError, NoOperation,
    app_names, client_from_params, describe, fail_with, needs_sync, operation_key, operation_running, summarize,
    unhealthy, validate_connection)
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import WaitError, Waiter

INTERVAL = 2.0
# A sync refused because another operation runs is tried again at most this many times (each after that
# operation ended).
MAX_ROUNDS = 5


class ApplicationSync(object):
    def __init__(self, module, clock=None):
        self.module = module
        self.params = module.params
        self.names, self.problems = app_names(module.params)
        self.single = module.params.get("names") is None
        self.client = client_from_params(module.params, clock=clock, log=module.debug)
        self.waiter = Waiter(timeout=module.params["wait_timeout"], interval=INTERVAL, clock=self.client.clock,
                             log=module.debug)
        self.result = {"changed": False, "sync_started": False}
        self.apps = {}  # name: the application as last read

    @property
    def app(self):
        """The application last read (of a single ``name``; the first of ``names``)."""
        return self.apps.get(self.names[0]) if self.names else None

    def validate(self):
        p = self.params
        problems = validate_connection(p) + self.problems
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

    def fetch(self, name, refresh=None):
        self.apps[name] = self.client.application(name, refresh=refresh)
        return self.apps[name]

    def remaining(self):
        return max(0.0, self.params["wait_timeout"] - self.waiter.total_seconds)

    def needs_sync(self, app):
        return self.params["sync"] and needs_sync(app, self.params["revision"], self.params["wait_for_revision"])

    def start_sync(self, name):
        """True when the sync started, False when another operation runs."""
        try:
            self.apps[name] = self.client.sync(name, revision=self.params["revision"], prune=self.params["prune"],
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
            would = False
            for name in self.names:
                app = self.fetch(name)
                would = would or (bool(self.needs_sync(app)) and not operation_running(app))
            self.result.update(changed=would, sync_started=would)
            return self.finish()
        # Each application refreshed and its sync started, then all of them waited for at once.
        to_sha = p["revision"] if p["revision"] and SHA_RE.match(p["revision"]) else None
        targets = {}
        for name in self.names:
            own, since = self.start(name)
            if p["wait"]:
                targets[name] = ApplicationTarget(revision=p["wait_for_revision"], own=own, since=since,
                                                  fail_on_degraded=p["fail_on_degraded"],
                                                  sync_revision=to_sha if own else None)
        if not p["wait"]:
            return self.finish()
        started_to_sha = to_sha and self.result["sync_started"]
        self.wait(targets, "synced at %s and Healthy" % to_sha if started_to_sha else "Synced and Healthy")
        return self.finish()

    def start(self, name):
        """Refresh ``name`` and start its sync when one is needed (after an operation that runs). Returns whether
        this task started it and the operation seen first (None, None with wait: false and an operation running)."""
        p = self.params
        app = self.fetch(name, refresh=p["refresh"])
        since = operation_key(app)
        for dummy in range(MAX_ROUNDS):
            if operation_running(self.apps[name]):
                if not p["wait"]:
                    if self.needs_sync(self.apps[name]):
                        self.module.warn("An operation already runs on Argo CD application %s: no sync was started "
                                         "(wait: false)" % name)
                    return None, None
                self.wait({name: NoOperation()}, "no operation running")
            if not self.needs_sync(self.apps[name]):
                return False, since
            if self.start_sync(name):
                return True, since
            # refused: an operation started meanwhile (an automated sync); wait for it, then look again
            self.fetch(name)
        return False, since

    def wait(self, targets, wanted):
        model = AllApplications(targets)

        def fetch():
            for name in model.waiting():
                self.fetch(name)
            return self.apps

        what = ", ".join(targets)
        try:
            self.waiter.until_ready(fetch, model, what, timeout=self.remaining())
        except WaitError as exc:
            self.result["waited"] = {"seconds": round(self.waiter.total_seconds, 3), "status": exc.last_status}
            summaries = self.summaries()
            bad = [line for summary in summaries for line in unhealthy(summary)]
            revision = self.params["wait_for_revision"]
            at = " at revision %s" % revision if revision and wanted != "no operation running" else ""
            apps = "application%s %s" % ("s" if len(targets) > 1 else "", what)
            if exc.timed_out:
                msg = "Timed out after %ss waiting for Argo CD %s to be %s%s; last status: %s" % (
                    self.params["wait_timeout"], apps, wanted, at, exc.last_status)
            else:
                failed = model.failed or what
                msg = "Argo CD application %s failed%s: %s; status: %s" % (
                    failed, at, model.reason or exc.message, describe(self.apps.get(failed)))
            if bad:
                msg += ". Not healthy: %s" % "; ".join(bad)
            self.module.fail_json(msg=msg, unhealthy=bad, retries=self.client.retries,
                                  **dict(self.result, **self.results_of(summaries)))
        self.result["waited"] = {"seconds": round(self.waiter.total_seconds, 3),
                                 "status": model.status_of(self.apps)}

    def summaries(self):
        out = []
        for name in self.names:
            if name not in self.apps:
                continue
            managed = None
            try:
                managed = self.client.managed_resources(name)
            except ArgoCDError as exc:
                self.module.warn("Could not read the live resources of %s: %s" % (name, exc.message))
            out.append(summarize(self.apps[name], managed))
        return out

    def results_of(self, summaries):
        if self.single:
            return {"application": summaries[0]} if summaries else {}
        return {"applications": summaries}

    def finish(self):
        self.module.exit_json(retries=self.client.retries, **dict(self.result, **self.results_of(self.summaries())))


def main():
    spec = dict(
        CONNECTION_ARGS,
        name=dict(type="str"),
        names=dict(type="list", elements="str"),
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
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, mutually_exclusive=[("name", "names")],
                           required_one_of=CONNECTION_KWARGS["required_one_of"] + [("name", "names")])
    runner = ApplicationSync(module)
    try:
        runner.run()
    except ArgoCDError as exc:
        extra = dict((k, v) for k, v in runner.result.items() if k != "waited")
        if runner.single and runner.app is not None:
            extra["application"] = summarize(runner.app)
        elif not runner.single:
            extra["applications"] = [summarize(runner.apps[name]) for name in runner.names if name in runner.apps]
        fail_with(module, exc, runner.client, **extra)


if __name__ == "__main__":
    main()
