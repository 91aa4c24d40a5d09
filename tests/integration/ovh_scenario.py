"""Drive the collection's OVH modules through ansible-playbook against an OVH API emulator.

The one harness of the module scenarios (tests/integration/kube, tests/integration/services; the fixtures
``emu`` and ``play`` are in tests/integration/conftest.py). A scenario is a list of :class:`Step` (labels are
identifiers; a step's result is registered as ``step_<label>``, so later steps can template it);
:func:`run_steps` writes it as ONE playbook (the start-up cost of ansible-playbook is paid once per scenario).
Before each step a marker request (``GET /1.0/auth/time?mark=<label>``) goes to the emulator, so the request
log splits into the requests of each step. The registered results are written to a file by a ``no_log`` task;
the playbook output is kept for the secret checks. Every step must fail exactly when it says so, and every
result must match the RETURN documentation of its module (:func:`check_returns`).
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
MODULES = REPO / "plugins" / "modules"
BIN = Path(sys.executable).parent
TRANSITION = 0.3
FAST = {"wait_sleep": 0.1, "wait_timeout": 60}
CREDENTIAL_ENV = ("OVH_ENDPOINT", "OVH_APPLICATION_KEY", "OVH_APPLICATION_SECRET", "OVH_CONSUMER_KEY",
                  "OVH_CLOUD_PROJECT_SERVICE")
STANDARD_KEYS = {"changed", "failed", "msg", "invocation", "diff", "warnings", "deprecations", "exception",
                 "_ansible_no_log", "_ansible_verbose_always", "skipped", "censored", "module_stderr",
                 "module_stdout", "rc"}


class Step(object):
    def __init__(self, label, module, args, check=False, diff=False, fails=False):
        if not label.isidentifier():
            raise ValueError("a step label is registered as step_<label>: %r is not an identifier" % label)
        self.label = label
        self.module = module if "." in module else "keikolatam.gitops." + module
        self.args = args
        self.check = check
        self.diff = diff
        self.fails = fails


class Run(object):
    """The results of a scenario (``run[label]``), its output and the emulator's request log split by step."""

    def __init__(self, proc, results, log, steps):
        self.proc = proc
        self.output = proc.stdout + proc.stderr
        self.results = results
        self.steps = steps
        self.log = log
        self.requests = {}
        current = None
        for entry in log:
            mark = entry.get("query", {}).get("mark") if entry.get("path", "").endswith("/auth/time") else None
            if mark:
                current = mark
                self.requests[current] = []
            elif current and entry.get("kind") == "api":
                self.requests[current].append(entry)

    def __getitem__(self, label):
        return self.results[label]

    def writes(self, label):
        return [(e["method"], e["operation"]) for e in self.requests[label] if e["method"] != "GET"]

    def bodies(self, label, method):
        return [e.get("body") for e in self.requests[label] if e["method"] == method]


def env_for(emu):
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("OVH_"))
    env.update((k, v) for k, v in emu.env.items() if k in CREDENTIAL_ENV)
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               PATH=str(BIN) + os.pathsep + env.get("PATH", ""))
    return env


def _marker(emu, label):
    """A controller-side request (a lookup, no module run) that marks where a step starts in the log."""
    url = "%s/auth/time?mark=%s" % (emu.endpoint, label)
    return {"name": "mark %s" % label,
            "ansible.builtin.debug": {"msg": "{{ lookup('ansible.builtin.url', %r) }}" % url, "verbosity": 4}}


def run_steps(emu, tmp_path, steps, verbosity=0, defaults=None, name="scenario"):
    """Run ``steps`` as one playbook; returns a :class:`Run`. A step that fails (or not) unexpectedly fails.

    ``defaults`` are module_defaults of the waiting modules on top of the short waits (FAST).
    """
    out = tmp_path / ("%s-results.json" % name)
    tasks = []
    for step in steps:
        tasks.append(_marker(emu, step.label))
        task = {"name": step.label, step.module: step.args, "register": "step_" + step.label}
        if step.check:
            task["check_mode"] = True
        if step.diff:
            task["diff"] = True
        if step.fails:
            task["ignore_errors"] = True
        tasks.append(task)
    results = "{%s}" % ", ".join("%s: step_%s" % (json.dumps(s.label), s.label) for s in steps)
    tasks.append(_marker(emu, "__end__"))
    tasks.append({"name": "dump results", "no_log": True, "check_mode": False,
                  "ansible.builtin.copy": {"content": "{{ %s | to_json }}" % results, "dest": str(out)}})
    wait_defaults = dict(FAST, **(defaults or {}))
    # The modules with wait/wait_timeout/wait_sleep (meta/runtime.yml): the others would refuse these options.
    module_defaults = {"group/keikolatam.gitops.ovh_wait": wait_defaults}
    play = [{"name": name, "hosts": "localhost", "gather_facts": False, "connection": "local",
             "module_defaults": module_defaults, "tasks": tasks}]
    book = tmp_path / ("%s.yml" % name)
    book.write_text(yaml.safe_dump(play, sort_keys=False))
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-e", "ansible_python_interpreter=" + sys.executable,
           str(book)]
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    proc = subprocess.run(cmd, cwd=str(REPO), env=env_for(emu), capture_output=True, text=True, timeout=600,
                          check=False)
    if not out.exists():
        raise AssertionError("the playbook did not finish (rc %s):\n%s\n%s" % (
            proc.returncode, proc.stdout[-6000:], proc.stderr[-3000:]))
    data = json.loads(out.read_text())
    for step in steps:
        failed = bool(data[step.label].get("failed"))
        if failed != step.fails:
            what = "failed" if failed else "did not fail"
            raise AssertionError("step %r %s:\n%s" % (step.label, what, json.dumps(data[step.label], indent=1)[:6000]))
    run = Run(proc, data, emu.requests(), steps)
    check_returns(run)
    return run


def documented_returns(module):
    """The RETURN keys of ``module``, and those documented as ``returned: always``."""
    source = (MODULES / ("%s.py" % module.rsplit(".", 1)[-1])).read_text()
    doc = yaml.safe_load(source.split('RETURN = r"""', 1)[1].split('"""', 1)[0])
    return set(doc), set(k for k, v in doc.items() if v.get("returned") == "always")


def check_returns(run):
    """Every key a step returned is documented in RETURN; every ``returned: always`` key is there."""
    for step in run.steps:
        result = run[step.label]
        if not step.module.startswith("keikolatam.gitops."):
            continue
        keys, always = documented_returns(step.module)
        extra = set(result) - keys - STANDARD_KEYS
        assert not extra, "%s returned undocumented keys %s" % (step.label, sorted(extra))
        if not result.get("failed"):
            missing = always - set(result)
            assert not missing, "%s did not return %s" % (step.label, sorted(missing))


def wait_status(client, path, wanted=("READY",), timeout=30.0):
    """GET ``path`` until its status is one of ``wanted``."""
    deadline = time.monotonic() + timeout
    while True:
        obj = client.get(path)
        if obj.get("status") in wanted:
            return obj
        if time.monotonic() > deadline:
            raise AssertionError("%s stayed %s" % (path, obj.get("status")))
        time.sleep(0.1)
