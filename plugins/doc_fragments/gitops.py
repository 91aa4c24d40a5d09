# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The GitOps repository and how git reaches it, shared by the gitops_* modules (module_utils/_git.py,
    # connection_spec()).
    DOCUMENTATION = r"""
options:
  repo_url:
    description:
      - The GitOps repository, C(https://), C(http://) or C(file://), without credentials in it.
    type: str
    required: true
  branch:
    description:
      - The branch, the one Argo CD follows.
      - It must exist (C(create_branch) of M(keikolatam.gitops.gitops_commit) creates it).
    type: str
    default: main
  username:
    description:
      - The user of HTTP basic authentication (with O(password)).
    type: str
  password:
    description:
      - The password or token of HTTP basic authentication. It reaches git through a C(GIT_ASKPASS) file only;
        never logged, never in a message, never in a URL.
    type: str
  timeout:
    description:
      - The timeout of every git command, in seconds.
    type: int
    default: 60
"""

    # The options of the modules that commit and push.
    WRITE = r"""
options:
  author:
    description:
      - The author and committer of the commit, C(Name <email>).
    type: str
    default: keikolatam.gitops <gitops@keikolatam.invalid>
  push_retries:
    description:
      - How many times a push refused because the branch moved is followed by a fetch, a rebase and a new push.
    type: int
    default: 3
"""
