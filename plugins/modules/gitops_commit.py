#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gitops_commit
short_description: Write files to a branch of a git repository as one commit, and push it
version_added: 0.2.0
description:
  - Clones O(branch) of O(repo_url) into a private temporary directory (a shallow clone), writes O(files)
    (a null content deletes the file), and when anything differs from the branch's head makes B(one)
    commit with O(author), O(commit_message) and O(trailers), and pushes it.
  - When nothing differs, no commit is made and the task is not changed (RV(commit) is then the unchanged head).
  - A push refused because the branch moved meanwhile (another push between the clone and this push) is
    followed by a fetch, a rebase of the commit onto the new head and another push, O(push_retries) times
    at most; the history stays linear. A rebase that conflicts fails, and nothing is pushed.
  - The credentials reach git only through C(GIT_ASKPASS), from two files of mode C(0600) in the private
    directory, never on a command line, in a URL, in an environment variable or in a message. The credential
    helpers of the user's git configuration are switched off, so none stores them. The private directory is
    removed at the end.
  - Every check of the input (the URL's scheme, the branch name, the file paths, the author, the trailers)
    is made before anything is cloned.
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.gitops
  - keikolatam.gitops.gitops.write
attributes:
  check_mode:
    description: Can run in check mode and return the changed status prediction without modifying the target.
    support: full
    details:
      - The branch is cloned and compared; nothing is committed or pushed. RV(message) is the message the
        commit would have, RV(files) the paths it would change.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
    details:
      - The before and after text of every file that changes (a deleted file's after is empty).
options:
  create_branch:
    description:
      - Create O(branch) with this commit when the remote does not have it. Otherwise a missing branch fails.
    type: bool
    default: false
  commit_message:
    description:
      - The commit message (its first line is the subject). Not C(message), a name Ansible reserves.
    type: str
    required: true
  trailers:
    description:
      - "Trailers appended to the message as its last paragraph, C(Key: value) lines in this order."
      - Keys are letters, digits and C(-); values are one line. A null value is left out.
    type: dict
    default: {}
  files:
    description:
      - The files to write, path (relative to the repository's root, without C(..)) to their whole text.
      - A null text deletes the file. Files not listed are left as they are.
    type: dict
    required: true
  push:
    description:
      - Push the commit. With V(false) the commit is made in the temporary working copy only (RV(commit) is
        its sha) and then thrown away.
    type: bool
    default: true
notes:
  - Needs C(git) on the host that runs the module.
  - Only the files in O(files) are compared; the module never removes a file it was not told about.
seealso:
  - module: keikolatam.gitops.gitops_release
  - module: keikolatam.gitops.gitops_history
"""

EXAMPLES = r"""
- name: Write the overlay of staging
  keikolatam.gitops.gitops_commit:
    repo_url: "{{ keiko_gitops.repo_url }}"
    branch: "{{ keiko_gitops.branch }}"
    username: "{{ keiko_gitops.username }}"
    password: "{{ keiko_gitops.password }}"
    author: "Keiko CI <ci@keikolatam.example>"
    commit_message: "render staging: the overlay"
    trailers:
      Keiko-Environment: staging
    files:
      k8s/overlays/staging/kustomization.yaml: "{{ lookup('ansible.builtin.template', 'kustomization.yaml.j2') }}"
      k8s/overlays/staging/old-patch.yaml: null
  register: commit

- name: What would change (nothing is pushed)
  keikolatam.gitops.gitops_commit:
    repo_url: https://git.example.com/keiko/gitops.git
    commit_message: preview
    files:
      README.md: "# Keiko GitOps\n"
  check_mode: true
  diff: true
"""

RETURN = r"""
commit:
  description:
    - The sha of the new commit; when nothing changed (or in check mode), the branch's head (null for a branch
      that does not exist yet).
  returned: always
  type: str
  sample: 6f1c0b5e0c1d8a3b9f2f0e9f0f7f0f3a2b1c4d5e
parent:
  description: The commit the new commit follows (after a retry, the head it was rebased onto); null when no
    commit was made.
  returned: always
  type: str
files:
  description: The paths the commit changes (or would change), sorted.
  returned: always
  type: list
  elements: str
  sample: [k8s/overlays/staging/kustomization.yaml]
message:
  description: The whole message of the commit (or of the commit check mode predicts), trailers included.
  returned: always
  type: str
pushed:
  description: Whether a commit was pushed.
  returned: always
  type: bool
retries:
  description: How many times the push was refused because the branch moved, and retried after a rebase.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.keikolatam.gitops.plugins.module_utils._git import (
    GitError, build_message, check_connection, check_path, check_trailers, connection_spec, file_diff,
    working_copy)


def validate(module):
    params = module.params
    err = check_connection(params) or check_trailers(params["trailers"])
    if err:
        return err
    if not (params["commit_message"] or "").strip():
        return "commit_message is empty"
    if params["push_retries"] < 0:
        return "push_retries must be 0 or more"
    if not params["files"]:
        return "files is empty: give at least one path"
    for path, content in params["files"].items():
        err = check_path(path)
        if err:
            return err
        if content is not None and not isinstance(content, str):
            return ("the content of %s is a %s: give its text (for data, use a filter such as to_nice_yaml)"
                    % (path, type(content).__name__))
    return None


def main():
    spec = connection_spec()
    spec.update(
        create_branch=dict(type="bool", default=False),
        commit_message=dict(type="str", required=True),
        trailers=dict(type="dict", default={}),
        files=dict(type="dict", required=True),
        push=dict(type="bool", default=True),
        push_retries=dict(type="int", default=3),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    err = validate(module)
    if err:
        module.fail_json(msg=err + ". Nothing was changed.")
    message = build_message(params["commit_message"], params["trailers"])
    result = dict(changed=False, commit=None, parent=None, files=[], message=message, pushed=False, retries=0)
    try:
        with working_copy(params) as wc:
            result["commit"] = wc.checkout(depth=1, create=params["create_branch"])
            before = {}
            touched = []
            for path, content in params["files"].items():
                before[path] = wc.read(path)
                if before[path] != content:
                    wc.write(path, content)
                    touched.append(path)
            changed = wc.stage(sorted(touched))
            result["files"] = changed
            if module._diff:
                result["diff"] = [file_diff(p, before.get(p), params["files"].get(p)) for p in changed]
            if not changed:
                module.exit_json(**result)
            result["changed"] = True
            if module.check_mode:
                module.exit_json(**result)
            sha = wc.commit(message)
            if params["push"]:
                sha = wc.push(params["push_retries"])
                result["pushed"] = True
                result["retries"] = wc.retries
            result["commit"] = sha
            parents = wc.run("rev-list", "--parents", "-n", "1", sha)[1].split()[1:]
            result["parent"] = parents[0] if parents else None
    except GitError as exc:
        module.fail_json(msg=exc.msg, **dict((k, v) for k, v in result.items() if k != "changed"))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
