"""Run the collection's playbooks (site.yml, playbooks/destroy.yml) and the inventory plugin against a fresh OVH
API emulator, as a user runs them: ``ansible-playbook -i inventories/<env> ...`` from the checkout.

One emulator serves the whole module (the scenario is a sequence: converge, converge again, check, change one
value, list, destroy). Each run's results come from the ``ansible.posix.json`` callback; the emulator's request
log says what each run sent.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ovh_emulator.testing import EmulatorProcess

REPO = Path(__file__).resolve().parents[3]

BIN = Path(sys.executable).parent
TRANSITION = 0.3


class Run(object):
    """One ansible-playbook (or ansible-inventory) run: rc, parsed output, and the requests it sent."""

    def __init__(self, proc, requests, seconds):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.requests = requests
        self.seconds = seconds
        self.data = None
        try:
            self.data = json.loads(proc.stdout[proc.stdout.index("{"):]) if "{" in proc.stdout else None
        except ValueError:
            self.data = None

    @property
    def api_requests(self):
        return [e for e in self.requests if e.get("kind") == "api"]

    @property
    def writes(self):
        return [(e["method"], e["operation"]) for e in self.api_requests if e["method"] != "GET"]

    def tasks(self, host=None):
        """(task name, result) for every task that ran, in order: of ``host`` (an environment, an inventory host),
        or of every host."""
        out = []
        for play in (self.data or {}).get("plays", []):
            for task in play.get("tasks", []):
                for name, result in sorted(task.get("hosts", {}).items()):
                    if host is None or name == host:
                        out.append((task["task"]["name"], result))
        return out

    def changed_tasks(self):
        return [name for name, result in self.tasks() if result.get("changed")]

    def result(self, name_part):
        found = [r for n, r in self.tasks() if name_part in n]
        assert found, "no task named like %r ran:\n%s" % (name_part, self.summary())
        return found[-1]

    def summary(self):
        lines = ["rc=%s (%.0fs)" % (self.rc, self.seconds)]
        for name, result in self.tasks():
            if result.get("failed"):
                state = "FAILED"
            elif result.get("changed"):
                state = "changed"
            else:
                state = "skipped" if result.get("skipped") else "ok"
            lines.append("  %-8s %s%s" % (state, name, (": " + str(result.get("msg"))[:300]) if result.get("failed") else ""))
        if not self.data:
            lines.append(self.stdout[-4000:])
        lines.append(self.stderr[-3000:])
        return "\n".join(lines)


class Sandbox(object):
    """The emulator plus the environment a user gets from ``source .sandbox/env``."""

    def __init__(self, emu, secrets_dir):
        self.emu = emu
        self.secrets_dir = secrets_dir

    def env(self, extra=None):
        env = dict(os.environ)
        for name in list(env):
            if name.startswith(("OVH_", "ANSIBLE_", "KEIKO_")):
                del env[name]
        env.update(self.emu.env_signature)
        env.update(KEIKO_SECRETS_DIR=str(self.secrets_dir), ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
                   ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   ANSIBLE_LOCALHOST_WARNING="0", PATH=str(BIN) + os.pathsep + env.get("PATH", ""))
        env.update(extra or {})
        return env

    def last_seq(self):
        entries = self.emu.requests()
        return entries[-1]["seq"] if entries else 0

    def _run(self, cmd, env=None):
        since = self.last_seq()
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=str(REPO), env=self.env(env), capture_output=True, text=True, timeout=900,
                              check=False)
        seconds = time.monotonic() - started
        return Run(proc, self.emu.requests(since=since), seconds)

    def playbook(self, playbook, inventory="inventories/sandbox", *args, env=None):
        return self._run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)] + list(args), env=env)

    def inventory(self, source, *args):
        return self._run([str(BIN / "ansible-inventory"), "-i", str(source)] + list(args),
                         env={"ANSIBLE_STDOUT_CALLBACK": "default"})

    def state(self):
        return self.emu.state()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A fresh emulator with short transitions; fails on a response-schema violation at the end."""
    base = tmp_path_factory.mktemp("provision")
    with EmulatorProcess(state_dir=base / "emulator", transition_seconds=TRANSITION) as emu:
        yield Sandbox(emu, base / "secrets")
