"""Drive the ovh_kube_* modules through ansible-playbook against a fresh OVH API emulator.

A scenario is a list of :class:`Step`. :func:`run_steps` turns it into one playbook (one
``ansible-playbook`` run, so the start-up cost is paid once): before each step a marker request
(``GET /1.0/auth/time?mark=<step>``) goes to the emulator, so the request log splits into the
requests each step sent. The registered results are dumped to a file by a ``no_log`` task.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
SANDBOX = REPO / "tests" / "sandbox"
if str(SANDBOX) not in sys.path:
    sys.path.insert(0, str(SANDBOX))

from ovh_emulator.testing import EmulatorProcess  # noqa: E402

BIN = Path(sys.executable).parent
TRANSITION = 0.3
FAST = {"wait_sleep": 0.1, "wait_timeout": 60}
WAITING_MODULES = ("ovh_kube_cluster", "ovh_kube_nodepool", "ovh_kube_kubeconfig", "ovh_kube_iprestrictions",
                   "ovh_kube_oidc")
CREDENTIAL_ENV = ("OVH_ENDPOINT", "OVH_APPLICATION_KEY", "OVH_APPLICATION_SECRET", "OVH_CONSUMER_KEY",
                  "OVH_CLOUD_PROJECT_SERVICE")


class Step(object):
    def __init__(self, label, module, args, check=False, diff=False, fails=False, no_log=False):
        self.label = label
        self.module = module if "." in module else "keikolatam.gitops." + module
        self.args = args
        self.check = check
        self.diff = diff
        self.fails = fails
        self.no_log = no_log


class Run(object):
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
                continue
            if current and entry.get("kind") == "api":
                self.requests[current].append(entry)

    def __getitem__(self, label):
        return self.results[label]

    def writes(self, label):
        return [(e["method"], e["operation"]) for e in self.requests[label] if e["method"] != "GET"]

    def calls(self, label):
        return [(e["method"], e["operation"]) for e in self.requests[label]]


def _env(emu, extra=None):
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("OVH_"):
            del env[name]
    env.update((k, v) for k, v in emu.env.items() if k in CREDENTIAL_ENV)
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               PATH=str(BIN) + os.pathsep + env.get("PATH", ""))
    env.update(extra or {})
    return env


def _marker(emu, label):
    """A controller-side request (a lookup, no module run) that marks where a step starts in the log."""
    url = "%s/auth/time?mark=%s" % (emu.endpoint, label)
    debug = {"msg": "{{ lookup('ansible.builtin.url', %r) }}" % url, "verbosity": 3}
    return {"name": "mark %s" % label, "ansible.builtin.debug": debug}


def run_steps(emu, tmp_path, steps, verbosity=0, defaults=None, env=None, name="scenario"):
    """Run ``steps`` as one playbook; returns a :class:`Run`."""
    out = tmp_path / ("%s-results.json" % name)
    tasks = []
    for i, step in enumerate(steps):
        tasks.append(_marker(emu, step.label))
        task = {"name": step.label, step.module: step.args, "register": "r%d" % i}
        if step.check:
            task["check_mode"] = True
        if step.diff:
            task["diff"] = True
        if step.fails:
            task["ignore_errors"] = True
        if step.no_log:
            task["no_log"] = True
        tasks.append(task)
    results = "{%s}" % ", ".join("%s: r%d" % (json.dumps(s.label), i) for i, s in enumerate(steps))
    tasks.append(_marker(emu, "__end__"))
    tasks.append({"name": "dump results", "no_log": True, "check_mode": False, "delegate_to": "localhost",
                  "ansible.builtin.copy": {"content": "{{ %s | to_json }}" % results, "dest": str(out)}})
    mod_defaults = dict(FAST)
    mod_defaults.update(defaults or {})
    # The wait options only exist on the modules that wait (not on the _info ones).
    module_defaults = dict(("keikolatam.gitops." + m, mod_defaults) for m in WAITING_MODULES)
    play = [{"name": name, "hosts": "localhost", "gather_facts": False, "connection": "local",
             "module_defaults": module_defaults, "tasks": tasks}]
    book = tmp_path / ("%s.yml" % name)
    book.write_text(yaml.safe_dump(play, sort_keys=False))
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-e", "ansible_python_interpreter=" + sys.executable,
           str(book)]
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    proc = subprocess.run(cmd, cwd=str(REPO), env=_env(emu, env), capture_output=True, text=True, timeout=600,
                          check=False)
    if not out.exists():
        raise AssertionError("the playbook did not finish (rc %s):\n%s\n%s"
                             % (proc.returncode, proc.stdout[-6000:], proc.stderr[-3000:]))
    data = json.loads(out.read_text())
    for step in steps:
        failed = bool(data[step.label].get("failed"))
        if failed != step.fails:
            state = "failed" if failed else "did not fail"
            raise AssertionError("step %r %s:\n%s" % (step.label, state, json.dumps(data[step.label], indent=1)[:6000]))
    run = Run(proc, data, emu.requests(), steps)
    check_returns(run)
    return run


@pytest.fixture
def emu(tmp_path):
    """A fresh emulator with short transitions; fails the test on a response-schema violation."""
    with EmulatorProcess(state_dir=tmp_path / "emulator", transition_seconds=TRANSITION,
                         check_requests=True) as emulator:
        yield emulator


@pytest.fixture
def play(emu, tmp_path):
    def run(steps, **kw):
        return run_steps(emu, tmp_path, steps, **kw)
    return run


def wait_status(client, path, wanted="READY", timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        obj = client.get(path)
        if obj.get("status") == wanted:
            return obj
        if time.monotonic() > deadline:
            raise AssertionError("%s stayed %s" % (path, obj.get("status")))
        time.sleep(0.1)


@pytest.fixture
def cluster(emu):
    """A READY cluster created directly through the API (not through the module under test)."""
    client = emu.ovh_client()
    base = "/cloud/project/%s/kube" % emu.service_name
    created = client.post(base, region="GRA11", name="keiko-test", version="1.31")
    cluster = wait_status(client, "%s/%s" % (base, created["id"]))
    cluster["path"] = "%s/%s" % (base, created["id"])
    return cluster


STANDARD_KEYS = {"changed", "failed", "msg", "invocation", "diff", "warnings", "deprecations", "exception",
                 "_ansible_no_log", "_ansible_verbose_always", "skipped", "censored", "ansible_facts",
                 "module_stderr", "module_stdout", "rc"}


def documented_returns(module):
    """The RETURN keys of ``module`` and those documented as ``returned: always``."""
    source = (REPO / "plugins" / "modules" / ("%s.py" % module.rsplit(".", 1)[-1])).read_text()
    text = source.split('RETURN = r"""', 1)[1].split('"""', 1)[0]
    doc = yaml.safe_load(text)
    return set(doc), set(k for k, v in doc.items() if v.get("returned") == "always")


def check_returns(run):
    """Every key a step returned is documented; every ``returned: always`` key is there."""
    for step in run.steps:
        result = run[step.label]
        if not step.module.startswith("keikolatam.gitops.") or result.get("censored"):
            continue
        keys, always = documented_returns(step.module)
        extra = set(result) - keys - STANDARD_KEYS
        assert not extra, "%s returned undocumented keys %s" % (step.label, sorted(extra))
        if not result.get("failed"):
            missing = always - set(result)
            assert not missing, "%s did not return %s" % (step.label, sorted(missing))
