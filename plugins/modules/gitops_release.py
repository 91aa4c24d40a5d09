#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gitops_release
short_description: Write the images of one environment's services in the GitOps repository, as one commit
version_added: 0.2.0
description:
  - The services of an environment are the directories that C(k8s/overlays/<environment>/kustomization.yaml)
    lists (the layout of the C(keikolatam.gitops.gitops_repository) role). Edits the C(images) entry of each
    service's C(k8s/overlays/<environment>/<service>/kustomization.yaml) (C(name) V(keiko/<service>), C(newName)
    the image and C(newTag) its tag, or C(digest) instead of C(newTag)) and the pins of
    C(k8s/overlays/<environment>/pins.yaml), and makes B(one) commit of all of it, pushed as
    M(keikolatam.gitops.gitops_commit) does (a shallow clone, the credentials through C(GIT_ASKPASS) only, a
    fetch, rebase and new push when the branch moved meanwhile).
  - Only the C(images) list of a service's kustomization changes; every other key, its order and its text are
    kept. The edit is checked by reading the file back before anything is committed.
  - An overlay that still has an C(images) list of its own (the one-file layout, which kustomize cannot build
    in reasonable time for hundreds of services) is refused until the role renders the environment again.
  - "The commit message says what changed, C(<action> <environment>: identity 0.1.0 -> 0.2.0, learning 0.3.0 -> 0.3.1),
    and carries the trailers C(Keiko-Action), C(Keiko-Environment),
    C(Keiko-Source-Environment), C(Keiko-Source-Revision), C(Keiko-Actor) and C(Keiko-Reverts) that
    M(keikolatam.gitops.gitops_history) reads."
  - Writing the images that are already there makes no commit.
  - A service pinned (in C(pins.yaml)) to another image is refused, with the pin and how to clear it, unless
    O(clear_pins) names it or O(pin=true) replaces its pin.
  - O(revert) makes a revert commit of an earlier commit instead (C(git revert) of it, with the trailers);
    a conflict fails and nothing is pushed. A commit already reverted (a later commit's C(Keiko-Reverts) names
    it) is not reverted again.
  - Every check of the input (the image references, the services, the environment, the URL, the branch) is made
    before anything is cloned; the checks that need the repository (pins, unknown images) before any commit.
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
      - The branch is cloned and the edit (or the revert) made in the temporary working copy; nothing is
        committed or pushed. RV(message) is the message the commit would have.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
    details:
      - The before and after text of each service's kustomization and of the pins file that change.
options:
  actor:
    description:
      - Who asked for the change (the C(Keiko-Actor) trailer and the C(by) of a pin). By default O(author).
    type: str
  environment:
    description:
      - The environment, whose overlay is C(k8s/overlays/<environment>/).
    type: str
    required: true
  images:
    description:
      - The images to write, service to reference. A reference is C(registry/path:tag),
        C(registry/path@sha256:<64 hex>), C(registry/path:tag@sha256:...), a bare tag (C(0.2.0), which keeps
        the service's image name) or a bare digest (C(sha256:<64 hex>)).
      - Path components are lower case; a malformed reference fails before anything is cloned.
      - Mutually exclusive with O(revert).
    type: dict
    default: {}
  action:
    description:
      - What the change is (the message's first word and the C(Keiko-Action) trailer).
    type: str
    choices: [deploy, promote, rollback]
    default: deploy
  source_environment:
    description:
      - The environment a promotion reads (the C(Keiko-Source-Environment) trailer).
    type: str
  source_revision:
    description:
      - The revision the images come from (the C(Keiko-Source-Revision) trailer), for example the git sha the
        source environment is synced to.
    type: str
  revert:
    description:
      - A commit (7 to 40 hex digits) of the branch to revert instead of writing O(images).
    type: str
  pin:
    description:
      - Pin the images written (O(images), or those a O(revert) changes), so that a later deploy or promotion of
        another version of those services is refused until the pin is cleared. A pin of the same image is kept as
        it is; a pin of another image is replaced.
    type: bool
    default: false
  clear_pins:
    description:
      - Services whose pins are removed (before O(images) are checked against the pins).
    type: list
    elements: str
    default: []
  reason:
    description:
      - Why (a paragraph of the message, and the C(reason) of a pin).
    type: str
  known_services:
    description:
      - The services of the environment. A service of O(images) or O(clear_pins) that is not one of them fails
        before anything is written. By default, the services that the overlay lists. A known service that the
        overlay does not list yet fails too (render it first).
    type: list
    elements: str
notes:
  - Needs C(git) and PyYAML on the host that runs the module.
  - The pins are re-read on each run; a pin added by another push between this module's clone and its push is
    not seen (the push is rebased onto it).
seealso:
  - module: keikolatam.gitops.gitops_commit
  - module: keikolatam.gitops.gitops_history
"""

EXAMPLES = r"""
- name: Deploy what CI built to dev
  keikolatam.gitops.gitops_release:
    repo_url: "{{ keiko_gitops.repo_url }}"
    branch: "{{ keiko_gitops.branch }}"
    username: "{{ keiko_gitops.username }}"
    password: "{{ keiko_gitops.password }}"
    author: "Keiko CI <ci@keikolatam.example>"
    environment: dev
    action: deploy
    images:
      identity: registry.example.com/keiko/identity:0.2.0

- name: Promote what runs in staging to production
  keikolatam.gitops.gitops_release:
    repo_url: "{{ keiko_gitops.repo_url }}"
    environment: production
    action: promote
    source_environment: staging
    source_revision: "{{ staging_app.application.revision }}"
    images: "{{ staging_app.application.images }}"
    known_services: [identity, learning, gateway]

- name: Roll back the last promotion and pin what it restores
  keikolatam.gitops.gitops_release:
    repo_url: "{{ keiko_gitops.repo_url }}"
    environment: production
    action: rollback
    revert: "{{ promotion.commit }}"
    pin: true
    reason: the new identity fails its smoke check

- name: Clear a pin
  keikolatam.gitops.gitops_release:
    repo_url: "{{ keiko_gitops.repo_url }}"
    environment: production
    action: rollback
    clear_pins: [identity]
"""

RETURN = r"""
commit:
  description: The sha of the new commit; when nothing changed (or in check mode), the branch's head.
  returned: always
  type: str
  sample: 6f1c0b5e0c1d8a3b9f2f0e9f0f7f0f3a2b1c4d5e
previous:
  description: The images of the environment's services before, service to reference.
  returned: always
  type: dict
  sample: {identity: registry.example.com/keiko/identity:0.1.0}
images:
  description: The images of the environment's services after (or, in check mode, as they would be), service to
    reference.
  returned: always
  type: dict
  sample: {identity: registry.example.com/keiko/identity:0.2.0}
pins:
  description: The pins of the environment after, service to C({image, reason, by, at}).
  returned: always
  type: dict
  sample: {identity: {image: registry.example.com/keiko/identity:0.1.0, reason: bad release, by: "Ana <ana@x.io>",
                      at: "2026-01-01T00:00:00Z"}}
message:
  description: The whole message of the commit (or of the commit check mode predicts), trailers included; empty
    when nothing changes.
  returned: always
  type: str
files:
  description: The paths the commit changes (or would change).
  returned: always
  type: list
  elements: str
retries:
  description: How many times the push was refused because the branch moved, and retried after a rebase.
  returned: always
  type: int
reverted:
  description: The full sha of the commit reverted (O(revert)).
  returned: when O(revert) is set
  type: str
"""

import datetime
import json
import re

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover
    yaml = None
    HAS_YAML = False

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.keikolatam.gitops.plugins.module_utils._git import (
    NAME, NAME_PREFIX, GitError, build_message, check_connection, check_trailers, connection_spec, entry_reference,
    file_diff, format_reference, images_of, old_layout, overlay_path, overlay_services, parse_trailers, service_of,
    working_copy)

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_DOMAIN = r"(?:%s(?:\.%s)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?" % (_DOMAIN_COMPONENT, _DOMAIN_COMPONENT)
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
_ALGORITHMS = {"sha256": 64, "sha512": 128}


def _check_digest(digest, ref):
    algorithm, sep, hexa = digest.partition(":")
    if not sep or algorithm not in _ALGORITHMS:
        raise ValueError("%r: the digest %r is not sha256:<64 hex digits> (or sha512:<128>)" % (ref, digest))
    if len(hexa) != _ALGORITHMS[algorithm]:
        raise ValueError("%r: a %s digest has %d hex digits, not %d" % (
            ref, algorithm, _ALGORITHMS[algorithm], len(hexa)))
    if not re.match(r"^[0-9a-f]+$", hexa):
        raise ValueError("%r: the digest is not lower-case hex digits" % ref)


def parse_reference(ref):
    """``{"name", "tag", "digest"}`` of an image reference; ``name`` None for a bare tag or a bare digest.

    Raises ValueError with a message for a malformed one (space, upper case in the path, empty tag, bad digest).
    """
    if not isinstance(ref, str) or not ref:
        raise ValueError("an image reference is empty")
    if re.search(r"\s", ref):
        raise ValueError("%r: an image reference has no white space" % ref)
    if re.match(r"^[a-z0-9]+:", ref) and ref.split(":", 1)[0] in _ALGORITHMS:
        _check_digest(ref, ref)
        return {"name": None, "tag": None, "digest": ref}
    if "/" not in ref and "@" not in ref and ":" not in ref:
        if not TAG.match(ref):
            raise ValueError("%r is not a tag (letters, digits, '_', '.', '-'; 128 at most; not starting with '.' "
                             "or '-')" % ref)
        return {"name": None, "tag": ref, "digest": None}
    rest, at, digest = ref.partition("@")
    if at:
        if not digest:
            raise ValueError("%r: the digest after '@' is empty" % ref)
        _check_digest(digest, ref)
    else:
        digest = None
    name, tag = rest, None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        name, tag = rest[:colon], rest[colon + 1:]
        if not tag:
            raise ValueError("%r: the tag after ':' is empty" % ref)
        if not TAG.match(tag):
            raise ValueError("%r: the tag %r is not letters, digits, '_', '.', '-' (128 at most)" % (ref, tag))
    if not name:
        raise ValueError("%r has no image name" % ref)
    parts = name.split("/")
    first = parts[0]
    if len(parts) > 1 and ("." in first or ":" in first or first == "localhost"):
        if not re.match(r"^%s$" % _DOMAIN, first):
            raise ValueError("%r: %r is not a registry host[:port]" % (ref, first))
        parts = parts[1:]
    for part in parts:
        if not re.match(r"^%s$" % _PATH_COMPONENT, part):
            why = "is not lower case" if part.lower() != part else "is not letters and digits separated by . _ __ -"
            raise ValueError("%r: the repository path component %r %s" % (ref, part, why))
    if len(name) > 255:
        raise ValueError("%r: the image name is longer than 255 characters" % ref)
    if tag is None and digest is None:
        raise ValueError("%r has no tag and no digest: give name:tag or name@sha256:... (no implicit latest)" % ref)
    return {"name": name, "tag": tag, "digest": digest}


def resolve(ref, current):
    """A full reference for ``ref`` (a bare tag or digest takes the name of ``current``, a full reference)."""
    parsed = parse_reference(ref)
    if parsed["name"] is None:
        if not current:
            raise ValueError("%r is a bare %s, and the service has no image in the overlay yet: give the whole "
                             "reference (registry/path:tag)" % (ref, "digest" if parsed["digest"] else "tag"))
        name = parse_reference(current)["name"]
        return format_reference(name, parsed["tag"], parsed["digest"])
    return format_reference(parsed["name"], parsed["tag"], parsed["digest"])


def set_entry(entry, service, ref):
    """The ``images`` entry of ``service`` (keeping the keys and order of ``entry``) that stands for ``ref``."""
    parsed = parse_reference(ref)
    out = dict(entry or {"name": NAME_PREFIX + service})
    out["newName"] = parsed["name"]
    for key, value in (("newTag", parsed["tag"]), ("digest", parsed["digest"])):
        if value:
            out[key] = value
        else:
            out.pop(key, None)
    return out


def _images_block(entries):
    """The ``images:`` block as the gitops_repository role renders it (values as JSON strings)."""
    lines = ["images:\n"]
    for entry in entries:
        lines.append("  - name: %s\n" % json.dumps(entry["name"]))
        for key, value in entry.items():
            if key != "name":
                lines.append("    %s: %s\n" % (key, json.dumps(value)))
    return "".join(lines)


def edit_images(text, entries):
    """``text`` of a kustomization with its top-level ``images`` list replaced by ``entries``, all else kept.

    Raises ValueError when the file cannot be edited safely (not a mapping, an ``images:`` that is not a block at
    the top level...): the result is parsed and compared with the original before it is returned.
    """
    data = yaml.safe_load(text) if text.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("the kustomization is not a YAML mapping")
    lines = text.splitlines(True)
    start = None
    for i, line in enumerate(lines):
        if re.match(r"^images\s*:", line):
            start = i
            break
    block = _images_block(entries) if entries else ""
    if start is None:
        if not entries:
            return text
        new = text if not text or text.endswith("\n") else text + "\n"
        new += block
    else:
        end = start + 1
        last = start + 1
        while end < len(lines):
            line = lines[end]
            if line.strip() == "":
                end += 1
                continue
            if line[0] in (" ", "\t", "-"):
                end += 1
                last = end
                continue
            break
        new = "".join(lines[:start]) + (block or "images: []\n") + "".join(lines[last:])
    try:
        after = yaml.safe_load(new)
    except yaml.YAMLError:
        after = None
    want = dict(data)
    want["images"] = [dict(e) for e in entries] if entries or "images" in data else None
    if want["images"] is None:
        want.pop("images")
    if not isinstance(after, dict) or after != want or [k for k in after if k != "images"] != [k for k in data if k != "images"]:
        raise ValueError("the images list of the kustomization cannot be edited without changing the rest of the "
                         "file (write images: as a block list at the top level)")
    return new


def pins_text(environment, pins):
    header = ("# The pins of %s (keikolatam.gitops.gitops_release): a deploy or promotion of another version of a "
              "pinned\n# service is refused until the pin is cleared (clear_pins, or playbooks/rollback.yml -e "
              "clear_pin=<service>).\n" % environment)
    return header + yaml.safe_dump({"pins": pins}, default_flow_style=False, sort_keys=True)


def version(ref, other=None):
    """What the message shows of ``ref``: its tag (or short digest), or all of it when the name changes."""
    if not ref:
        return "(none)"
    parsed = parse_reference(ref)
    if other and parse_reference(other)["name"] != parsed["name"]:
        return ref
    if parsed["tag"]:
        return parsed["tag"]
    if parsed["digest"]:
        return parsed["digest"][:19]
    return ref


def describe(previous, after, pins_before, pins_after):
    """The parts of the subject: ``identity 0.1.0 -> 0.2.0``, ``pin identity 0.1.0``, ``clear pin learning``."""
    parts = []
    for service in sorted(set(previous) | set(after)):
        if previous.get(service) != after.get(service):
            parts.append("%s %s -> %s" % (service, version(previous.get(service), after.get(service)),
                                          version(after.get(service), previous.get(service))))
    for service in sorted(set(pins_before) | set(pins_after)):
        before, now = pins_before.get(service), pins_after.get(service)
        if before and not now:
            parts.append("clear pin %s" % service)
        elif now and (not before or before.get("image") != now.get("image")):
            parts.append("pin %s %s" % (service, version(now.get("image"))))
    return parts


def check_pins(images, previous, pins, exempt, environment):
    """The message refusing the first image that a pin forbids, or None."""
    for service in sorted(images):
        pin = pins.get(service)
        if not pin or service in exempt or images[service] == previous.get(service):
            continue
        if pin.get("image") != images[service]:
            return ("%s is pinned to %s in k8s/overlays/%s/pins.yaml (by %s at %s: %s), so %s is refused. Clear the "
                    "pin first: clear_pins: [%s] (playbooks/rollback.yml -e env=%s -e clear_pin=%s)" % (
                        service, pin.get("image"), environment, pin.get("by", "?"), pin.get("at", "?"),
                        pin.get("reason") or "no reason given", images[service], service, environment, service))
    return None


def validate(params):
    err = check_connection(params)
    if err:
        return err
    env = params["environment"]
    if not NAME.match(env or ""):
        return "environment %r is not a name (lower-case letters, digits and '-')" % env
    if params["source_environment"] is not None and not NAME.match(params["source_environment"]):
        return "source_environment %r is not a name (lower-case letters, digits and '-')" % params["source_environment"]
    if params["push_retries"] < 0:
        return "push_retries must be 0 or more"
    images = params["images"] or {}
    if images and params["revert"]:
        return "images and revert are mutually exclusive: a revert writes the images of before the reverted commit"
    if params["revert"] is not None and not re.match(r"^[0-9a-f]{7,40}$", params["revert"]):
        return "revert %r is not a commit sha (7 to 40 lower-case hex digits)" % params["revert"]
    if not images and not params["revert"] and not params["clear_pins"]:
        return "nothing to do: give images, revert or clear_pins"
    known = params["known_services"]
    for service in list(images) + list(params["clear_pins"]):
        if not NAME.match(str(service)):
            return "service %r is not a name (lower-case letters, digits and '-')" % (service,)
        if known is not None and service not in known:
            return "unknown service %s: the services of %s are %s" % (service, env, ", ".join(sorted(known)) or "none")
    for service, ref in images.items():
        if not isinstance(ref, str):
            return "the image of %s is not a string" % service
        try:
            parse_reference(ref)
        except ValueError as exc:
            return "the image of %s is malformed: %s" % (service, exc)
    trailers = {"Keiko-Source-Revision": params["source_revision"], "Keiko-Actor": params["actor"]}
    err = check_trailers(trailers)
    if err:
        return err
    return None


def load_yaml(text, path):
    try:
        return yaml.safe_load(text) if text is not None else None
    except yaml.YAMLError as exc:
        raise GitError("%s is not valid YAML: %s" % (path, str(exc).splitlines()[0]))


class Release(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.env = self.params["environment"]
        self.overlay = overlay_path(self.env)
        self.pins_path = "k8s/overlays/%s/pins.yaml" % self.env
        self.actor = self.params["actor"] or self.params["author"]
        self.result = dict(changed=False, commit=None, previous={}, images={}, pins={}, message="", files=[],
                           retries=0)

    def fail(self, msg):
        self.module.fail_json(msg=msg + ". Nothing was changed.", **dict(
            (k, v) for k, v in self.result.items() if k != "changed"))

    def read_overlay(self, wc):
        """service -> (path, text, parsed) of each service's kustomization that the environment's overlay lists."""
        text = wc.read(self.overlay)
        if text is None:
            self.fail("%s does not exist on %s: render the environment first (role keikolatam.gitops.gitops_repository)"
                      % (self.overlay, self.params["branch"]))
        data = load_yaml(text, self.overlay)
        if not isinstance(data, dict):
            self.fail("%s is not a YAML mapping" % self.overlay)
        err = old_layout(data)
        if err:
            self.fail("%s %s" % (self.overlay, err))
        files = {}
        for service in overlay_services(data):
            path = overlay_path(self.env, service)
            service_text = wc.read(path)
            if service_text is None:
                self.fail("%s lists %s, but %s does not exist" % (self.overlay, service, path))
            service_data = load_yaml(service_text, path)
            if not isinstance(service_data, dict):
                self.fail("%s is not a YAML mapping" % path)
            files[service] = (path, service_text, service_data)
        return files

    @staticmethod
    def images_in(files):
        """service -> reference of the services' kustomizations (a service without an image is left out)."""
        out = {}
        for service, (dummy, dummy, data) in files.items():
            ref = images_of(data).get(service)
            if ref:
                out[service] = ref
        return out

    def read_pins(self, wc):
        pins_text_before = wc.read(self.pins_path)
        pins_data = load_yaml(pins_text_before, self.pins_path) or {}
        if not isinstance(pins_data, dict) or not isinstance(pins_data.get("pins") or {}, dict):
            self.fail("%s is not a mapping with a pins: mapping" % self.pins_path)
        return pins_text_before, dict(pins_data.get("pins") or {})

    def already_reverted(self, wc, sha):
        for commit in wc.log():
            if parse_trailers(commit["message"]).get("Keiko-Reverts") == sha:
                return commit["sha"]
        return None

    def revert(self, wc, previous):
        """Revert ``revert`` in the working copy (staged, not committed): (sha, images changed, after)."""
        params = self.params
        if not wc.has_commit(params["revert"]):
            self.fail("the commit %s is not in the history of %s" % (params["revert"], params["branch"]))
        reverted = wc.rev(params["revert"])
        self.result["reverted"] = reverted
        touched = wc.run("diff-tree", "--no-commit-id", "--name-only", "-r", "--root", reverted)[1].split()
        if not any(p.startswith("k8s/overlays/%s/" % self.env) for p in touched):
            self.fail("the commit %s does not change the overlay of %s (k8s/overlays/%s/)" % (
                reverted[:12], self.env, self.env))
        if self.already_reverted(wc, reverted):
            self.module.exit_json(**self.result)
        parents = wc.run("rev-list", "--parents", "-n", "1", reverted)[1].split()
        if len(parents) < 2:
            self.fail("the commit %s is the first of %s: there is nothing before it to return to" % (
                reverted[:12], params["branch"]))
        args = ["revert", "--no-commit"] + (["--mainline", "1"] if len(parents) > 2 else []) + [reverted]
        rc, out, err = wc.run(*args, check=False)
        if rc != 0:
            wc.run("revert", "--abort", check=False)
            self.fail("git revert %s conflicts with later commits of %s: %s" % (
                reverted[:12], params["branch"], wc.scrub((err or out).strip())))
        if wc.read(self.overlay) is None:
            self.fail("the revert of %s removes %s" % (reverted[:12], self.overlay))
        after = self.images_in(self.read_overlay(wc))
        images = dict((s, r) for s, r in after.items() if previous.get(s) != r)
        return reverted, images, after

    def edit(self, files, previous):
        """The images to write (full references), the images after, {path: new text} of the kustomizations."""
        images = {}
        for service, ref in (self.params["images"] or {}).items():
            if service not in files:
                self.fail("%s has no overlay in %s (%s does not list it): render the environment with the service "
                          "first (role keikolatam.gitops.gitops_repository)" % (service, self.env, self.overlay))
            try:
                images[service] = resolve(ref, previous.get(service))
            except ValueError as exc:
                self.fail("the image of %s is malformed: %s" % (service, exc))
        after, texts = dict(previous), {}
        for service in sorted(images):
            path, text, data = files[service]
            entries = [dict(e) if isinstance(e, dict) else e for e in (data.get("images") or [])]
            index = [i for i, e in enumerate(entries) if isinstance(e, dict) and service_of(e) == service]
            if not index:
                entries.append(set_entry(None, service, images[service]))
            elif entry_reference(entries[index[0]]) != images[service]:
                entries[index[0]] = set_entry(entries[index[0]], service, images[service])
            else:
                continue
            try:
                texts[path] = edit_images(text, entries)
            except ValueError as exc:
                self.fail("%s: %s" % (path, exc))
            after[service] = images[service]
        return images, after, texts

    def run(self):
        params = self.params
        wc_ = working_copy(params)
        with wc_ as wc:
            head = wc.checkout(depth=None if params["revert"] else 1)
            self.result["commit"] = head
            files = self.read_overlay(wc)
            pins_before_text, pins_before = self.read_pins(wc)
            previous = self.images_in(files)
            self.result["previous"] = previous
            self.result["images"] = dict(previous)
            self.result["pins"] = pins_before
            if params["known_services"] is None:
                for service in list(params["images"] or {}) + list(params["clear_pins"]):
                    if service not in files:
                        self.fail("unknown service %s: %s lists %s (known_services adds others)" % (
                            service, self.overlay, ", ".join(sorted(files)) or "no service"))
            reverted, texts = None, {}
            if params["revert"]:
                reverted, images, after = self.revert(wc, previous)
            else:
                images, after, texts = self.edit(files, previous)
            pins_wc_text = wc.read(self.pins_path)
            pins_wc = dict((load_yaml(pins_wc_text, self.pins_path) or {}).get("pins") or {})
            # Pins: cleared first, then checked, then set.
            pins = dict(pins_wc)
            for service in params["clear_pins"]:
                pins.pop(service, None)
            exempt = set(params["clear_pins"]) | (set(images) if params["pin"] else set())
            err = check_pins(images, previous, pins, exempt, self.env)
            if err:
                self.fail(err)
            if params["pin"]:
                now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                for service in sorted(images):
                    if (pins.get(service) or {}).get("image") != images[service]:
                        pins[service] = {"image": images[service], "reason": params["reason"] or "",
                                         "by": self.actor, "at": now}
            if pins != pins_wc:
                wc.write(self.pins_path, pins_text(self.env, pins))
            for path, text in texts.items():
                wc.write(path, text)
            self.result["images"] = after
            self.result["pins"] = pins
            parts = describe(previous, after, pins_before, pins)
            staged = wc.stage([p for p in sorted(texts) + [self.pins_path] if wc.read(p) is not None])
            self.result["files"] = staged
            if self.module._diff:
                self.result["diff"] = [file_diff(path, wc.show("HEAD", path), wc.read(path)) for path in staged]
            if not staged:
                self.module.exit_json(**self.result)
            subject = "%s %s: %s" % (params["action"], self.env, ", ".join(parts) or "revert " + (reverted or "")[:12])
            body = []
            if params["reason"]:
                body.append(params["reason"].strip())
            if reverted:
                original = wc.log(reverted, limit=1)[0]
                body.append('This reverts commit %s ("%s").' % (reverted, original["message"].split("\n", 1)[0]))
            trailers = {"Keiko-Action": params["action"], "Keiko-Environment": self.env,
                        "Keiko-Source-Environment": params["source_environment"],
                        "Keiko-Source-Revision": params["source_revision"], "Keiko-Actor": self.actor,
                        "Keiko-Reverts": reverted}
            message = build_message("\n\n".join([subject] + body), trailers)
            self.result["message"] = message
            self.result["changed"] = True
            if self.module.check_mode:
                self.module.exit_json(**self.result)
            wc.commit(message)
            self.result["commit"] = wc.push(params["push_retries"])
            self.result["retries"] = wc.retries
        self.module.exit_json(**self.result)


def main():
    spec = connection_spec()
    spec.update(
        actor=dict(type="str"),
        push_retries=dict(type="int", default=3),
        environment=dict(type="str", required=True),
        images=dict(type="dict", default={}),
        action=dict(type="str", default="deploy", choices=["deploy", "promote", "rollback"]),
        source_environment=dict(type="str"),
        source_revision=dict(type="str"),
        revert=dict(type="str"),
        pin=dict(type="bool", default=False),
        clear_pins=dict(type="list", elements="str", default=[]),
        reason=dict(type="str"),
        known_services=dict(type="list", elements="str"),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    err = validate(module.params)
    if err:
        module.fail_json(msg=err + ". Nothing was changed.")
    release = Release(module)
    try:
        release.run()
    except GitError as exc:
        module.fail_json(msg=exc.msg, **dict((k, v) for k, v in release.result.items() if k != "changed"))


if __name__ == "__main__":
    main()
