#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: secret_manager_secret
short_description: Write a secret into OVHcloud Secret Manager through its Vault KV2-compatible API
version_added: 0.2.0
description:
  - Writes a secret (a set of string keys and values) at a path of an OVHcloud Secret Manager OKMS domain, through
    the domain's HashiCorp Vault KV2-compatible API (C(<server>/api/<okms_id>/v1/secret/data/<path>)) with token
    authentication (C(X-Vault-Token)). The External Secrets Operator's C(ovh) provider reads it from there, so the
    credentials provisioning generated reach the cluster without ever going into git.
  - The latest version is read first; a new version is written only when O(data) differs from it (the whole set of
    keys and values is compared), with the version read as the check-and-set parameter (C(options.cas)), so a
    concurrent writer makes the task fail instead of being overwritten. A second run with the same O(data) changes
    nothing.
  - The values are secrets, never returned, logged or shown in a diff; only the keys are.
  - O(state=absent) deletes the secret with all its versions (C(DELETE .../metadata/<path>)).
  - A refused token (HTTP 401 or 403) is not retried; 5xx answers and transport errors are retried twice.
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.ovh.attributes
attributes:
  check_mode:
    details:
      - Reads the latest version and predicts the action and the version a write would create, without writing.
  diff_mode:
    details:
      - The keys before and after, every value redacted; a changed value shows as C(<redacted, changed>), a new key
        as C(<redacted, new>).
options:
  server:
    description:
      - The OKMS domain's regional endpoint, for example C(https://eu-west-rbx.okms.ovh.net).
      - It must be an C(https) URL; C(http) is accepted only to a loopback address (a local emulator).
    type: str
    required: true
  okms_id:
    description:
      - The ID (a UUID) of the OKMS domain that holds the secret.
    type: str
    required: true
  token:
    description:
      - A token of the OKMS domain allowed to read and write O(path).
    type: str
    required: true
  path:
    description:
      - "The secret's path in the domain, for example C(keiko/production/api/database). Surrounding slashes are
        ignored; an empty path, an empty, C(.) or C(..) part, or characters other than letters, digits and
        C(._~@=+,:-) are refused."
    type: str
    required: true
  data:
    description:
      - The secret's keys and values. Values must be strings (quote numbers such as ports in YAML).
      - Required with O(state=present). The whole set is written, so a key that is not in O(data) is not in the new
        version.
    type: dict
  state:
    description:
      - V(present) writes O(data) as the latest version; V(absent) deletes the secret with all its versions.
    type: str
    choices: [present, absent]
    default: present
  timeout:
    description:
      - Seconds to wait for each answer.
    type: int
    default: 30
  validate_certs:
    description:
      - Verify the server's TLS certificate.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file of the certificate authorities to verify the server with (by default the system's).
    type: path
notes:
  - The OKMS domain's token authentication is the only one its Vault-compatible endpoint accepts; Vault's other
    auth methods (Kubernetes, AppRole) do not exist there.
"""

EXAMPLES = r"""
- name: Publish the API's database credentials for External Secrets
  keikolatam.gitops.secret_manager_secret:
    server: https://eu-west-rbx.okms.ovh.net
    okms_id: 734b9b45-8b1a-469c-b140-b10bd6540017
    token: "{{ okms_token }}"
    path: keiko/production/api/database
    data:
      user: api
      password: "{{ api_db_password }}"
      host: postgresql-abc.database.cloud.ovh.net
      port: "20184"
      database: api
      sslmode: require

- name: Remove a secret with all its versions
  keikolatam.gitops.secret_manager_secret:
    server: https://eu-west-rbx.okms.ovh.net
    okms_id: 734b9b45-8b1a-469c-b140-b10bd6540017
    token: "{{ okms_token }}"
    path: keiko/production/old-service/database
    state: absent
"""

RETURN = r"""
secret:
  description: The secret as it is (or, in check mode, would be) after the task; never its values.
  returned: always
  type: dict
  contains:
    path:
      description: The secret's path (without surrounding slashes).
      type: str
      sample: keiko/production/api/database
    okms_id:
      description: The OKMS domain's ID.
      type: str
      sample: 734b9b45-8b1a-469c-b140-b10bd6540017
    version:
      description: The latest version (the one written when the task changed something); V(0) when the secret does not exist.
      type: int
      sample: 3
    keys:
      description: The keys of the latest version, sorted (empty when the secret does not exist).
      type: list
      elements: str
      sample: [database, host, password, port, sslmode, user]
    exists:
      description: Whether the secret exists after the task.
      type: bool
      sample: true
"""

import uuid

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.keikolatam.gitops.plugins.module_utils._secret_manager import (
    CAS_MISMATCH,
    SecretManagerClient,
    SecretManagerError,
    check_server,
    normalize_path,
)

ARGUMENT_SPEC = dict(
    server=dict(type="str", required=True),
    okms_id=dict(type="str", required=True),
    token=dict(type="str", required=True, no_log=True),
    path=dict(type="str", required=True),
    data=dict(type="dict", no_log=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    timeout=dict(type="int", default=30),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
)
REDACTED = "<redacted>"


def _is_uuid(value):
    try:
        return str(uuid.UUID(value)) == value.lower()
    except (ValueError, AttributeError, TypeError):
        return False


class SecretManagerSecret(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.path = None

    def check_input(self):
        """Every problem of the options in one message, before any request."""
        p = self.params
        problems = []
        server_problem = check_server(p["server"])
        if server_problem:
            problems.append(server_problem)
        if not _is_uuid(p["okms_id"] or ""):
            problems.append("okms_id must be the OKMS domain's UUID, got %r" % p["okms_id"])
        if not (p["token"] or "").strip():
            problems.append("token must not be empty")
        self.path = normalize_path(p["path"])
        if self.path is None:
            problems.append("path must be a non-empty secret path without empty, '.' or '..' parts and with only "
                            "letters, digits and ._~@=+,:- in its parts, got %r" % p["path"])
        if p["timeout"] <= 0:
            problems.append("timeout must be a positive number of seconds, got %s" % p["timeout"])
        if p["state"] == "present":
            data = p["data"]
            if not data:
                problems.append("data (at least one key) is required with state=present")
            else:
                bad = sorted(k for k, v in data.items() if not isinstance(v, str))
                if bad:
                    problems.append("the values of data must be strings (quote numbers): not a string at %s"
                                    % ", ".join(bad))
                if any(not k for k in data):
                    problems.append("the keys of data must not be empty")
        elif p["data"] is not None:
            problems.append("data is not used with state=absent")
        if problems:
            self.module.fail_json(msg="Invalid options: " + "; ".join(problems))

    def result(self, changed, version, keys, exists, diff=None):
        out = dict(changed=changed, secret=dict(path=self.path, okms_id=self.params["okms_id"], version=version,
                                                keys=sorted(keys), exists=exists))
        if diff is not None and self.module._diff:
            out["diff"] = diff
        return out

    def run(self):
        p = self.params
        client = SecretManagerClient(p["server"], p["okms_id"].lower(), p["token"], timeout=p["timeout"],
                                     validate_certs=p["validate_certs"], ca_path=p["ca_path"])
        current, version = client.read(self.path)
        exists = version > 0
        before = {"path": self.path, "data": dict((k, REDACTED) for k in sorted(current or {}))} if exists else {}
        if p["state"] == "absent":
            if not exists:
                return self.result(False, 0, [], False, dict(before={}, after={}))
            if not self.module.check_mode:
                client.destroy(self.path)
            return self.result(True, 0, [], False, dict(before=before, after={}))

        want = p["data"]
        if current == want:
            return self.result(False, version, want, True, dict(before=before, after=before))
        old = current or {}
        after = {"path": self.path, "data": dict(
            (k, REDACTED if old.get(k) == v else (REDACTED[:-1] + ", changed>" if k in old else
                                                  REDACTED[:-1] + ", new>"))
            for k, v in sorted(want.items()))}
        diff = dict(before=before, after=after)
        if self.module.check_mode:
            return self.result(True, version + 1, want, True, diff)
        try:
            written = client.write(self.path, want, version)
        except SecretManagerError as exc:
            if CAS_MISMATCH not in str(exc):
                raise
            # Another writer, or our own write that answered 5xx but was applied: the data decides.
            now, now_version = client.read(self.path)
            if now != want:
                raise SecretManagerError("the secret at %s changed while this task wrote it (version %s is not the "
                                         "version %s it read): run the task again" % (self.path, now_version, version))
            return self.result(True, now_version, want, True, diff)
        return self.result(True, int(written["version"]), want, True, diff)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    secret = SecretManagerSecret(module)
    secret.check_input()
    try:
        module.exit_json(**secret.run())
    except SecretManagerError as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
