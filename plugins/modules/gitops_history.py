#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gitops_history
short_description: The audit trail of an environment from the GitOps repository
version_added: 0.2.0
description:
  - Reads the history of O(branch) of O(repo_url) (a bare clone of the whole branch in a private temporary
    directory) and returns the deploys, promotions and rollbacks of O(environment), newest first, from the
    commits M(keikolatam.gitops.gitops_release) made; their C(Keiko-*) trailers say which action, who and from
    where.
  - For each entry, the images of the environment's services (each C(k8s/overlays/<environment>/<service>/)
    that the overlay lists; the overlay's own C(images) list in commits of the one-file layout) before and after
    the commit, and its result, V(reverted by <sha>) when a later commit's C(Keiko-Reverts)
    names it, V(current) when the overlay still has the images it wrote, else V(superseded by <sha>) (the next
    commit that changed one of its services).
  - Reads only; the credentials reach git as M(keikolatam.gitops.gitops_commit) gives them (C(GIT_ASKPASS)).
author:
  - Keiko Latam platform team (@keikolatam)
extends_documentation_fragment:
  - keikolatam.gitops.gitops
attributes:
  check_mode:
    description: Can run in check mode and return the changed status prediction without modifying the target.
    support: full
    details:
      - Runs as in a normal run; it never changes anything.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
options:
  environment:
    description:
      - The environment whose entries are listed (the C(Keiko-Environment) trailer).
    type: str
    required: true
  limit:
    description:
      - At most this many entries (the newest). V(0) lists them all.
    type: int
    default: 50
  actions:
    description:
      - The actions listed (the C(Keiko-Action) trailer); add V(render) for the renderings of the
        C(keikolatam.gitops.gitops_repository) role.
    type: list
    elements: str
    default: [deploy, promote, rollback]
notes:
  - Needs C(git) and PyYAML on the host that runs the module.
seealso:
  - module: keikolatam.gitops.gitops_release
"""

EXAMPLES = r"""
- name: The last ten releases of production
  keikolatam.gitops.gitops_history:
    repo_url: "{{ keiko_gitops.repo_url }}"
    branch: "{{ keiko_gitops.branch }}"
    username: "{{ keiko_gitops.username }}"
    password: "{{ keiko_gitops.password }}"
    environment: production
    limit: 10
  register: trail

- name: Show them
  ansible.builtin.debug:
    msg: "{{ item.when }} {{ item.commit[:12] }} {{ item.action }} by {{ item.who }}: {{ item.result }}"
  loop: "{{ trail.history }}"
"""

RETURN = r"""
head:
  description: The sha of the branch's head when it was read.
  returned: always
  type: str
history:
  description: The entries, newest first.
  returned: always
  type: list
  elements: dict
  contains:
    commit:
      description: The full sha of the commit.
      type: str
    when:
      description: The commit's date (committer date, ISO 8601).
      type: str
      sample: "2026-12-01T23:00:00+00:00"
    who:
      description: Who asked for it (the C(Keiko-Actor) trailer, else the author).
      type: str
      sample: Ana <ana@keikolatam.example>
    author:
      description: The commit's author, C(Name <email>).
      type: str
    action:
      description: V(deploy), V(promote) or V(rollback) (the C(Keiko-Action) trailer).
      type: str
    environment:
      description: The environment.
      type: str
    source:
      description: The environment a promotion read (C(Keiko-Source-Environment)), empty when none.
      type: str
    source_revision:
      description: The revision the images came from (C(Keiko-Source-Revision)), empty when none.
      type: str
    reverts:
      description: The commit this one reverts (C(Keiko-Reverts)), empty when none.
      type: str
    subject:
      description: The first line of the commit message.
      type: str
      sample: "promote production: identity 0.1.0 -> 0.2.0"
    images_before:
      description: The overlay's images before the commit, service to reference.
      type: dict
    images_after:
      description: The overlay's images after the commit, service to reference.
      type: dict
    changed_services:
      description: The services whose image the commit changed, sorted.
      type: list
      elements: str
    result:
      description: V(reverted by <sha>) (a later commit reverts it), V(current) (the overlay still has the images
        it wrote) or V(superseded by <sha>) (the next commit that changed one of its services).
      type: str
"""


try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover
    yaml = None
    HAS_YAML = False

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.keikolatam.gitops.plugins.module_utils._git import (
    NAME, GitError, check_connection, connection_spec, images_of, old_layout, overlay_path, overlay_services, parse_trailers,
    subject, working_copy)


def _parse(text):
    if text is None:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def _touched(wc, commits, prefix):
    """sha -> the paths under ``prefix`` that each commit changes (one ``git diff-tree --stdin``)."""
    shas = set(c["sha"] for c in commits)
    out = wc.run("diff-tree", "--stdin", "-r", "--name-only", "--root", "--no-renames",
                 data="".join(c["sha"] + "\n" for c in commits))[1]
    touched, current = dict((sha, set()) for sha in shas), None
    for line in out.splitlines():
        if line in shas:
            current = line
        elif current and line.startswith(prefix):
            touched[current].add(line)
    return touched


def states(wc, head, commits, environment):
    """sha -> (images after, images before) of each commit of ``commits`` (newest first), and the images at head.

    An environment's images are its services' (k8s/overlays/<env>/<service>/kustomization.yaml, the services the
    overlay lists), or the overlay's own images list in the one-file layout of older commits. Walks back from the
    head: a commit's images after are the images before the next one (the branch is linear: pushes are rebased),
    and only the files a commit changed are read at its parent.
    """
    top = overlay_path(environment)

    def spec(rev, path):
        return "%s:%s" % (rev, path)

    def read(specs):
        return dict(zip(specs, wc.cat_files(specs))) if specs else {}

    def state_of(top_data, rev, changed, after_state):
        """(services, images) at ``rev``: the files of ``changed`` are read there, the others are after_state's."""
        if old_layout(top_data):
            return None, images_of(top_data)
        names = overlay_services(top_data)
        changed = changed or set()
        kept = after_state[0] or []
        extra = read([spec(rev, overlay_path(environment, s)) for s in names
                      if overlay_path(environment, s) not in changed and s not in kept])
        found = {}
        for name in names:
            path = overlay_path(environment, name)
            if path in changed or name not in kept:
                ref = images_of(_parse(at_parent.get(spec(rev, path), extra.get(spec(rev, path))))).get(name)
            else:
                ref = after_state[1].get(name)
            if ref:
                found[name] = ref
        return names, found

    touched = _touched(wc, commits, "k8s/overlays/%s/" % environment)
    at_parent = read([spec(c["parents"][0], path) for c in commits if c["parents"]
                      for path in sorted(touched[c["sha"]])])
    state = state_of(_parse(read([spec(head, top)])[spec(head, top)]), head, None, (None, {}))
    now = state[1]
    out = {}
    for commit in commits:
        after = state[1]
        if not commit["parents"]:
            out[commit["sha"]], state = (after, {}), ([], {})
            continue
        parent, changed = commit["parents"][0], touched[commit["sha"]]
        if top in changed:
            state = state_of(_parse(at_parent.get(spec(parent, top))), parent, changed, state)
        elif state[0] is not None:
            state = state_of({"resources": state[0]}, parent, changed, state)
        out[commit["sha"]] = (after, state[1])
    return out, now


def trail(commits, images, now, environment, actions, limit):
    """The entries of ``commits`` (newest first, as ``WorkingCopy.log`` gives them) for ``environment``.

    ``images`` maps a commit's sha to the environment's images (after, before) it, ``now`` are its images at the
    head (service -> reference). Pure: unit-tested without git.
    """
    now = now or {}
    entries = []
    reverted_by = {}
    last_change = {}
    for commit in commits:
        trailers = parse_trailers(commit["message"])
        if trailers.get("Keiko-Environment") != environment:
            continue
        action = trailers.get("Keiko-Action", "")
        sha = commit["sha"]
        after, before = images.get(sha, ({}, {}))
        changed = sorted(s for s in set(before) | set(after) if before.get(s) != after.get(s))
        if sha in reverted_by:
            result = "reverted by %s" % reverted_by[sha]
        elif all(now.get(s) == after.get(s) for s in changed):
            result = "current"
        else:
            later = [last_change[s] for s in changed if s in last_change and now.get(s) != after.get(s)]
            result = "superseded by %s" % later[0] if later else "current"
        reverts = trailers.get("Keiko-Reverts", "")
        if reverts:
            # A revert names the full sha of the commit it reverts (gitops_release writes it so).
            reverted_by.setdefault(reverts, sha)
        for service in changed:
            last_change[service] = sha
        if action not in actions:
            continue
        entries.append({
            "commit": sha, "when": commit["when"],
            "who": trailers.get("Keiko-Actor") or "%s <%s>" % (commit["author"], commit["email"]),
            "author": "%s <%s>" % (commit["author"], commit["email"]), "action": action,
            "environment": environment, "source": trailers.get("Keiko-Source-Environment", ""),
            "source_revision": trailers.get("Keiko-Source-Revision", ""), "reverts": reverts,
            "subject": subject(commit["message"]), "images_before": before, "images_after": after,
            "changed_services": changed, "result": result,
        })
        if limit and len(entries) >= limit:
            break
    return entries


def main():
    spec = connection_spec(author=False)
    spec.update(
        environment=dict(type="str", required=True),
        limit=dict(type="int", default=50),
        actions=dict(type="list", elements="str", default=["deploy", "promote", "rollback"]),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    params = module.params
    err = check_connection(params)
    if not err and params["limit"] < 0:
        err = "limit must be 0 (all) or more"
    if not err and not NAME.match(params["environment"] or ""):
        err = "environment %r is not a name (lower-case letters, digits and '-')" % params["environment"]
    if err:
        module.fail_json(msg=err + ". Nothing was read.")
    try:
        with working_copy(params) as wc:
            head = wc.checkout(depth=None, bare=True)
            commits = wc.log(head, paths=["k8s/overlays/%s/" % params["environment"]])
            images, now = states(wc, head, commits, params["environment"])
    except GitError as exc:
        module.fail_json(msg=exc.msg)
    history = trail(commits, images, now, params["environment"], params["actions"], params["limit"])
    module.exit_json(changed=False, head=head, history=history)


if __name__ == "__main__":
    main()
