"""The harness of tests/integration/gitops (its fixtures are in conftest.py): git on the bare repositories,
:class:`Remote`, :func:`run_play` (the steps as ONE ansible-playbook run, each result registered and checked
against its module's RETURN with ``ovh_scenario.check_returns``), and the concurrent-push hook.
"""

import json
import os
import subprocess
import sys

import yaml

import ovh_scenario

REPO = ovh_scenario.REPO
BIN = ovh_scenario.BIN
GIT_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
GIT_ENV.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", LC_ALL="C",
               GIT_AUTHOR_NAME="Other", GIT_AUTHOR_EMAIL="other@example.invalid",
               GIT_COMMITTER_NAME="Other", GIT_COMMITTER_EMAIL="other@example.invalid")


def git(*args, cwd=None, check=True, env=None):
    proc = subprocess.run(["git", *args], cwd=cwd, env=env or GIT_ENV, capture_output=True, text=True,
                          timeout=60, check=False)
    if check and proc.returncode:
        raise AssertionError("git %s: %s" % (" ".join(args), proc.stderr))
    return proc.stdout


class Remote:
    """A bare repository on the git server: ``url`` (HTTP), ``bare`` (its path on disk), and its credentials."""

    def __init__(self, server, name, tmp_path):
        self.bare = server.init_bare(name)
        self.url = server.repo_url(name)
        self.username = server.username
        self.password = server.password
        self.tmp = tmp_path

    @property
    def auth(self):
        return {"repo_url": self.url, "branch": "main", "username": self.username, "password": self.password}

    def head(self, branch="main"):
        return git("rev-parse", "--verify", "--quiet", "refs/heads/" + branch, cwd=self.bare, check=False).strip() or None

    def count(self, branch="main"):
        head = self.head(branch)
        return int(git("rev-list", "--count", head, cwd=self.bare)) if head else 0

    def show(self, path, rev="main"):
        return git("show", "%s:%s" % (rev, path), cwd=self.bare)

    def message(self, rev="main"):
        return git("log", "-1", "--format=%B", rev, cwd=self.bare)

    def log(self, rev="main"):
        """[(sha, parents, author, subject)] newest first."""
        out = git("log", "--format=%H %P%x1f%an <%ae>%x1f%s", rev, cwd=self.bare)
        rows = []
        for line in out.splitlines():
            shas, author, subject = line.split("\x1f")
            sha, *parents = shas.split()
            rows.append((sha, parents, author, subject))
        return rows

    def seed(self, files, message="seed", branch="main"):
        """Push a commit of ``files`` (path -> text, None deletes) straight to the bare repository; its sha."""
        work = self.tmp / ("seed-%d" % len(list(self.tmp.glob("seed-*"))))
        if self.head(branch):
            git("clone", "-q", "--branch", branch, str(self.bare), str(work))
        else:
            git("init", "-q", "-b", branch, str(work))
            git("remote", "add", "origin", str(self.bare), cwd=work)
        for path, text in files.items():
            target = work / path
            if text is None:
                git("rm", "-q", path, cwd=work)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            git("add", path, cwd=work)
        git("commit", "-qm", message, cwd=work)
        git("push", "-q", "origin", "HEAD:refs/heads/" + branch, cwd=work)
        return git("rev-parse", "HEAD", cwd=work).strip()


class Run:
    def __init__(self, proc, results, steps):
        self.proc = proc
        self.output = proc.stdout + proc.stderr
        self.results = results
        self.steps = steps

    def __getitem__(self, label):
        return self.results[label]


def playbook_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OVH_", "GIT_"))}
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull,
               PATH=str(BIN) + os.pathsep + os.environ.get("PATH", ""))
    env.update(extra or {})
    return env


def hook_env(tmp_path, script):
    """An environment for ``play`` whose git configuration runs ``script`` as a post-commit hook, once.

    The module's commit runs git's post-commit hook (the user's ``core.hooksPath``): the script stands for
    another clone pushing between the module's clone and its push.
    """
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    mark = tmp_path / "hook-ran"
    hook = hooks / "post-commit"
    hook.write_text("#!/bin/sh\n[ -e '%s' ] && exit 0\ntouch '%s'\nunset GIT_DIR GIT_INDEX_FILE GIT_WORK_TREE "
                    "GIT_PREFIX GIT_CONFIG_PARAMETERS\nexec '%s' '%s'\n" % (mark, mark, sys.executable, script))
    hook.chmod(0o755)
    config = tmp_path / "gitconfig"
    config.write_text("[core]\n\thooksPath = %s\n" % hooks)
    return {"GIT_CONFIG_GLOBAL": str(config)}, mark


def write_script(tmp_path, remote, files, message="a concurrent push"):
    """A Python script that pushes ``files`` to ``remote`` from another clone (on disk)."""
    script = tmp_path / "other_push.py"
    script.write_text(
        "import os, subprocess, sys, tempfile\n"
        "env = %r\n"
        "work = tempfile.mkdtemp()\n"
        "run = lambda *a: subprocess.run(['git', *a], cwd=work, env=env, check=True, capture_output=True)\n"
        "run('clone', '-q', '--branch', 'main', %r, '.')\n"
        "for path, text in %r.items():\n"
        "    os.makedirs(os.path.dirname(os.path.join(work, path)) or work, exist_ok=True)\n"
        "    open(os.path.join(work, path), 'w').write(text)\n"
        "    run('add', path)\n"
        "run('commit', '-qm', %r)\n"
        "run('push', '-q', 'origin', 'HEAD:refs/heads/main')\n" % (GIT_ENV, str(remote.bare), files, message))
    return script


def run_play(tmp_path, steps, verbosity=0, env=None, name="gitops", defaults=None):
    """The steps as one playbook (with ``defaults`` as its module_defaults); a :class:`Run`."""
    out = tmp_path / ("%s-results.json" % name)
    tasks = []
    for step in steps:
        task = {"name": step.label, step.module: step.args, "register": "step_" + step.label}
        if step.check:
            task["check_mode"] = True
        if step.diff:
            task["diff"] = True
        if step.fails:
            task["ignore_errors"] = True
        tasks.append(task)
    results = "{%s}" % ", ".join("%s: step_%s" % (json.dumps(s.label), s.label) for s in steps)
    tasks.append({"name": "dump results", "no_log": True, "check_mode": False,
                  "ansible.builtin.copy": {"content": "{{ %s | to_json }}" % results, "dest": str(out)}})
    book = tmp_path / ("%s.yml" % name)
    book.write_text(yaml.safe_dump([{"name": name, "hosts": "localhost", "gather_facts": False,
                                     "connection": "local", "module_defaults": defaults or {},
                                     "tasks": tasks}], sort_keys=False))
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-e", "ansible_python_interpreter=" + sys.executable,
           str(book)]
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    proc = subprocess.run(cmd, cwd=str(REPO), env=playbook_env(env), capture_output=True, text=True,
                          timeout=600, check=False)
    if not out.exists():
        raise AssertionError("the playbook did not finish (rc %s):\n%s\n%s" % (
            proc.returncode, proc.stdout[-6000:], proc.stderr[-3000:]))
    data = json.loads(out.read_text())
    for step in steps:
        failed = bool(data[step.label].get("failed"))
        if failed != step.fails:
            what = "failed" if failed else "did not fail"
            raise AssertionError("step %r %s:\n%s" % (step.label, what, json.dumps(data[step.label], indent=1)[:6000]))
    result = Run(proc, data, steps)
    ovh_scenario.check_returns(result)
    return result
