# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A temporary working copy of one branch of a remote git repository.

PRIVATE to this collection: not a public API, may change in any release.

- :func:`check_repo_url`, :func:`check_branch`, :func:`check_path`, :func:`parse_author`: the checks of the
  input, made before anything is cloned or written (each returns an error message or None);
- :class:`WorkingCopy`: a private temporary directory (mode 0700) holding the credentials in two 0600
  files that git reads through ``GIT_ASKPASS`` (never on a command line, in a URL, in an environment
  variable's value or in a message), the working copy of the branch, commits with an author, a message and
  trailers, and a push that fetches, rebases and pushes again after a non-fast-forward (bounded);
- :func:`build_message`, :func:`parse_trailers`: commit messages with ``Key: value`` trailers;
- :func:`scrub`: the userinfo of URLs and the password removed from any text that reaches a message.

Every git command runs with an explicit timeout and ``GIT_TERMINAL_PROMPT=0`` (git never waits on a
terminal), with the credential helpers of the user's configuration switched off (so the password is
never stored by one), and in the C locale (so its messages can be recognised).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import subprocess
import tempfile

SCHEMES = ("https", "http", "file")
_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")
_AUTHOR = re.compile(r"^\s*([^<>\n]*[^<>\s])\s*<([^<>\s@]+@[^<>\s@]+)>\s*$")
_TRAILER_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_TRAILER_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*)\s*:\s?(.*)$")
# What git prints when a push is refused because the remote branch moved (fetch first, non-fast-forward),
# or because another push updated it while this one was being received (the ref lock or its old value).
_MOVED = re.compile(r"\[rejected\]|non-fast-forward|fetch first|cannot lock ref|failed to update ref|"
                    r"stale info|but expected", re.IGNORECASE)
_GIT_ENV_DROP = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_NAMESPACE",
                 "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CEILING_DIRECTORIES", "GIT_ASKPASS", "SSH_ASKPASS",
                 "GIT_SSH_COMMAND", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_TRACE", "GIT_TRACE_CURL",
                 "GIT_TRACE_PACKET", "GIT_CURL_VERBOSE")

ASKPASS = """#!/bin/sh
# GIT_ASKPASS of keikolatam.gitops: answers git's prompts from two 0600 files of this private directory.
case "$1" in
  Username*) cat %(dir)s/username ;;
  *) cat %(dir)s/password ;;
esac
"""


class GitError(Exception):
    """A git command failed; the message is scrubbed of credentials."""

    def __init__(self, msg, conflict=False):
        super(GitError, self).__init__(msg)
        self.msg = msg
        self.conflict = conflict


def scrub(text, secrets=()):
    """``text`` without the userinfo of any URL and without any of ``secrets``."""
    text = _URL_USERINFO.sub(r"\1", text or "")
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def check_repo_url(url):
    """An error message for a repository URL the modules refuse, or None."""
    if not url:
        return "repo_url is empty"
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/]*)(.*)$", url)
    if not match:
        return "repo_url %s is not a URL: use %s://..." % (scrub(url), ", ".join(SCHEMES))
    scheme, authority, path = match.group(1).lower(), match.group(2), match.group(3)
    if scheme not in SCHEMES:
        return "the scheme of repo_url %s is not one of %s" % (scrub(url), ", ".join(SCHEMES))
    if "@" in authority:
        return ("repo_url %s carries credentials: give them in username and password (they reach git through "
                "its askpass only, never in a URL)" % scrub(url))
    if scheme != "file" and not authority:
        return "repo_url %s has no host" % scrub(url)
    if scheme == "file" and not path:
        return "repo_url %s has no path" % scrub(url)
    if re.search(r"\s", url):
        return "repo_url %s contains white space" % scrub(url)
    return None


def check_branch(name):
    """An error message for a branch name git refuses (git check-ref-format's rules), or None."""
    if not name:
        return "the branch name is empty"
    bad = None
    if name.startswith("-") or name.startswith("/") or name.endswith("/") or name.endswith("."):
        bad = "starts with '-' or '/', or ends with '/' or '.'"
    elif ".." in name or "//" in name or "@{" in name or name == "@":
        bad = "contains '..', '//' or '@{'"
    elif re.search(r"[\x00-\x20\x7f~^:?*\[\\]", name):
        bad = "contains a space, a control character or one of ~^:?*[\\"
    elif any(part.startswith(".") or part.endswith(".lock") for part in name.split("/")):
        bad = "has a component that starts with '.' or ends with '.lock'"
    if bad:
        return "the branch name %r is not a valid git branch: it %s" % (name, bad)
    return None


def check_path(path):
    """An error message for a file path outside the working copy (absolute, '..', '.git'), or None."""
    if not isinstance(path, str) or not path.strip():
        return "a file path is empty"
    if path.startswith("/") or path.startswith("\\") or re.match(r"^[A-Za-z]:", path):
        return "the file path %r is absolute: give it relative to the repository's root" % path
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "the file path %r has an empty, '.' or '..' component" % path
    if parts[0] == ".git" or any(p.lower() == ".git" for p in parts):
        return "the file path %r is inside .git" % path
    if "\0" in path or "\n" in path or "\\" in path:
        return "the file path %r contains a NUL, a newline or a backslash" % path
    return None


def parse_author(author):
    """``(name, email)`` of ``Name <email>``; raises ValueError with a message."""
    match = _AUTHOR.match(author or "")
    if not match:
        raise ValueError("author %r is not of the form 'Name <email>'" % (author,))
    return match.group(1).strip(), match.group(2)


def check_trailers(trailers):
    """An error message for trailers git would not keep as trailers (keys, one-line values), or None."""
    for key, value in (trailers or {}).items():
        if not _TRAILER_KEY.match(str(key)):
            return "the trailer key %r is not letters, digits and '-'" % (key,)
        if value is not None and ("\n" in str(value) or "\r" in str(value)):
            return "the value of the trailer %s spans several lines" % key
    return None


def build_message(message, trailers=None):
    """``message`` with ``Key: value`` trailers appended as its last paragraph (None values left out)."""
    text = (message or "").strip("\n").rstrip()
    lines = ["%s: %s" % (k, str(v).strip()) for k, v in (trailers or {}).items() if v is not None and str(v).strip()]
    if not lines:
        return text + "\n"
    return "%s\n\n%s\n" % (text, "\n".join(lines))


def parse_trailers(message):
    """The trailers of a commit message (its last paragraph when every line of it is ``Key: value``).

    Returns a dict (the last value of a key repeated wins) and is empty when the message has no trailer
    paragraph or only one paragraph (a subject that looks like ``Key: value`` is not a trailer).
    """
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", (message or "").strip()) if p.strip()]
    if len(paragraphs) < 2:
        return {}
    trailers = {}
    last_key = None
    for line in paragraphs[-1].splitlines():
        if line[:1] in (" ", "\t") and last_key:  # a folded value
            trailers[last_key] += " " + line.strip()
            continue
        match = _TRAILER_LINE.match(line)
        if not match:
            return {}
        last_key = match.group(1)
        trailers[last_key] = match.group(2).strip()
    return trailers


def subject(message):
    return (message or "").strip().split("\n", 1)[0].strip()


def _write_private(path, content, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)


class WorkingCopy(object):
    """A temporary working copy of ``branch`` of ``url``; a context manager that removes everything it wrote.

    ``with WorkingCopy(url, branch, username, password, timeout) as wc: wc.checkout(); wc.write(...); ...``
    """

    def __init__(self, url, branch, username=None, password=None, timeout=60, author=None):
        self.url = url
        self.branch = branch
        self.username = username or None
        self.password = password or None
        self.timeout = timeout
        self.author = author
        self.tmp = None
        self.tree = None
        self.head = None
        self.exists = None
        self.retries = 0
        self.env = None

    # -- set-up ---------------------------------------------------------------------------------------------
    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="keiko-git-")
        env = dict((k, v) for k, v in os.environ.items() if k not in _GIT_ENV_DROP)
        env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", LANGUAGE="C", GIT_ASKPASS="/bin/false",
                   GIT_SSH_COMMAND="ssh -o BatchMode=yes")
        if self.username or self.password:
            _write_private(os.path.join(self.tmp, "username"), self.username or "", 0o600)
            _write_private(os.path.join(self.tmp, "password"), self.password or "", 0o600)
            askpass = os.path.join(self.tmp, "askpass.sh")
            quoted = "'%s'" % self.tmp.replace("'", "'\\''")
            _write_private(askpass, ASKPASS % {"dir": quoted}, 0o700)
            env["GIT_ASKPASS"] = askpass
        if self.author:
            name, email = parse_author(self.author)
            env.update(GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_COMMITTER_NAME=name,
                       GIT_COMMITTER_EMAIL=email)
        self.env = env
        self.tree = os.path.join(self.tmp, "tree")
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    # -- running git ------------------------------------------------------------------------------------------
    def scrub(self, text):
        return scrub(text, (self.password,))

    def run(self, *args, **kwargs):
        """Run ``git args`` in the working copy; returns (rc, stdout, stderr). Raises GitError unless check=False."""
        cwd = kwargs.get("cwd", self.tree)
        check = kwargs.get("check", True)
        data = kwargs.get("data")
        cmd = ["git", "-c", "credential.helper=", "-c", "core.askPass=", "-c", "color.ui=false",
               "-c", "advice.detachedHead=false"] + list(args)
        try:
            proc = subprocess.run(cmd, cwd=cwd, env=self.env, input=(data or "").encode("utf-8"),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=self.timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise GitError("git %s timed out after %s seconds (the timeout option) on %s" % (
                args[0], self.timeout, scrub(self.url)))
        except OSError as exc:
            raise GitError("cannot run git (is it installed on the host?): %s" % exc)
        out = proc.stdout if kwargs.get("raw") else proc.stdout.decode("utf-8", "replace")
        err = proc.stderr.decode("utf-8", "replace")
        if check and proc.returncode != 0:
            out = out.decode("utf-8", "replace") if kwargs.get("raw") else out
            hint = ""
            if "Authentication failed" in err or "could not read Username" in err:
                hint = " (the username or password is refused, or missing)"
            raise GitError("git %s failed (rc %d) on %s%s: %s" % (
                args[0], proc.returncode, scrub(self.url), hint, self.scrub(err.strip() or out.strip())))
        return proc.returncode, out, err

    # -- the working copy -------------------------------------------------------------------------------------
    def remote_head(self):
        """The sha of the remote branch, or None when it does not exist."""
        dummy, out, dummy = self.run("ls-remote", "--heads", "--", self.url, "refs/heads/" + self.branch, cwd=self.tmp)
        for line in out.splitlines():
            sha, dummy, ref = line.partition("\t")
            if ref.strip() == "refs/heads/" + self.branch:
                return sha.strip()
        return None

    def checkout(self, depth=1, create=False, bare=False):
        """Clone the branch (``depth`` commits, None = the whole history; ``bare``: no files checked out).

        A branch that does not exist fails, unless ``create``: then an empty working copy whose first push
        creates it. Sets ``head`` (None for a new branch) and ``exists``.
        """
        head = self.remote_head()
        self.exists = head is not None
        if head is None:
            if not create:
                raise GitError("the branch %s does not exist in %s (create_branch creates it; check the branch "
                               "name)" % (self.branch, scrub(self.url)))
            self.run(*(["init", "--quiet"] + (["--bare"] if bare else []) + [self.tree]), cwd=self.tmp)
            self.run("symbolic-ref", "HEAD", "refs/heads/" + self.branch)
            self.run("remote", "add", "origin", "--", self.url)
            self.head = None
            return None
        args = ["clone", "--quiet", "--no-tags", "--single-branch", "--branch", self.branch]
        if depth:
            args += ["--depth", str(int(depth))]
        if bare:
            args.append("--bare")
        self.run(*(args + ["--", self.url, self.tree]), cwd=self.tmp)
        self.head = self.rev("HEAD")
        return self.head

    def rev(self, ref):
        return self.run("rev-parse", "--verify", "--quiet", ref + "^{commit}")[1].strip()

    def has_commit(self, sha):
        rc = self.run("cat-file", "-e", sha + "^{commit}", check=False)[0]
        return rc == 0

    def path(self, rel):
        err = check_path(rel)
        if err:
            raise GitError(err)
        return os.path.join(self.tree, *rel.split("/"))

    def read(self, rel):
        """The text of ``rel`` in the working copy, or None when it does not exist."""
        full = self.path(rel)
        if os.path.islink(full) or not os.path.exists(full):
            return None
        if os.path.isdir(full):
            raise GitError("%s is a directory in the repository, not a file" % rel)
        with open(full, "rb") as handle:
            data = handle.read()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise GitError("%s is not UTF-8 text: the gitops modules only write text files" % rel)

    def show(self, rev, rel):
        """The text of ``rel`` at ``rev``, or None when it does not exist there."""
        rc, out, dummy = self.run("show", "%s:%s" % (rev, rel), check=False)
        return out if rc == 0 else None

    def cat_files(self, specs):
        """The text of each ``rev:path`` of ``specs`` (None when it does not exist), read in one git command."""
        if not specs:
            return []
        out = self.run("cat-file", "--batch", data="".join(spec + "\n" for spec in specs), raw=True)[1]
        texts = []
        pos = 0
        for dummy in specs:
            eol = out.index(b"\n", pos)
            header = out[pos:eol].decode("utf-8", "replace").split()
            pos = eol + 1
            if len(header) == 3 and header[1] == "blob":
                size = int(header[2])
                texts.append(out[pos:pos + size].decode("utf-8", "replace"))
                pos += size + 1
            elif len(header) == 3:  # a tree or a commit: not a file
                pos += int(header[2]) + 1
                texts.append(None)
            else:  # "<spec> missing" / "ambiguous"
                texts.append(None)
        return texts

    def write(self, rel, content):
        """Write ``content`` (text) to ``rel``, or delete it when None."""
        full = self.path(rel)
        parent = os.path.dirname(full)
        # No symlink on the way out of the working copy.
        here = self.tree
        for part in rel.split("/")[:-1]:
            here = os.path.join(here, part)
            if os.path.islink(here) or (os.path.exists(here) and not os.path.isdir(here)):
                raise GitError("%s is not a directory in the repository" % os.path.relpath(here, self.tree))
        if content is None:
            if os.path.lexists(full):
                if os.path.isdir(full) and not os.path.islink(full):
                    raise GitError("%s is a directory in the repository, not a file" % rel)
                os.unlink(full)
            return
        if not os.path.isdir(parent):
            os.makedirs(parent)
        if os.path.islink(full):
            os.unlink(full)
        with open(full, "wb") as handle:
            handle.write(content.encode("utf-8"))

    def stage(self, paths):
        """``git add`` the paths (deletions too); returns the staged paths that differ from HEAD."""
        if paths:
            self.run("add", "--all", "--", *paths)
        out = self.run("diff", "--cached", "--name-only", "-z", "--no-renames")[1]
        return sorted(p for p in out.split("\0") if p)

    def commit(self, message):
        """Commit what is staged with ``message`` (its trailers included); returns the new sha."""
        self.run("commit", "--quiet", "--no-verify", "--cleanup=verbatim", "--file=-", data=message)
        return self.rev("HEAD")

    def revert(self, sha, message):
        """Revert ``sha`` on top of HEAD as one commit with ``message``; None when it changes nothing.

        A conflict aborts the revert and raises GitError(conflict=True).
        """
        if not self.has_commit(sha):
            raise GitError("the commit %s is not in the history of %s" % (sha, self.branch))
        parents = self.run("rev-list", "--parents", "-n", "1", sha)[1].split()
        args = ["revert", "--no-commit"]
        if len(parents) > 2:
            args += ["--mainline", "1"]
        if len(parents) < 2:
            raise GitError("the commit %s is the root commit of %s: there is nothing before it to return to"
                           % (sha, self.branch))
        rc, out, err = self.run(*(args + [sha]), check=False)
        if rc != 0:
            self.run("revert", "--abort", check=False)
            self.run("reset", "--quiet", "--hard", "HEAD", check=False)
            raise GitError("git revert %s conflicts with later commits of %s: %s. Nothing was committed or "
                           "pushed." % (sha, self.branch, self.scrub((err or out).strip())), conflict=True)
        if not self.stage([]):
            return None
        return self.commit(message)

    def log(self, rev="HEAD", paths=(), limit=None):
        """Commits of ``rev`` (newest first): dicts of sha, parents, author, email, when, message."""
        args = ["log", "--format=%H%x1f%P%x1f%an%x1f%ae%x1f%cI%x1f%B%x1e"]
        if limit:
            args.append("-n%d" % int(limit))
        args.append(rev)
        if paths:
            args += ["--"] + list(paths)
        out = self.run(*args)[1]
        commits = []
        for record in out.split("\x1e"):
            record = record.lstrip("\n")
            if not record:
                continue
            sha, parents, name, email, when, message = record.split("\x1f", 5)
            commits.append({"sha": sha, "parents": parents.split(), "author": name, "email": email,
                            "when": when, "message": message.rstrip("\n") + "\n"})
        return commits

    def push(self, retries=3):
        """Push HEAD to the branch; after a refusal because the branch moved, fetch, rebase and push again.

        At most ``retries`` more attempts. A rebase conflict aborts the rebase (the remote is untouched) and
        raises GitError(conflict=True). Returns the pushed sha; ``self.retries`` counts the retries.
        """
        target = "HEAD:refs/heads/" + self.branch
        self.retries = 0
        while True:
            rc, out, err = self.run("push", "--porcelain", "origin", target, check=False)
            if rc == 0:
                self.head = self.rev("HEAD")
                return self.head
            text = err + "\n" + out
            if not _MOVED.search(text):
                raise GitError("git push to %s (branch %s) failed: %s" % (
                    scrub(self.url), self.branch, self.scrub(err.strip() or out.strip())))
            if self.retries >= retries:
                raise GitError("the branch %s of %s kept moving: the push was refused %d times (push_retries=%d); "
                               "nothing was pushed. The last refusal: %s" % (
                                   self.branch, scrub(self.url), self.retries + 1, retries,
                                   self.scrub(err.strip() or out.strip())))
            self.retries += 1
            self.run("fetch", "--quiet", "--no-tags", "origin",
                     "+refs/heads/%s:refs/remotes/origin/%s" % (self.branch, self.branch))
            upstream = "refs/remotes/origin/" + self.branch
            rc, out, err = self.run("rebase", "--quiet", upstream, check=False)
            if rc != 0:
                dummy, files, dummy = self.run("diff", "--name-only", "--diff-filter=U", check=False)
                self.run("rebase", "--abort", check=False)
                raise GitError("the branch %s of %s moved while this change was being pushed, and the new commits "
                               "conflict with it%s: nothing was pushed (run again on the new state)" % (
                                   self.branch, scrub(self.url),
                                   " in " + ", ".join(files.split()) if files.strip() else ""), conflict=True)


DEFAULT_AUTHOR = "keikolatam.gitops <gitops@keikolatam.invalid>"


def connection_spec(author=True):
    """The options every gitops_* module takes (their doc is in each module)."""
    spec = dict(
        repo_url=dict(type="str", required=True),
        branch=dict(type="str", default="main"),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        timeout=dict(type="int", default=60),
    )
    if author:
        spec["author"] = dict(type="str", default=DEFAULT_AUTHOR)
    return spec


def check_connection(params):
    """The first error in the connection options (URL, branch, author, timeout), or None."""
    err = check_repo_url(params.get("repo_url")) or check_branch(params.get("branch"))
    if err:
        return err
    if params.get("timeout") is not None and params["timeout"] <= 0:
        return "timeout must be a positive number of seconds, not %s" % params["timeout"]
    if params.get("password") and not params.get("username"):
        return "password needs username"
    if "author" in params:
        try:
            parse_author(params.get("author"))
        except ValueError as exc:
            return str(exc)
    return None


def working_copy(params):
    """A :class:`WorkingCopy` of the module's connection options (not entered yet)."""
    return WorkingCopy(params["repo_url"], params["branch"], params.get("username"), params.get("password"),
                       params.get("timeout") or 60, params.get("author"))


def file_diff(path, before, after):
    """One entry of a module's diff (a list of them) for a file: None content is an absent file."""
    return {"before_header": path if before is not None else "%s (absent)" % path,
            "after_header": path if after is not None else "%s (deleted)" % path,
            "before": before or "", "after": after or ""}


# The overlays' layout, read and written by the gitops_* modules and the gitops_repository role: an environment's
# overlay, ``k8s/overlays/<env>/kustomization.yaml``, lists one directory per service (``resources: [identity,
# ...]``); each service's kustomization, ``k8s/overlays/<env>/<service>/kustomization.yaml``, holds its ``images``
# entry (named ``keiko/<service>``), replicas and patches. kustomize's transformers visit every object of the
# kustomization they are in, so per-service ones keep a build linear in the number of services.
NAME_PREFIX = "keiko/"
#: A service or environment name (a DNS label), which is also its directory in the overlay.
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def overlay_path(environment, service=None):
    """The kustomization of the overlay of ``environment``, or of ``service`` in it."""
    if service is None:
        return "k8s/overlays/%s/kustomization.yaml" % environment
    return "k8s/overlays/%s/%s/kustomization.yaml" % (environment, service)


def overlay_services(kustomization):
    """The services an environment's overlay lists: its ``resources`` that are a service's directory."""
    resources = (kustomization or {}).get("resources") if isinstance(kustomization, dict) else None
    return [r for r in resources or [] if isinstance(r, str) and NAME.match(r)]


def old_layout(kustomization):
    """A message when an environment's overlay has the images itself (the one-file layout), else None."""
    if isinstance(kustomization, dict) and kustomization.get("images"):
        return ("has an images: list of its own (the one-file layout, which kustomize cannot build for hundreds of "
                "services); render the environment again (role keikolatam.gitops.gitops_repository): it moves each "
                "image into k8s/overlays/<env>/<service>/kustomization.yaml")
    return None


def format_reference(name, tag=None, digest=None):
    return "%s%s%s" % (name, ":" + tag if tag else "", "@" + digest if digest else "")


def entry_reference(entry):
    """The reference an ``images`` entry of a kustomization stands for."""
    return format_reference(entry.get("newName") or entry.get("name"), entry.get("newTag"), entry.get("digest"))


def service_of(entry):
    name = str(entry.get("name") or "")
    return name[len(NAME_PREFIX):] if name.startswith(NAME_PREFIX) else None


def images_of(kustomization):
    """service -> reference of the ``keiko/<service>`` entries of a parsed kustomization."""
    out = {}
    for entry in (kustomization or {}).get("images") or []:
        if isinstance(entry, dict) and service_of(entry):
            out[service_of(entry)] = entry_reference(entry)
    return out
