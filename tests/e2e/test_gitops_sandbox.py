"""The user's story on a whole sandbox, with the real parts: ``site.yml`` provisions the OVH project (the emulator),
bootstraps the real Argo CD (processes on loopback against the local control plane) onto the cluster, and the
GitOps remote (git over HTTP on loopback) then drives the cluster: a commit deploys, self-heal reverts a manual
edit, removing from git prunes, and an AppProject refuses a destination outside it.

The tests of this module run in order on one sandbox (tests/conftest.py keeps the module on one worker).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sandboxctl import read_env

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
NS = "keiko"
# The services of the sandbox inventory (inventories/sandbox/host_vars/sandbox/platform.yml).
SERVICES = ["identity", "learning", "reputation", "passport", "governance", "marketplace", "gateway"]


class Sandbox:
    def __init__(self, root: Path):
        self.root = root
        self.dir = root / "sandbox"
        self.secrets = root / "secrets"
        self.env = {}

    def ctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "keiko-sandbox"), *args, "--dir", str(self.dir)], capture_output=True,
                              text=True, timeout=600, check=False)

    def up(self) -> None:
        proc = self.ctl("up", "--with-kube", "--with-argocd", "--transition-seconds", "0.3")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        self.env = dict(os.environ, **read_env(self.dir / "env"), KEIKO_SECRETS_DIR=str(self.secrets),
                        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), NO_COLOR="1",
                        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        self.env.setdefault("KEIKO_UPSTREAM_MIRROR", str(ROOT.parent / "shared" / "upstream"))

    def playbook(self, playbook: str, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "ansible-playbook"), "-i", "inventories/sandbox", playbook, *args], cwd=ROOT,
                              env=self.env, capture_output=True, text=True, timeout=timeout, check=False)

    @property
    def kubeconfig(self) -> str:
        return str(self.secrets / "kubeconfig")

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([KUBECTL, f"--kubeconfig={self.kubeconfig}", *args], capture_output=True, text=True,
                              timeout=60, check=check)

    def get(self, *args: str) -> dict | None:
        proc = self.kubectl("get", *args, "-o", "json", check=False)
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    # -- Argo CD's REST API --------------------------------------------------------------------------
    def admin_password(self) -> str:
        secret = self.get("-n", "argocd", "secret", "argocd-initial-admin-secret")
        return base64.b64decode(secret["data"]["password"]).decode()

    def api(self, path: str, method: str = "GET", body: dict | None = None) -> dict:
        if not getattr(self, "_token", None):
            self._token = self._request("/api/v1/session", "POST",
                                        {"username": "admin", "password": self.admin_password()})["token"]
        return self._request(path, method, body, self._token)

    def _request(self, path, method="GET", body=None, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.env["KEIKO_ARGOCD_URL"] + path, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")

    def app(self, name: str, refresh: bool = False) -> dict:
        return self.api(f"/api/v1/applications/{name}" + ("?refresh=normal" if refresh else ""))

    # -- the GitOps remote ---------------------------------------------------------------------------
    def git(self, *args: str, cwd: Path | None = None) -> str:
        env = dict(self.env, GIT_ASKPASS=str(self.root / "askpass"), GIT_TERMINAL_PROMPT="0")
        return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
                              check=True).stdout

    def clone(self) -> Path:
        askpass = self.root / "askpass"
        askpass.write_text('#!/bin/sh\ncase "$1" in Username*) echo "$KEIKO_GITOPS_USERNAME";; '
                           '*) echo "$KEIKO_GITOPS_PASSWORD";; esac\n')
        askpass.chmod(0o700)
        work = self.root / "work"
        if not work.exists():
            self.git("clone", "-q", self.env["KEIKO_GITOPS_URL"], str(work))
            self.git("config", "user.email", "e2e@keikolatam.invalid", cwd=work)
            self.git("config", "user.name", "e2e", cwd=work)
        self.git("pull", "-q", "--rebase", cwd=work)
        return work

    def commit(self, work: Path, message: str) -> str:
        self.git("add", "-A", cwd=work)
        self.git("commit", "-q", "-m", message, cwd=work)
        self.git("push", "-q", "origin", "HEAD:main", cwd=work)
        return self.git("rev-parse", "HEAD", cwd=work).strip()


def wait_for(what: str, predicate, timeout: float = 180.0, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def recap(out: str) -> dict[str, int]:
    rows = [line for line in out.splitlines() if line.startswith("sandbox ")]  # the host of inventories/sandbox
    assert rows, out[-3000:]
    return {k: int(v) for k, v in (kv.split("=") for kv in rows[-1].split(":", 1)[1].split())}


def managed_versions(sb: Sandbox) -> dict[str, str]:
    """resourceVersion of every object bootstrap manages: Argo CD's namespace, its CRDs and cluster RBAC.

    Argo CD's controller writes the Applications' status all the time (no status subresource): for them, the
    spec and the time of our field manager's last write stand for the resourceVersion.
    """
    out = {}
    kinds = "cm,secret,sa,role,rolebinding,svc,deploy,sts,networkpolicy,appproject"
    for item in sb.get("-n", "argocd", kinds)["items"]:
        out[f"{item['kind']}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
    for item in sb.get("-n", "argocd", "application", "--show-managed-fields")["items"]:
        ours = [m["time"] for m in item["metadata"].get("managedFields", []) if m["manager"].startswith("keikolatam-")]
        out[f"Application/{item['metadata']['name']}"] = json.dumps([item["spec"], ours], sort_keys=True)
    for item in sb.get("crd,clusterrole,clusterrolebinding")["items"]:
        if "argocd" in item["metadata"]["name"] or item["metadata"]["name"].endswith(".argoproj.io"):
            out[f"{item['kind']}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
    ns = sb.get("namespace", NS)
    if ns:
        out[f"Namespace/{NS}"] = ns["metadata"]["resourceVersion"]
    return out


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    sb = Sandbox(tmp_path_factory.mktemp("e2e"))
    sb.up()
    try:
        yield sb
    finally:
        proc = sb.ctl("down")
        assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def site(sandbox):
    """site.yml from nothing: provision, then bootstrap."""
    run = sandbox.playbook("site.yml")
    assert run.returncode == 0, (run.stdout + run.stderr)[-8000:]
    return run


def test_site_ends_with_argocd_running_and_the_root_app_synced_and_healthy(sandbox, site):
    root = sandbox.app("keiko-sandbox")
    assert root["status"]["sync"]["status"] == "Synced"
    assert root["status"]["health"]["status"] == "Healthy"
    assert root["spec"]["source"]["repoURL"] == sandbox.env["KEIKO_GITOPS_URL"]
    # The root app's children (rendered by bootstrap): one Application per service, of the services' project, each at
    # its service's directory of the overlay, Synced and Healthy.
    listed = sandbox.api("/api/v1/applications?selector=keikolatam.io/environment%3Dsandbox,keikolatam.io/service")
    children = {app["metadata"]["labels"]["keikolatam.io/service"]: app for app in listed["items"]}
    assert sorted(children) == sorted(SERVICES)
    for service, child in children.items():
        assert child["metadata"]["name"] == f"keiko-sandbox-svc-{service}"
        assert child["spec"]["project"] == "keiko"
        assert child["spec"]["source"]["path"] == f"k8s/overlays/sandbox/{service}"
        assert (child["status"]["sync"]["status"], child["status"]["health"]["status"]) == ("Synced", "Healthy")
    # The summary tells where the API is and how to log in.
    assert sandbox.env["KEIKO_ARGOCD_URL"] in site.stdout and "argocd-initial-admin-secret" in site.stdout


def secrets(sandbox: Sandbox) -> dict[str, str]:
    return {"the GitOps password": sandbox.env["KEIKO_GITOPS_PASSWORD"], "the admin password": sandbox.admin_password()}


def test_site_again_changes_nothing_and_prints_no_secret_even_with_vvv(sandbox, site):
    before = managed_versions(sandbox)
    log_before = requests_logged(sandbox)
    run = sandbox.playbook("site.yml", "-vvv")
    assert run.returncode == 0, (run.stdout + run.stderr)[-6000:]
    assert [name for name, value in secrets(sandbox).items() if value in run.stdout + run.stderr] == []
    assert recap(run.stdout)["changed"] == 0, run.stdout[-6000:]
    writes = [r for r in requests_logged(sandbox)[len(log_before):] if r["method"] != "GET"]
    assert writes == []
    after = managed_versions(sandbox)
    assert len(before) > 40
    assert {k: (v, after.get(k)) for k, v in before.items() if after.get(k) != v} == {}


def requests_logged(sb: Sandbox) -> list[dict]:
    log = sb.dir / "ovh" / "requests.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
  labels: {app.kubernetes.io/name: echo, app.kubernetes.io/part-of: keiko}
spec:
  replicas: 2
  selector:
    matchLabels: {app.kubernetes.io/name: echo}
  template:
    metadata:
      labels: {app.kubernetes.io/name: echo, app.kubernetes.io/part-of: keiko}
    spec:
      containers:
        - name: echo
          image: registry.example.invalid/keiko/echo:1.0.0
"""


SETTINGS = """apiVersion: v1
kind: ConfigMap
metadata:
  name: echo-settings
data:
  greeting: hello
"""


IDENTITY = "k8s/overlays/sandbox/identity"
IDENTITY_APP = "keiko-sandbox-svc-identity"


def set_resources(work: Path, resources: list[str]) -> None:
    """The identity service's kustomization in the overlay lists its base and ``resources``."""
    path = work / IDENTITY / "kustomization.yaml"
    text = path.read_text()
    listed = re.search(r"^resources:.*\n(?:  - .*\n)*", text, re.M)  # a block list, or the flow list written here
    assert listed, text
    path.write_text(text[:listed.start()] + "resources: " + json.dumps(["../../../base/identity", *resources]) + "\n"
                    + text[listed.end():])


def deployment(sb: Sandbox) -> dict | None:
    return sb.get("-n", NS, "deployment", "echo")


def test_a_commit_is_synced_and_rolls_out_on_kwok_nodes(sandbox, site):
    work = sandbox.clone()
    (work / IDENTITY / "echo.yaml").write_text(DEPLOYMENT)
    (work / IDENTITY / "settings.yaml").write_text(SETTINGS)
    set_resources(work, ["echo.yaml", "settings.yaml"])
    rev = sandbox.commit(work, "Add the echo service")
    sandbox.app(IDENTITY_APP, refresh=True)  # as the playbooks do after a push

    def synced_at_rev():
        app = sandbox.app(IDENTITY_APP)
        status = app["status"]
        done = status["sync"].get("revision") == rev and status["sync"]["status"] == "Synced" \
            and status["health"]["status"] == "Healthy"
        return app if done else None

    def rolled_out():
        dep = deployment(sandbox)
        return dep if dep and dep.get("status", {}).get("availableReplicas") == 2 else None

    app = wait_for("the services app Synced at the new commit", synced_at_rev)
    assert app["status"]["sync"]["revision"] == rev
    dep = wait_for("the rollout", rolled_out)
    pods = sandbox.get("-n", NS, "pods", "-l", "app.kubernetes.io/name=echo")["items"]
    nodes = {n["metadata"]["name"]: n for n in sandbox.get("nodes")["items"]}
    assert len(pods) == 2 and all(p["status"]["phase"] == "Running" for p in pods)
    assert all(nodes[p["spec"]["nodeName"]]["metadata"]["annotations"].get("kwok.x-k8s.io/node") == "fake" for p in pods)
    # Applied by Argo CD for the identity service's Application (annotation tracking, Argo CD 3's default).
    assert dep["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"].startswith(IDENTITY_APP + ":")


def test_a_manual_edit_is_reverted_by_self_heal(sandbox, site):
    assert deployment(sandbox), "the previous test deploys echo"
    sandbox.kubectl("-n", NS, "scale", "deployment", "echo", "--replicas=5")
    wait_for("self-heal back to 2 replicas", lambda: deployment(sandbox)["spec"]["replicas"] == 2, timeout=120)


def test_removing_it_from_git_prunes_it(sandbox, site):
    work = sandbox.clone()
    (work / IDENTITY / "echo.yaml").unlink()
    set_resources(work, ["settings.yaml"])
    sandbox.commit(work, "Remove the echo service")
    sandbox.app(IDENTITY_APP, refresh=True)
    wait_for("the prune", lambda: deployment(sandbox) is None, timeout=180)
    assert sandbox.get("-n", NS, "configmap", "echo-settings")


def test_a_service_added_to_the_inventory_gets_its_application_and_loses_it_with_its_objects_when_removed(
        sandbox, site):
    """bootstrap.yml renders the new service's Application, waits for the root Application to sync it and for the
    service to be Synced and Healthy; removed from the inventory, its Application goes, and its objects with it (the
    resources finalizer)."""
    app = "keiko-sandbox-svc-search"
    added = sandbox.playbook("playbooks/bootstrap.yml", "-e", json.dumps({"keiko_services": SERVICES + ["search"]}))
    assert added.returncode == 0, (added.stdout + added.stderr)[-6000:]
    status = sandbox.app(app)["status"]
    assert (status["sync"]["status"], status["health"]["status"]) == ("Synced", "Healthy")
    assert sandbox.get("-n", NS, "deployment", "search")

    removed = sandbox.playbook("playbooks/bootstrap.yml")
    assert removed.returncode == 0, (removed.stdout + removed.stderr)[-6000:]
    wait_for("the Application and the Deployment of search gone",
             lambda: sandbox.get("-n", "argocd", "application", app) is None
             and sandbox.get("-n", NS, "deployment", "search") is None, timeout=120)
    assert sandbox.get("-n", NS, "deployment", "identity")  # the others stay


def test_an_application_outside_its_project_is_refused(sandbox, site):
    app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
           "metadata": {"name": "e2e-escape", "namespace": "argocd"},
           "spec": {"project": "keiko",
                    "source": {"repoURL": sandbox.env["KEIKO_GITOPS_URL"], "targetRevision": "main",
                               "path": "k8s/overlays/sandbox"},
                    "destination": {"name": "in-cluster", "namespace": "kube-system"},
                    "syncPolicy": {"automated": {"prune": False, "selfHeal": False}}}}
    path = sandbox.root / "escape.json"
    path.write_text(json.dumps(app))
    sandbox.kubectl("apply", "-f", str(path))
    try:
        conditions = wait_for("the refusal", lambda: [
            c for c in (sandbox.get("-n", "argocd", "application", "e2e-escape") or {}).get("status", {}).get(
                "conditions", []) if c["type"] == "InvalidSpecError"], timeout=120)
        assert "kube-system" in conditions[0]["message"] and "do not match any of the allowed destinations" in conditions[0]["message"]
        assert sandbox.get("-n", "kube-system", "deployment", "echo") is None
    finally:
        sandbox.kubectl("-n", "argocd", "delete", "application", "e2e-escape", "--wait=false", check=False)


def test_no_secret_in_git(sandbox, site):
    found = secrets(sandbox)
    work = sandbox.clone()
    history = sandbox.git("log", "-p", "--all", cwd=work)
    assert [name for name, value in found.items() if value in history] == []
    tracked = subprocess.run(["git", "grep", "-l", "-F", "-e", found["the GitOps password"], "-e",
                              found["the admin password"]], cwd=ROOT, capture_output=True, text=True, check=False)
    assert tracked.stdout == ""


@pytest.mark.parametrize("extra, message", [
    ({"keiko_argocd": {"version": "v9.9.9"}}, "Unknown Argo CD version"),
    ({"keiko_gitops": {"repo_url": "http://127.0.0.1:1/private.git", "branch": "main", "private": True}},
     "is private but no credentials were given"),
    ({"keiko_gitops": {}}, "has no GitOps repository"),
])
def test_bad_input_fails_before_any_change(sandbox, site, extra, message):
    before = managed_versions(sandbox)
    head = sandbox.git("ls-remote", sandbox.env["KEIKO_GITOPS_URL"], "refs/heads/main")
    run = sandbox.playbook("playbooks/bootstrap.yml", "-e", json.dumps(extra))
    assert run.returncode != 0
    assert message in run.stdout, run.stdout[-4000:]
    assert recap(run.stdout)["changed"] == 0
    assert managed_versions(sandbox) == before
    assert sandbox.git("ls-remote", sandbox.env["KEIKO_GITOPS_URL"], "refs/heads/main") == head
