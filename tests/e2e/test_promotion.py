"""Deploy, promotion between environments and rollback on a whole sandbox with three environments (dev, staging,
production: three OVH clusters of the emulator, each its own local control plane and its own real Argo CD), the
GitOps remote on loopback, and a loopback HTTP server per environment standing for its services in the smoke checks
(KEIKO_SMOKE_URL_<ENV>, which inventories/sandbox-envs turns into one check per service).

The tests of this module run in order on one sandbox (tests/conftest.py keeps the module on one worker): each one
starts from the state the previous one left, as a user's week of releases would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from sandboxctl import read_env

import awx_job

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
INVENTORY = "inventories/sandbox-envs"
ENVS = ("dev", "staging", "production")


def wait_for(what: str, predicate, timeout: float = 180.0, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


class SmokeServer:
    """The stand-in of an environment's services for the smoke checks: GET /<service>/healthz answers the status set
    for that service (200 by default) with the body ``ok <service>``."""

    def __init__(self, env: str):
        self.env = env
        self.status: dict[str, int] = {}
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the http.server API)
                service = self.path.strip("/").split("/")[0]
                server.hits.append(service)
                code = server.status.get(service, 200)
                body = f"ok {service}".encode() if code == 200 else b"failing"
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Envs:
    """The sandbox with the three environments of inventories/sandbox-envs."""

    def __init__(self, root: Path):
        self.root = root
        self.dir = root / "sandbox"
        self.env: dict[str, str] = {}
        self.facts: dict[str, dict] = {}
        self.smoke = {name: SmokeServer(name) for name in ENVS}
        self.awx = None  # the AWX job templates on this sandbox (awx_jobs), once it is up

    # -- processes ---------------------------------------------------------------------------------
    def ctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "keiko-sandbox"), *args, "--dir", str(self.dir)], capture_output=True,
                              text=True, timeout=600, check=False)

    def up(self) -> None:
        proc = self.ctl("up", "--with-kube", "--with-argocd", "--transition-seconds", "0.3")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        self.env = dict(os.environ, **read_env(self.dir / "env"), KEIKO_SECRETS_DIR=str(self.root / "secrets"),
                        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), NO_COLOR="1",
                        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        self.env.setdefault("KEIKO_UPSTREAM_MIRROR", str(ROOT.parent / "shared" / "upstream"))
        # The smoke checks of each environment (inventories/sandbox-envs): GET <its stand-in>/<service>/healthz.
        self.env.update({f"KEIKO_SMOKE_URL_{name.upper()}": server.url for name, server in self.smoke.items()})

    @staticmethod
    def command(playbook: str, *args: str) -> list[str]:
        return [str(BIN / "ansible-playbook"), "-i", INVENTORY, playbook, *args]

    def playbook(self, playbook: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(playbook, *args), cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)

    def start(self, playbook: str, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.command(playbook, *args), cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)

    # -- what the inventory says, resolved ------------------------------------------------------------
    def read_facts(self) -> None:
        expr = ("{{ {'environment': keiko_environment, 'namespace': keiko_namespace | default('keiko'), "
                "'kubeconfig': (keiko_secrets_dir | expanduser) ~ '/kubeconfig', "
                "'argocd_url': keiko_argocd.api_url, 'argocd_username': keiko_argocd.username | default('admin'), "
                "'argocd_password': keiko_argocd.password | default(''), "
                "'promotion': keiko_promotion | default({}), 'services': keiko_services} | to_json }}")
        env = dict(self.env, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
        proc = subprocess.run([str(BIN / "ansible"), "-i", INVENTORY, ",".join(ENVS), "-m", "ansible.builtin.debug",
                               "-a", "msg=" + expr], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                              check=False)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        hosts = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]
        self.facts = {name: json.loads(hosts[name]["msg"]) if isinstance(hosts[name]["msg"], str) else hosts[name]["msg"]
                      for name in ENVS}

    def service_names(self, name: str) -> list[str]:
        return [s["name"] if isinstance(s, dict) else s for s in self.facts[name]["services"]]

    # -- the clusters --------------------------------------------------------------------------------
    def kubectl(self, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([KUBECTL, f"--kubeconfig={self.facts[name]['kubeconfig']}", *args], capture_output=True,
                              text=True, timeout=60, check=check)

    def get(self, name: str, *args: str) -> dict | None:
        proc = self.kubectl(name, "get", *args, "-o", "json", check=False)
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def images(self, name: str) -> dict[str, str]:
        """What the environment's Deployments run (their pod templates' first container)."""
        items = self.get(name, "-n", self.facts[name]["namespace"], "deployments")["items"]
        return {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"] for d in items}

    def lease(self, name: str) -> dict | None:
        return self.get(name, "-n", self.facts[name]["namespace"], "lease", f"keiko-release-{name}")

    # -- Argo CD's API -------------------------------------------------------------------------------
    def app(self, name: str, service: str) -> dict:
        """The Application of ``service`` in environment ``name``, as Argo CD's API reports it."""
        facts = self.facts[name]
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        def call(path, body=None, token=None):
            req = urllib.request.Request(facts["argocd_url"] + path, method="POST" if body else "GET",
                                         data=json.dumps(body).encode() if body else None,
                                         headers={"Content-Type": "application/json",
                                                  **({"Authorization": f"Bearer {token}"} if token else {})})
            with opener.open(req, timeout=30) as resp:
                return json.loads(resp.read() or b"{}")

        token = call("/api/v1/session", {"username": facts["argocd_username"], "password": facts["argocd_password"]})
        return call(f"/api/v1/applications/keiko-{name}-svc-{service}", token=token["token"])

    def synced_healthy_at(self, name: str, revision: str, service: str = "identity") -> bool:
        status = self.app(name, service)["status"]
        return (status["sync"]["status"], status["health"]["status"], status["sync"].get("revision")) == (
            "Synced", "Healthy", revision)

    # -- the GitOps remote ---------------------------------------------------------------------------
    def git(self, *args: str, cwd: Path | None = None) -> str:
        askpass = self.root / "askpass"
        if not askpass.exists():
            askpass.write_text('#!/bin/sh\ncase "$1" in Username*) echo "$KEIKO_GITOPS_USERNAME";; '
                               '*) echo "$KEIKO_GITOPS_PASSWORD";; esac\n')
            askpass.chmod(0o700)
        env = dict(self.env, GIT_ASKPASS=str(askpass), GIT_TERMINAL_PROMPT="0")
        return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
                              check=True).stdout

    def work(self) -> Path:
        work = self.root / "work"
        if not work.exists():
            self.git("clone", "-q", self.env["KEIKO_GITOPS_URL"], str(work))
            self.git("config", "user.email", "e2e@keikolatam.invalid", cwd=work)
            self.git("config", "user.name", "e2e", cwd=work)
        self.git("pull", "-q", "--rebase", cwd=work)
        return work

    def head(self) -> str:
        return self.git("ls-remote", self.env["KEIKO_GITOPS_URL"], "refs/heads/main").split()[0]

    def commits_since(self, since: str) -> list[dict]:
        """The commits of the remote after ``since``, oldest first: sha, parents, subject, body."""
        work = self.work()
        out = self.git("log", "--reverse", "--format=%H%x1f%P%x1f%s%x1f%b%x1e", f"{since}..origin/main", cwd=work)
        commits = []
        for record in out.split("\x1e"):
            if record.strip():
                sha, parents, subject, body = record.strip("\n").split("\x1f")
                commits.append({"sha": sha, "parents": parents.split(), "subject": subject, "body": body})
        return commits

    # -- the OVH API emulator's request log ---------------------------------------------------------
    def ovh_requests(self, since: int = 0) -> list[dict]:
        """The API requests the emulator served after the one numbered ``since``: seq, method, path."""
        url = re.sub(r"/1\.0/?$", "", self.env["OVH_ENDPOINT"].rstrip("/"))
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{url}/_emulator/requests?since={since}&kind=api", timeout=30) as resp:
            return json.loads(resp.read())

    def overlay(self, name: str, path: str = "kustomization.yaml") -> dict:
        work = self.work()
        file = work / "k8s" / "overlays" / name / path
        return yaml.safe_load(file.read_text()) if file.exists() else {}


def trailers(commit: dict) -> dict[str, str]:
    return dict(m.groups() for m in re.finditer(r"^([A-Za-z-]+): (.*)$", commit["body"], re.M))


def output(run) -> str:
    return (run.stdout or "") + (run.stderr or "")


def push_to_synced(run) -> str:
    match = re.search(r"push to Synced and Healthy took ([0-9.]+) s", output(run))
    return match.group(1) if match else "?"


def with_tag(image: str, tag: str) -> str:
    return re.sub(r"(@sha256:[0-9a-f]+|:[^:/]+)$", "", image) + ":" + tag


@pytest.fixture(scope="module")
def envs(tmp_path_factory):
    """The sandbox, provisioned and bootstrapped by the job templates "Keiko provision" then "Keiko bootstrap" on the
    inventory of the three environments, as AWX runs them (site.yml is those two playbooks in one run)."""
    sb = Envs(tmp_path_factory.mktemp("promotion"))
    try:
        sb.up()
        sb.awx = awx_jobs(sb)
        for template in ("Keiko provision", "Keiko bootstrap"):
            started = time.monotonic()
            job = sb.awx.launch(template, {}, timeout=1800)
            assert job.rc == 0 and job.status == "successful", job.stdout[-8000:]
            assert set(job.stats["ok"]) == set(ENVS) and job.stats["failures"] == {}, job.stats
            print(f"\n{template} for dev, staging and production: {time.monotonic() - started:.0f} s", file=sys.stderr)
        sb.read_facts()
        for name in ENVS:
            wait_for(f"the services of {name} deployed", lambda n=name: sb.images(n), timeout=300)
        yield sb
    finally:
        for server in sb.smoke.values():
            server.stop()
        proc = sb.ctl("down")
        assert proc.returncode == 0, proc.stderr


def test_invalid_input_fails_before_any_commit_or_lock(envs):
    head = envs.head()
    image = with_tag(envs.images("dev")["identity"], "9.9.9")
    cases = [
        (("playbooks/promote.yml", "-e", "from=dev", "-e", "to=production", "-e", "approved=true"),
         "production is promoted from staging, not from dev: refusing to skip an environment"),
        (("playbooks/promote.yml", "-e", "from=staging", "-e", "to=qa"), "the inventory's environments are"),
        (("playbooks/promote.yml", "-e", "from=dev", "-e", "to=staging", "-e", "services=identity,billing"),
         "Unknown service(s) billing"),
        (("playbooks/promote.yml", "-e", "from=staging", "-e", "to=production"),
         "requires an approval"),
        (("playbooks/deploy.yml", "-e", json.dumps({"env": "dev", "service": "identity", "image": "Not An Image!"})),
         '"Not An Image!" is not an image reference'),
        (("playbooks/deploy.yml", "-e", "env=dev", "-e", "service=billing", "-e", f"image={image}"),
         'Unknown service "billing" in dev'),
        (("playbooks/deploy.yml", "-e", "env=qa", "-e", "service=identity", "-e", f"image={image}"),
         "the inventory's environments are"),
        (("playbooks/rollback.yml", "-e", "env=staging", "-e", "to_commit=not-a-sha"), "is not a commit sha"),
    ]
    procs = [(envs.start(*args), message) for args, message in cases]  # at once: they only read
    for proc, message in procs:
        out = proc.communicate(timeout=300)[0]
        assert proc.returncode != 0 and message in " ".join(out.split()), out[-3000:]
    assert envs.head() == head
    assert [name for name in ENVS if envs.lease(name)] == []


def test_deploy_then_promotions_dev_staging_production_make_one_commit_each(envs):
    identity = envs.images("dev")["identity"]
    new = with_tag(identity, "0.2.0")
    steps = [
        ("dev", ("playbooks/deploy.yml", "-e", "env=dev", "-e", "service=identity", "-e", f"image={new}"), "deploy"),
        ("staging", ("playbooks/promote.yml", "-e", "from=dev", "-e", "to=staging"), "promote"),
        ("production", ("playbooks/promote.yml", "-e", "from=staging", "-e", "to=production", "-e", "approved=true"),
         "promote"),
    ]
    for name, args, action in steps:
        before = envs.head()
        run = envs.playbook(*args)
        assert run.returncode == 0, output(run)[-6000:]
        commits = envs.commits_since(before)
        assert len(commits) == 1, commits
        commit = commits[0]
        assert commit["subject"].startswith(f"{action} {name}: identity "), commit
        assert "0.2.0" in commit["subject"] and " -> " in commit["subject"]
        tags = trailers(commit)
        assert tags.get("Keiko-Action") == action and tags.get("Keiko-Environment") == name, tags
        if action == "promote":
            source = "dev" if name == "staging" else "staging"
            assert tags.get("Keiko-Source-Environment") == source
            assert re.match(r"^[0-9a-f]{40}$", tags.get("Keiko-Source-Revision", "")), tags
        assert envs.synced_healthy_at(name, commit["sha"])
        assert envs.images(name)["identity"] == new
        print(f"\n{action} {name}: push to Synced and Healthy {push_to_synced(run)} s", file=sys.stderr)
    # Every environment runs what was promoted into it; the lock is gone.
    assert envs.images("staging") == envs.images("dev") == envs.images("production")
    assert [name for name in ENVS if envs.lease(name)] == []

    # The same versions again: no commit.
    before = envs.head()
    again = envs.playbook("playbooks/promote.yml", "-e", "from=staging", "-e", "to=production", "-e", "approved=true")
    assert again.returncode == 0, output(again)[-4000:]
    assert envs.head() == before
    assert "no change" in output(again)


def expect_reverted(envs, run, name: str, before: str, service: str, old_image: str, reason: str) -> None:
    """The promotion failed with a report naming the service and the reason, a revert commit follows the promotion's,
    and the target is Synced and Healthy on the revert, running the old image again."""
    assert run.returncode != 0, output(run)[-4000:]
    text = " ".join(output(run).split())
    assert "FAILED" in text and service in text and reason in text, text[-4000:]
    commits = envs.commits_since(before)
    assert len(commits) == 2, commits
    promote, revert = commits
    assert promote["subject"].startswith(f"promote {name}: {service} ")
    assert trailers(revert).get("Keiko-Reverts") == promote["sha"], revert
    assert revert["parents"] == [promote["sha"]]
    assert f"Rolled back automatically: revert commit {revert['sha']}" in text
    assert envs.synced_healthy_at(name, revert["sha"], service)
    assert envs.images(name)[service] == old_image


def test_a_promotion_that_never_becomes_ready_is_reverted(envs):
    # dev runs learning at 0.3.0-broken with no replica (Healthy there: nothing to be ready); staging, with its replica,
    # never becomes ready: Argo CD reports it Degraded once its progress deadline passed.
    old = envs.images("staging")["learning"]
    broken = with_tag(envs.images("dev")["learning"], "0.3.0-broken")
    work = envs.work()
    path = work / "k8s" / "overlays" / "dev" / "learning" / "kustomization.yaml"
    overlay = yaml.safe_load(path.read_text())
    overlay["replicas"] = [dict(r, count=0) if r["name"] == "learning" else r for r in overlay.get("replicas", [])]
    if not any(r["name"] == "learning" for r in overlay["replicas"]):
        overlay["replicas"].append({"name": "learning", "count": 0})
    path.write_text(yaml.safe_dump(overlay, sort_keys=False))
    envs.git("commit", "-q", "-am", "e2e: learning without replicas in dev", cwd=work)
    envs.git("push", "-q", "origin", "HEAD:main", cwd=work)
    scaled = envs.head()
    deploy = envs.playbook("playbooks/deploy.yml", "-e", "env=dev", "-e", "service=learning", "-e", f"image={broken}")
    assert deploy.returncode == 0, output(deploy)[-4000:]

    before = envs.head()
    run = envs.playbook("playbooks/promote.yml", "-e", "from=dev", "-e", "to=staging", "-e", "services=learning")
    expect_reverted(envs, run, "staging", before, "learning", old, "Degraded")

    # dev back as it was (the e2e's own commits reverted; the deploy commit with them).
    work = envs.work()
    envs.git("revert", "--no-edit", f"{scaled}^..{before}", cwd=work)
    envs.git("push", "-q", "origin", "HEAD:main", cwd=work)


def test_a_promotion_whose_smoke_check_fails_is_reverted(envs):
    old = envs.images("staging")["identity"]
    new = with_tag(old, "0.2.1")
    deploy = envs.playbook("playbooks/deploy.yml", "-e", "env=dev", "-e", "service=identity", "-e", f"image={new}")
    assert deploy.returncode == 0, output(deploy)[-4000:]
    envs.smoke["staging"].status["identity"] = 500
    try:
        before = envs.head()
        # service=<one name>: how the AWX release workflow promotes the service it deployed.
        run = envs.playbook("playbooks/promote.yml", "-e", "from=dev", "-e", "to=staging", "-e", "service=identity")
        expect_reverted(envs, run, "staging", before, "identity", old, "smoke check identity")
        assert "answered HTTP 500, expected 200" in " ".join(output(run).split())
    finally:
        envs.smoke["staging"].status.pop("identity")


def test_rollback_restores_stays_with_self_heal_and_pins_until_cleared(envs):
    good = envs.images("staging")["identity"]  # 0.2.0
    before = envs.head()
    run = envs.playbook("playbooks/promote.yml", "-e", "from=dev", "-e", "to=staging", "-e", "services=identity")
    assert run.returncode == 0, output(run)[-4000:]
    bad = envs.images("staging")["identity"]  # 0.2.1
    assert bad != good

    rollback = envs.playbook("playbooks/rollback.yml", "-e", "env=staging")
    assert rollback.returncode == 0, output(rollback)[-6000:]
    commits = envs.commits_since(before)
    assert [trailers(c).get("Keiko-Action") for c in commits] == ["promote", "rollback"], commits
    assert envs.synced_healthy_at("staging", commits[-1]["sha"])
    assert envs.images("staging")["identity"] == good
    pins = envs.overlay("staging", "pins.yaml").get("pins", {})
    assert pins.get("identity", {}).get("image") == good, pins

    # Twice: no change.
    head = envs.head()
    again = envs.playbook("playbooks/rollback.yml", "-e", "env=staging")
    assert again.returncode == 0, output(again)[-4000:]
    assert envs.head() == head

    # It stays: a manual edit is undone by self-heal back to the rolled-back version, not to the bad one.
    ns = envs.facts["staging"]["namespace"]
    envs.kubectl("staging", "-n", ns, "set", "image", "deployment/identity", f"identity={bad}")
    wait_for("self-heal back to the rolled-back image", lambda: envs.images("staging")["identity"] == good, timeout=180)
    wait_for("staging Synced and Healthy again", lambda: envs.synced_healthy_at("staging", head), timeout=180)

    # The pinned service is refused another version, by a promotion and by a deploy, until the pin is cleared.
    refused = [envs.playbook("playbooks/promote.yml", "-e", "from=dev", "-e", "to=staging", "-e", "services=identity"),
               envs.playbook("playbooks/deploy.yml", "-e", "env=staging", "-e", "service=identity", "-e", f"image={bad}")]
    for proc in refused:
        assert proc.returncode != 0 and "pin" in output(proc), output(proc)[-4000:]
    assert envs.head() == head and envs.images("staging")["identity"] == good

    cleared = envs.playbook("playbooks/rollback.yml", "-e", "env=staging", "-e", "clear_pin=identity")
    assert cleared.returncode == 0, output(cleared)[-4000:]
    assert "identity" not in envs.overlay("staging", "pins.yaml").get("pins", {})
    assert len(envs.commits_since(head)) == 1


def test_two_promotions_to_one_target_at_once_take_turns_and_lose_no_commit(envs):
    # staging now differs from production in identity (0.2.1 in dev, promoted below) and learning (a new deploy).
    learning = with_tag(envs.images("dev")["learning"], "0.1.1")
    for args in (("playbooks/deploy.yml", "-e", "env=dev", "-e", "service=learning", "-e", f"image={learning}"),
                 ("playbooks/promote.yml", "-e", "from=dev", "-e", "to=staging")):
        run = envs.playbook(*args)
        assert run.returncode == 0, output(run)[-4000:]
    wanted = envs.images("staging")
    before = envs.head()
    procs = [envs.start("playbooks/promote.yml", "-e", "from=staging", "-e", "to=production", "-e", "approved=true",
                        "-e", f"services={service}") for service in ("identity", "learning")]
    outs = [proc.communicate(timeout=900)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], "\n".join(o[-3000:] for o in outs)
    commits = envs.commits_since(before)
    assert sorted(c["subject"].split(":")[1].split()[0] for c in commits) == ["identity", "learning"], commits
    # Linear: each commit's only parent is the one before it.
    assert commits[0]["parents"] == [before] and commits[1]["parents"] == [commits[0]["sha"]]
    live = envs.images("production")
    assert (live["identity"], live["learning"]) == (wanted["identity"], wanted["learning"])
    assert envs.lease("production") is None


def test_a_lock_left_by_a_killed_run_expires(envs):
    killed = envs.start("playbooks/promote.yml", "-e", "from=staging", "-e", "to=production", "-e", "approved=true",
                        "-e", "release_lock_duration=5")
    try:
        wait_for("the killed run's lock", lambda: envs.lease("production"), timeout=120, interval=0.2)
    finally:
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait(timeout=60)
    left = envs.lease("production")
    assert left and left["spec"]["holderIdentity"].startswith("promote production by ")
    head = envs.head()
    run = envs.playbook("playbooks/promote.yml", "-v", "-e", "from=staging", "-e", "to=production", "-e",
                        "approved=true")
    assert run.returncode == 0, output(run)[-4000:]
    assert "outcome: taken_over" in output(run) and left["spec"]["holderIdentity"] in output(run)
    assert envs.lease("production") is None and envs.head() == head  # nothing else to promote


def test_history_lists_the_deploys_promotions_rollbacks_and_reverts(envs):
    run = envs.playbook("playbooks/history.yml", "-e", "env=staging")
    assert run.returncode == 0, output(run)[-4000:]
    text = output(run)
    for word in ("promote", "rollback", "reverted by"):
        assert word in text, text[-4000:]


# -- the AWX job templates and release workflow, their jobs run as AWX runs them (tests/e2e/awx_job.py) -----------------
@pytest.fixture(scope="module")
def awx(envs):
    return envs.awx


def awx_jobs(envs: Envs):
    """The job templates, credential types and workflow of roles/awx as AWX gets them (tests/unit renders them), with
    credentials for the sandbox's OVH API, GitOps remote and Argo CDs."""
    data = awx_job.definitions()
    sandbox = envs.env
    types = {t["name"]: t for t in data["awx_credential_types"]}
    credentials = {
        **awx_job.ovh_credentials(sandbox),
        **awx_job.injected_env(types["Keiko GitOps repository"], {
            "username": sandbox["KEIKO_GITOPS_USERNAME"], "password": sandbox["KEIKO_GITOPS_PASSWORD"],
            "url": sandbox["KEIKO_GITOPS_URL"]}),
        # The sandbox's inventory reads each Argo CD's password from its files: a credential without inputs.
        **awx_job.injected_env(types["Keiko Argo CD API"], {}),
    }
    # What the execution environment would have besides: where the sandbox keeps its clusters and secrets.
    base = {k: v for k, v in sandbox.items()
            if k in ("KEIKO_SANDBOX_CLUSTERS_DIR", "KEIKO_SECRETS_DIR", "KEIKO_UPSTREAM_MIRROR", "NO_COLOR")
            or k.startswith("KEIKO_SMOKE_URL_")}
    templates = {t["name"]: t for t in data["awx_job_templates"]}
    workflow = data["awx_release_workflow"]
    nodes = {n["identifier"]: n for n in workflow["nodes"]}
    runs = iter(range(1000))

    class Awx:
        base_env = base

        @staticmethod
        def job(playbook: str, extra_vars: dict, limit: str = "", timeout: float = 900) -> awx_job.Job:
            return awx_job.run(envs.root / "awx" / f"job-{next(runs)}", playbook, INVENTORY, extra_vars, credentials,
                               base, limit=limit, timeout=timeout)

        @staticmethod
        def launch(template: str, answers: dict, extra: dict | None = None, limit: str = "",
                   timeout: float = 900) -> awx_job.Job:
            """A launch of a job template: the survey checks the answers, then the job runs with ``extra`` (what a
            workflow adds: the artifacts of the jobs before and its own survey's answers) over them. ``limit``
            stands for the inventory chosen on launch (inventories/<env>): the sandbox's one host of it."""
            jt = templates[template]
            return Awx.job(jt["playbook"], {**awx_job.survey_answers(jt["survey"], answers), **(extra or {})}, limit,
                           timeout)

        @staticmethod
        def node(identifier: str, artifacts: dict, answers: dict) -> awx_job.Job:
            """A node of the release workflow: its extra_data, under the artifacts before it, under the workflow's
            answers (which also answer the questions of the node's survey that its extra_data leaves open)."""
            node = nodes[identifier]
            workflow_vars = awx_job.survey_answers(workflow["survey"], answers)
            return Awx.launch(node["job_template"], {**node.get("extra_data", {}), **workflow_vars},
                              {**artifacts, **workflow_vars})

    return Awx


def test_provision_as_an_awx_job_reads_the_ovh_credential_from_its_injector_and_changes_nothing(envs, awx):
    # The job's environment has no OVH variable but those the "OVHcloud API" credential injects.
    assert not [k for k in awx.base_env if k.startswith("OVH_")]
    since = max((e["seq"] for e in envs.ovh_requests()), default=0)
    job = awx.launch("Keiko provision", {}, limit="dev")
    assert job.rc == 0 and job.status == "successful", job.stdout[-4000:]
    # AWX's host summary of the job: dev provisioned already (site.yml), so nothing changed and nothing failed.
    assert set(job.stats["ok"]) == {"dev"} and job.stats["ok"]["dev"] > 0, job.stats
    assert job.stats["changed"] == {} and job.stats["failures"] == {} and job.stats["dark"] == {}, job.stats
    served = envs.ovh_requests(since)
    assert served and {e["method"] for e in served} == {"GET"}, served[:20]


def test_a_survey_answer_outside_its_choices_is_refused_before_anything_runs(envs, awx):
    head = envs.head()
    image = with_tag(envs.images("dev")["identity"], "0.4.0")
    for answers, refused in (({"env": "qa", "service": "identity", "image": image}, "'qa' is not a valid choice"),
                             ({"env": "dev", "service": "billing", "image": image}, "'billing' is not a valid choice"),
                             ({"env": "dev", "service": "identity"}, "is required")):
        with pytest.raises(awx_job.SurveyRefused, match=refused):
            awx.launch("Keiko deploy", answers)
    # Past the survey (an API launch that sets the variables), the playbook refuses it, before any commit or lock.
    job = awx.job("playbooks/deploy.yml", {"env": "qa", "service": "identity", "image": image})
    assert job.rc != 0 and "the inventory's environments are" in " ".join(job.stdout.split()), job.stdout[-3000:]
    assert envs.head() == head and [name for name in ENVS if envs.lease(name)] == []


def test_the_release_workflow_failure_branch_undoes_only_what_the_failed_job_left_live(envs, awx):
    old = envs.images("staging")["identity"]
    answers = {"service": "identity", "image": with_tag(old, "0.4.0")}
    before = envs.head()
    deploy = awx.node("deploy-dev", {}, answers)
    assert deploy.rc == 0 and deploy.artifacts == {}, deploy.stdout[-4000:]
    assert envs.images("dev")["identity"] == answers["image"]

    envs.smoke["staging"].status["identity"] = 500
    try:
        # 1. The promotion fails its smoke check and reverts its own commit: the failure branch's rollback undoes
        #    nothing more (a plain rollback would take back the staging release before it, a good one), and fails.
        promoted = envs.head()
        promote = awx.node("promote-staging", deploy.artifacts, answers)
        assert promote.rc != 0, promote.stdout[-4000:]
        failed = promote.artifacts["keiko_failed_release"]
        commit, revert = envs.commits_since(promoted)
        assert failed == {"environment": "staging", "operation": "promote", "commit": commit["sha"],
                          "revert": revert["sha"], "message": failed["message"]}, failed
        head = envs.head()
        rollback = awx.node("rollback-staging", {**deploy.artifacts, **promote.artifacts}, answers)
        text = " ".join(rollback.stdout.split())
        assert rollback.rc != 0 and f"was reverted by {revert['sha'][:12]} already" in text, text[-4000:]
        assert envs.head() == head and envs.images("staging")["identity"] == old
        assert "identity" not in envs.overlay("staging", "pins.yaml").get("pins", {})

        # 2. The same promotion with its automatic revert off: its commit stays live, and the failure branch rolls
        #    back that commit, and only it (pinned), and still fails.
        promote = awx.launch("Keiko promote", {"from": "dev", "to": "staging"},
                             {**answers, "release_revert_on_failure": False})
        assert promote.rc != 0, promote.stdout[-4000:]
        failed = promote.artifacts["keiko_failed_release"]
        assert failed["commit"] == envs.head() and failed["revert"] == "", failed
        assert envs.images("staging")["identity"] == answers["image"]
        rollback = awx.node("rollback-staging", {**deploy.artifacts, **promote.artifacts}, answers)
        text = " ".join(rollback.stdout.split())
        assert rollback.rc != 0 and f"Its commit {failed['commit'][:12]} is rolled back by commit" in text, text[-4000:]
        (undo,) = envs.commits_since(failed["commit"])
        assert trailers(undo).get("Keiko-Action") == "rollback", undo
        assert envs.synced_healthy_at("staging", undo["sha"]) and envs.images("staging")["identity"] == old
    finally:
        envs.smoke["staging"].status.pop("identity")

    # 3. A failed job that reported nothing (it stopped before its change): nothing is rolled back automatically.
    head = envs.head()
    rollback = awx.node("rollback-staging", {}, answers)
    assert rollback.rc != 0 and "reported no release" in " ".join(rollback.stdout.split()), rollback.stdout[-4000:]
    assert envs.head() == head
    cleared = envs.playbook("playbooks/rollback.yml", "-e", "env=staging", "-e", "clear_pin=identity")
    assert cleared.returncode == 0, output(cleared)[-4000:]
    assert len(envs.commits_since(before)) == 6  # deploy, promote, revert, promote, rollback, pins cleared
