# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The connection to the Argo CD API server, shared by the argocd_* modules (group/keikolatam.gitops.argocd).
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - The URL of the Argo CD API server (C(argocd-server)), C(http://) or C(https://), with its root path if it
        is served under one (for example C(https://argocd.example.com) or C(https://example.com/argocd)).
      - No credentials in the URL, no query.
    type: str
    required: true
  username:
    description:
      - The Argo CD user that O(password) logs in (C(POST /api/v1/session)).
    type: str
    default: admin
  password:
    description:
      - The password of O(username). Never logged, never in an error message.
      - One of O(password) and O(token) is required.
    type: str
  token:
    description:
      - An Argo CD API token (of an account with the C(apiKey) capability, or a session token), sent as a
        bearer token, instead of O(username) and O(password). Never logged, never in an error message.
      - When both O(token) and O(password) are set (for example one by C(module_defaults), the other by the task),
        O(token) is used and no session is requested.
    type: str
  validate_certs:
    description:
      - Verify the TLS certificate of an C(https://) O(api_url).
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the answer of one request (greater than 0).
      - A request that gets no answer or a 5xx is sent again, 4 times at most, with jittered exponential backoff;
        a 401 or 403 is never retried.
    type: int
    default: 30
notes:
  - The O(password) and O(token) are checked, with every other option, before the first request; a refused
    login fails with a message that names the user (or the token), never the secret.
  - Argo CD answers 403 C(permission denied), not 404, for an application that does not exist; the modules then
    fail with "not found, or may not read it".
  - Set the connection options once for every task with C(module_defaults) and the group
    C(group/keikolatam.gitops.argocd).
"""
