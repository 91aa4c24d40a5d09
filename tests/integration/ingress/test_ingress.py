"""The ingress role against the OVH API emulator's Keystone and Neutron (real openstacksdk through openstack.cloud)
and a bare git repository: the floating IP is reserved once and reused, the rendering carries it, a re-render
after the files (the Service) were removed keeps it, destroy.yml keeps it unless asked; bad input changes nothing.

Each test has its own emulator and repository: the lifecycle is one test (a sequence of ansible-playbook runs), so
that pytest-xdist, which spreads tests one by one, cannot split it.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import openstack
import pytest
import yaml
from ovh_emulator.schema import mirror_dir
from ovh_emulator.testing import EmulatorProcess

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
ENV_NAME = "sandbox"
REGION = "GRA11"
HOST = "api.sandbox.keikolatam.example"
DESCRIPTION = "keiko-sandbox-ingress"
VALUES = "k8s/platform/ingress/sandbox/values.yaml"
INGRESS = "k8s/platform/ingress/sandbox/gateway-ingress.yaml"
APPS = "argocd/sandbox/platform-ingress.yaml"

PLAY = """
- name: The ingress of the test
  hosts: all
  gather_facts: false
  connection: local
  module_defaults:
    group/keikolatam.gitops.ovh_wait: {wait_timeout: 60, wait_sleep: 0.1}
  tasks:
    - name: Ingress
      ansible.builtin.include_role:
        name: keikolatam.gitops.ingress
      vars:
        ingress_environment: "{{ env_name }}"
        ingress_host: "{{ host }}"
        ingress_region: "{{ region }}"
        ingress_openstack_auth_url: "{{ lookup('ansible.builtin.env', 'KEIKO_OPENSTACK_AUTH_URL') }}"
        ingress_openstack_project_id: "{{ lookup('ansible.builtin.env', 'OVH_CLOUD_PROJECT_SERVICE') }}"
        ingress_openstack_secrets_file: "{{ secrets_dir }}/ingress-openstack.yml"
        ingress_repository_url: "{{ repo_url }}"
        ingress_repository_branch: main
"""


class Env(object):
    def __init__(self, emu, base):
        self.emu = emu
        self.base = base
        self.secrets = base / "secrets"
        self.remote = base / "gitops.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(self.remote)], check=True)
        self.play = base / "ingress.yml"
        self.play.write_text(PLAY)

    def env(self):
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith(("OVH_", "ANSIBLE_", "KEIKO_")))
        env.update(self.emu.env_signature)
        env.update(KEIKO_OPENSTACK_AUTH_URL=self.emu.openstack_auth_url, KEIKO_SECRETS_DIR=str(self.secrets),
                   ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
                   ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
                   PATH=str(BIN) + os.pathsep + os.environ.get("PATH", ""))
        return env

    def run(self, *args, playbook=None, inventory=None, per_host=(), **extra):
        """ansible-playbook; the test's variables as extra vars, but for ``per_host`` (set by the inventory)."""
        variables = dict(env_name=ENV_NAME, host=HOST, region=REGION, secrets_dir=str(self.secrets),
                         repo_url="file://%s" % self.remote, ansible_python_interpreter=sys.executable)
        variables.update(extra)
        variables = dict((k, v) for k, v in variables.items() if k not in per_host)
        cmd = [str(BIN / "ansible-playbook"), "-i", inventory or "localhost,", str(playbook or self.play),
               "-e", json.dumps(variables)] + list(args)
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=str(REPO), env=self.env(), capture_output=True, text=True, timeout=300,
                              check=False)
        return Result(proc, time.monotonic() - started)

    def neutron(self):
        stored = yaml.safe_load((self.secrets / "ingress-openstack.yml").read_text())
        auth = self.emu.openstack_auth(stored["user"]["username"], stored["user"]["password"])
        return openstack.connect(region_name=REGION, auth=auth)

    def git(self, *args):
        return subprocess.run(["git", "--git-dir", str(self.remote)] + list(args), check=True, capture_output=True,
                              text=True).stdout

    def commits(self):
        try:
            return self.git("rev-list", "main").split()
        except subprocess.CalledProcessError:
            return []

    def file(self, path):
        return self.git("show", "main:" + path)


class Result(object):
    def __init__(self, proc, seconds):
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr
        self.seconds = seconds
        self.data = json.loads(proc.stdout[proc.stdout.index("{"):]) if "{" in proc.stdout else {}

    def tasks(self, host=None):
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                for name, result in task.get("hosts", {}).items():
                    if host in (None, name):
                        yield task["task"]["name"], result

    def result(self, part):
        found = [r for n, r in self.tasks() if part in n]
        assert found, "no task like %r:\n%s" % (part, self.output[-4000:])
        return found[-1]

    def failures(self):
        return "\n".join("%s: %s" % (n, r.get("msg", "")) for n, r in self.tasks() if r.get("failed")) \
            or self.output[-4000:]

    def changed(self):
        return [n for n, r in self.tasks() if r.get("changed")]


def application_errors(document):
    """What the upstream Application CRD's schema (argoproj.io/v1alpha1) refuses in ``document``."""
    crd = yaml.safe_load((mirror_dir() / "crds" / "argocd-application.yaml").read_text())
    version = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"][0]
    validator = jsonschema.Draft7Validator(version["schema"]["openAPIV3Schema"])
    return sorted(error.message for error in validator.iter_errors(document))


@pytest.fixture
def env(tmp_path):
    base = tmp_path
    with EmulatorProcess(state_dir=base / "emulator", transition_seconds=0.3) as emu:
        yield Env(emu, base)


def test_bad_input_fails_before_anything_is_changed(env):
    inventory = env.base / "bad.yml"
    good = {"host": HOST, "region": REGION}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {
        "bad_host": dict(good, host="not a host"), "ip_host": dict(good, host="203.0.113.7"),
        "bad_region": dict(good, region="GRA"), "bad_secret": dict(good, ingress_tls_secret="Not_A_Name")}}}))
    run = env.run(inventory=str(inventory), per_host=("host", "region"))
    assert run.rc != 0
    messages = {}
    for play in run.data["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if result.get("failed"):
                    messages[host] = result.get("msg", json.dumps(result)[:2000])
    assert sorted(messages) == ["bad_host", "bad_region", "bad_secret", "ip_host"]
    assert "the host not a host is not a DNS name" in messages["bad_host"]
    assert "the host 203.0.113.7 is not a DNS name" in messages["ip_host"]
    assert "the region GRA is not an OVHcloud Public Cloud region" in messages["bad_region"]
    assert "Nothing was changed" in messages["bad_region"]
    assert env.emu.requests() == [] and env.commits() == []


def _check_mode_reserves_and_commits_nothing(env):
    run = env.run("--check", "--diff")
    assert run.rc == 0, run.failures()
    assert env.commits() == []
    assert [e for e in env.emu.requests() if e["method"] != "GET"] == []
    assert env.emu.state()["projects"][env.emu.service_name].get("cloud_users") == {}


def _first_run_reserves_the_floating_ip_and_renders_it(env):
    run = env.run()
    assert run.rc == 0, run.failures()
    fip = run.result("The floating IP")
    assert fip["changed"] and fip["resource"]["description"] == DESCRIPTION
    ips = list(env.neutron().network.ips(description=DESCRIPTION))
    assert [ip.id for ip in ips] == [fip["resource"]["id"]]
    address = ips[0].floating_ip_address
    assert len(env.commits()) == 1
    subject = env.git("log", "-1", "--format=%s%n%b%n%(trailers)", "main")
    assert subject.startswith("ingress sandbox: add ") and "Keiko-Environment: sandbox" in subject
    values = yaml.safe_load(env.file(VALUES))
    service = values["controller"]["service"]
    assert service["type"] == "LoadBalancer" and service["loadBalancerIP"] == address
    assert service["annotations"]["loadbalancer.openstack.org/keep-floatingip"] == "true"
    assert service["annotations"]["loadbalancer.ovhcloud.com/class"] == "octavia"
    ingress = yaml.safe_load(env.file(INGRESS))
    assert ingress["spec"]["tls"] == [{"hosts": [HOST], "secretName": "keiko-gateway-tls"}]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert ingress["metadata"]["namespace"] == "keiko" and backend == {"name": "gateway", "port": {"number": 8080}}
    chart, gateway = list(yaml.safe_load_all(env.file(APPS)))
    assert chart["spec"]["project"] == "platform" and chart["spec"]["destination"]["namespace"] == "ingress-nginx"
    source = chart["spec"]["sources"][0]
    assert (source["chart"], source["targetRevision"]) == ("ingress-nginx", "4.14.1")
    assert "CreateNamespace=true" in chart["spec"]["syncPolicy"]["syncOptions"]
    assert gateway["spec"]["source"]["path"] == "k8s/platform/ingress/sandbox"
    assert application_errors(chart) == [] and application_errors(gateway) == []
    assert application_errors(dict(chart, spec=dict(chart["spec"], sources=[{"chart": "x"}]))) != []
    # no secret in git or in the output; the user's password is kept 0600
    password = yaml.safe_load((env.secrets / "ingress-openstack.yml").read_text())["user"]["password"]
    assert oct((env.secrets / "ingress-openstack.yml").stat().st_mode & 0o777) == "0o600"
    tree = env.git("log", "-p", "--all")
    assert password not in tree and "PRIVATE KEY" not in tree and "tls.key" not in tree
    assert password not in run.output


def _second_run_reuses_it_and_changes_nothing(env):
    before = list(env.neutron().network.ips(description=DESCRIPTION))
    run = env.run("--diff", "-vvv")
    assert run.rc == 0, run.failures()
    assert run.changed() == []
    assert run.result("The floating IP")["resource"]["id"] == before[0].id
    assert len(env.commits()) == 1
    assert [(ip.id, ip.floating_ip_address) for ip in env.neutron().network.ips()] == \
        [(before[0].id, before[0].floating_ip_address)]
    # the password logs in to Keystone on every run: never in the -vvv output
    password = yaml.safe_load((env.secrets / "ingress-openstack.yml").read_text())["user"]["password"]
    assert password not in run.output


def _rerender_after_the_service_was_removed_keeps_the_address(env):
    address = list(env.neutron().network.ips(description=DESCRIPTION))[0].floating_ip_address
    work = env.base / "work"
    subprocess.run(["git", "clone", "-q", str(env.remote), str(work)], check=True)
    subprocess.run(["git", "-C", str(work), "rm", "-q", "-r", "k8s/platform/ingress", APPS], check=True)
    subprocess.run(["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-q",
                    "-m", "remove the ingress (the Service goes with it)"], check=True)
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "main"], check=True)
    # the kept password is lost too (another machine): the role gets a new one, and logs in with it
    kept = env.secrets / "ingress-openstack.yml"
    old_password = yaml.safe_load(kept.read_text())["user"]["password"]
    kept.unlink()
    run = env.run()
    assert run.rc == 0, run.failures()
    assert run.result("A new password for the user")["changed"]
    assert yaml.safe_load(kept.read_text())["user"]["password"] not in ("", old_password)
    assert not run.result("The floating IP")["changed"]
    assert yaml.safe_load(env.file(VALUES))["controller"]["service"]["loadBalancerIP"] == address
    assert len(env.commits()) == 3


def _destroy_keeps_the_floating_ip_unless_asked(env):
    ingress = json.dumps({"keiko_ingress": {"enabled": True, "host": HOST,
                                            "openstack": {"auth_url": env.emu.openstack_auth_url}}})
    # From the ingress's task on: the roles before it delete the other resources (tests/integration/provision).
    start = ["--start-at-task", "Release the floating IP of the ingress (asked with release_floating_ip=true)"]
    kept = env.run("-e", ingress, *start, playbook=REPO / "playbooks" / "destroy.yml", inventory="inventories/sandbox")
    assert kept.rc == 0, kept.failures()
    assert kept.result("Release the floating IP")["skipped"]
    assert len(list(env.neutron().network.ips(description=DESCRIPTION))) == 1
    assert "floating IP keiko-sandbox-ingress" in kept.result("What is left")["msg"]
    neutron = env.neutron()
    neutron.authorize()  # logged in before the release deletes the user
    released = env.run("-e", ingress, "-e", "release_floating_ip=true", *start,
                       playbook=REPO / "playbooks" / "destroy.yml", inventory="inventories/sandbox")
    assert released.rc == 0, released.failures()
    assert released.result("The floating IP")["changed"]
    assert list(neutron.network.ips(description=DESCRIPTION)) == []
    state = env.emu.state()["projects"][env.emu.service_name]
    assert state.get("floating_ips") == {}
    assert not (env.secrets / "ingress-openstack.yml").exists()


def test_floating_ip_is_created_once_reused_and_kept_until_released(env):
    _check_mode_reserves_and_commits_nothing(env)
    _first_run_reserves_the_floating_ip_and_renders_it(env)
    _second_run_reuses_it_and_changes_nothing(env)
    _rerender_after_the_service_was_removed_keeps_the_address(env)
    _destroy_keeps_the_floating_ip_unless_asked(env)
