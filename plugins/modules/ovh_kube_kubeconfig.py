#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovh_kube_kubeconfig
short_description: Fetch the kubeconfig of an OVHcloud Managed Kubernetes cluster, or reset it
version_added: 0.1.0
description:
  - Fetches the cluster's admin kubeconfig (C(POST .../kube/{kubeId}/kubeconfig), a POST that changes
    nothing) on every run, and writes it to O(dest) or returns it.
  - O(dest) is written atomically (a temporary file in the same directory, then a rename) with mode C(0600),
    and only when its content or mode differ. The client key and certificate then never appear in the
    result, the diff or a log.
  - Without O(dest), the kubeconfig is returned in RV(kubeconfig). A task result that carries it is hidden from
    the output (as with C(no_log), even with C(-vvv)), but C(register) still receives it.
  - O(reset=true) regenerates the kubeconfig first (C(POST .../kubeconfig/reset)), which revokes the previous
    one. B(Not idempotent:) it runs on every run where it is set.
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh
  - keikolatam.gitops.ovh.project
  - keikolatam.gitops.ovh.kube_cluster
  - keikolatam.gitops.ovh.wait
  - keikolatam.gitops.ovh.attributes
attributes:
  check_mode:
    details:
      - Nothing is written and nothing is reset. When O(dest) exists, the kubeconfig is fetched (a read-only
        POST) to tell whether it would change; when it does not exist, nothing is fetched.
  diff_mode:
    details:
      - Only with O(dest). The diff shows the kubeconfig's structure, server and CA; every other value (the client
        key, certificate, token...) is replaced by a fingerprint, so a new key shows as a change.
options:
  dest:
    description:
      - Where to write the kubeconfig. Missing parent directories are created with mode C(0700).
      - The file always gets mode C(0600).
      - Without O(dest), the content is returned in RV(kubeconfig) and the task result is hidden from the
        output.
    type: path
  reset:
    description:
      - Regenerate the kubeconfig (C(POST .../kubeconfig/reset)) and wait until the cluster is ready before
        fetching the new one. The old kubeconfig stops working.
      - B(Not idempotent:) reported as a change and run on every run where it is set.
    type: bool
    default: false
notes:
  - The kubeconfig gives cluster-admin rights. Keep O(dest) out of version control.
  - O(wait) does not apply to O(reset=true), which always waits (the new kubeconfig is only served once the
    cluster is ready again).
  - A registered RV(kubeconfig) is the secret itself. Do not print it, and prefer O(dest) to writing it with
    another module (M(ansible.builtin.copy) shows the content in diff mode unless the task sets C(diff=false)).
  - C(async) is refused unless the task is C(no_log), because the result of an async task is read later by
    C(async_status), which cannot hide it.
seealso:
  - module: keikolatam.gitops.ovh_kube_cluster
  - module: kubernetes.core.k8s
"""

EXAMPLES = r"""
- name: Write the kubeconfig for the bootstrap playbook
  keikolatam.gitops.ovh_kube_kubeconfig:
    service_name: "{{ ovh_project_id }}"
    cluster: keiko-staging
    dest: "{{ playbook_dir }}/../.kube/keiko-staging.yaml"
  register: kubeconfig

- name: Use it
  kubernetes.core.k8s_info:
    kubeconfig: "{{ kubeconfig.dest }}"
    kind: Node

- name: Keep the kubeconfig in memory only (the result is hidden from the output, register gets it)
  keikolatam.gitops.ovh_kube_kubeconfig:
    cluster: keiko-staging
  register: kc

- name: Use it without writing it to disk (no_log, as the task's arguments hold it)
  kubernetes.core.k8s_info:
    kubeconfig: "{{ kc.kubeconfig | from_yaml }}"
    kind: Namespace
  no_log: true

- name: Revoke the current kubeconfig and write the new one (runs every time)
  keikolatam.gitops.ovh_kube_kubeconfig:
    cluster: keiko-staging
    dest: ~/.kube/keiko-staging.yaml
    reset: true
"""

RETURN = r"""
dest:
  description: The path of the kubeconfig file.
  returned: when O(dest) is set
  type: str
  sample: /home/deploy/.kube/keiko-staging.yaml
mode:
  description: The mode of the file (added by Ansible for O(dest)), always V(0600) once written.
  returned: when O(dest) exists
  type: str
  sample: "0600"
owner:
  description: The owner of the file.
  returned: when O(dest) exists
  type: str
group:
  description: The group of the file.
  returned: when O(dest) exists
  type: str
uid:
  description: The owner's UID.
  returned: when O(dest) exists
  type: int
gid:
  description: The group's GID.
  returned: when O(dest) exists
  type: int
size:
  description: The size of the file in bytes.
  returned: when O(dest) exists
  type: int
state:
  description: V(file) once written, V(absent) when O(dest) does not exist (check mode).
  returned: when O(dest) is set
  type: str
kubeconfig:
  description:
    - The kubeconfig (YAML text), with the client key. The task result that carries it is hidden from the output,
      C(register) receives it.
  returned: when O(dest) is not set
  type: str
host:
  description: The API server URL of the cluster.
  returned: when the kubeconfig was fetched
  type: str
  sample: https://xxxxxx.c1.gra11.k8s.ovh.net
certificate_authority_data:
  description: The cluster's CA certificate, base64-encoded PEM, as in the kubeconfig.
  returned: when the kubeconfig was fetched
  type: str
cluster_id:
  description: The ID of the cluster.
  returned: always
  type: str
reset:
  description: True when the kubeconfig was reset (or would be, in check mode).
  returned: always
  type: bool
actions:
  description: What the module did (or would do in check mode), in words.
  returned: when changed
  type: list
  elements: str
  sample: ["reset the kubeconfig", "write /home/deploy/.kube/keiko-staging.yaml"]
waited:
  description: How long the module waited for the cluster, in seconds, and the last status it read.
  returned: when the module waited
  type: dict
  sample: {seconds: 42.0, status: READY}
retries:
  description: How many API requests were retried (429, 5xx, busy answers).
  returned: always
  type: int
failure:
  description: The API error (HTTP status, OVH error class, message, query id, method and path).
  returned: on an API failure
  type: dict
"""

import hashlib
import os
import tempfile

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    HAS_YAML = False

from ansible_collections.keikolatam.gitops.plugins.module_utils._kube import CLUSTER_ARGS, KubeModule
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import Plan

FILE_MODE = 0o600
# kubeconfig user fields that are secrets.
SECRET_USER_FIELDS = ("client-key-data", "client-certificate-data", "token", "password")
# The values a diff shows ("*" is any list item); every other value is replaced by a fingerprint.
PUBLIC_PATHS = frozenset([
    ("apiVersion",), ("kind",), ("current-context",),
    ("clusters", "*", "name"), ("clusters", "*", "cluster", "server"),
    ("clusters", "*", "cluster", "certificate-authority-data"),
    ("contexts", "*", "name"), ("contexts", "*", "context", "cluster"), ("contexts", "*", "context", "user"),
    ("users", "*", "name"),
])


def parse_kubeconfig(content):
    """(host, CA data, secrets) of a kubeconfig; secrets are the values never to show."""
    try:
        data = yaml.safe_load(content) or {}
    except yaml.YAMLError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    clusters = data.get("clusters") or [{}]
    cluster = (clusters[0] or {}).get("cluster") or {}
    secrets = []
    for user in data.get("users") or []:
        for field in SECRET_USER_FIELDS:
            value = ((user or {}).get("user") or {}).get(field)
            if isinstance(value, str) and value:
                secrets.append(value)
    return cluster.get("server"), cluster.get("certificate-authority-data"), secrets


def fingerprint(value):
    return "<redacted, sha256 %s>" % hashlib.sha256(str(value).encode("utf-8")).hexdigest()[:12]


def _redact(node, path):
    if isinstance(node, dict):
        return dict((key, _redact(value, path + (str(key),))) for key, value in node.items())
    if isinstance(node, list):
        return [_redact(value, path + ("*",)) for value in node]
    if node is None or isinstance(node, bool) or path in PUBLIC_PATHS:
        return node
    return fingerprint(node)


def redacted_text(content):
    """The kubeconfig for a diff: only its structure and public values (server, CA, names); any other value
    (client key, certificate, token, exec or auth-provider settings) is a short fingerprint, so a change
    shows. Text that is not YAML is one fingerprint."""
    if content is None:
        return ""
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError:
        return "# not YAML, %d bytes, %s\n" % (len(content), fingerprint(content))
    return yaml.safe_dump(_redact(data, ()), default_flow_style=False, sort_keys=False)


def write_atomic(dest, content, mode=FILE_MODE):
    """Write ``content`` to ``dest``: temp file in the same directory, fsync, chmod, rename."""
    directory = os.path.dirname(dest) or "."
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(dest), dir=directory)
    try:
        with os.fdopen(fd, "w") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def unwritable(dest):
    """Why ``dest`` cannot be written (its nearest existing directory is a file, or is not writable), or None.
    Checked before anything is sent: a reset revokes the old kubeconfig."""
    parent = os.path.dirname(os.path.abspath(dest))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return "%s is not a directory" % parent
    if not os.access(parent, os.W_OK | os.X_OK):
        return "the directory %s is not writable" % parent
    return None


class OvhKubeKubeconfig(KubeModule):
    argument_spec = dict(
        CLUSTER_ARGS,
        dest=dict(type="path"),
        reset=dict(type="bool", default=False),
    )

    def validate(self):
        if not HAS_YAML:
            self.fail("PyYAML is required.")
        dest = self.params["dest"]
        if dest and os.path.isdir(dest):
            self.fail("dest %s is a directory; give a file path." % dest)
        problem = unwritable(dest) if dest else None
        if problem:
            self.fail("dest %s cannot be written: %s." % (dest, problem))

    def fetch(self, cluster):
        # The API serves no kubeconfig while the cluster installs.
        cluster_id = self.cluster_stable(cluster)["id"]
        answer = self.client.post(self.cluster_path(cluster_id) + "/kubeconfig", idempotent=True) or {}
        content = answer.get("content")
        if not content:
            self.fail("The API answered without a kubeconfig for cluster %r." % self.params["cluster"])
        host, ca, secrets = parse_kubeconfig(content)
        if self.params["dest"]:
            # Nothing returned holds them; mask them wherever they could leak (warnings, errors). Without
            # dest they are returned: the action plugin hides the result (masking would blank them).
            self.module.no_log_values.update([content] + secrets)
        return content, host, ca

    @staticmethod
    def read_file(dest):
        """(content, mode) of ``dest``, or (None, None)."""
        try:
            with open(dest) as fh:
                content = fh.read()
            return content, os.stat(dest).st_mode & 0o7777
        except (IOError, OSError):
            return None, None

    def run(self):
        p = self.params
        cluster = self.require_cluster(p["cluster"])
        cid = cluster["id"]
        dest = p["dest"]
        self.result.update(cluster_id=cid, reset=p["reset"])
        if dest:
            self.result["dest"] = dest

        if p["reset"]:
            plan = Plan({})
            plan.add("reset the kubeconfig", lambda: self._reset(cluster))
            self.execute(plan)
            if self.module.check_mode:
                return
        before, mode = self.read_file(dest) if dest else (None, None)
        content = host = ca = None
        if not (self.module.check_mode and dest and before is None):
            content, host, ca = self.fetch(cluster)
            self.result.update(host=host, certificate_authority_data=ca)
        if not dest:
            self.result["kubeconfig"] = content
            return

        plan = Plan({})
        if content is None or before != content:
            plan.add("write %s" % dest, lambda: self._write(dest, content))
        elif mode != FILE_MODE:
            plan.add("set mode 0600 on %s" % dest, lambda: os.chmod(dest, FILE_MODE))
        self.execute(plan)
        if self.module._diff:
            # A text diff of the file (the plan's dict diff would not show it), secrets fingerprinted.
            after = "(the kubeconfig of cluster %s)\n" % cluster.get("name") if content is None else content
            diff = {"before_header": dest, "after_header": dest,
                    "before": redacted_text(before), "after": redacted_text(after) if content else after}
            if mode is not None and mode != FILE_MODE:
                diff["before"] += "# mode %04o\n" % mode
            self.result["diff"] = diff

    def _reset(self, cluster):
        self.cluster_stable(cluster)
        self.post_action(self.cluster_path(cluster["id"]) + "/kubeconfig/reset", None, cluster["id"])
        self.cluster_ready(cluster["id"], cluster.get("name"))

    def _write(self, dest, content):
        parent = os.path.dirname(dest)
        if parent and not os.path.isdir(parent):
            os.makedirs(parent, 0o700)
        write_atomic(dest, content)


def main():
    OvhKubeKubeconfig().main()


if __name__ == "__main__":
    main()
