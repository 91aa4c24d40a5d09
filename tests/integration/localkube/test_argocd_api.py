"""argocd_application_info and argocd_application_sync through ansible-playbook against the REAL Argo CD (localargo's
processes) on a control plane of this module, with a GitOps remote served over HTTP on loopback.

What a user relies on: info returns the images the Deployment runs; a pushed image is synced and waited for at its
commit and the Deployment then runs it (check mode before it changes nothing); an application with an automated sync
is refreshed and waited for without a sync of ours; a Deployment whose pods never become ready (localkube's kwok stage
for an image tag ending in -broken) fails fast with fail_on_degraded, naming it and Argo CD's message; a wrong password
and an unknown application fail clearly, and no password reaches the output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitserver.process import GitServer
from localargo import install, run
from localkube import cluster as kcluster
from localkube.kubeapi import KubeClient

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
NS = "argocd"
GIT_ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  progressDeadlineSeconds: 10
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: registry.invalid/keiko/web:{tag}
"""

PLAY = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/keikolatam.gitops.argocd:
      api_url: {api_url}
      username: admin
      password: "{{{{ argocd_password }}}}"
      timeout: 10
  tasks:
{tasks}
    - name: results
      ansible.builtin.copy:
        content: "{{{{ {names} | to_json }}}}"
        dest: {out}
        mode: "0600"
"""


def git(*args, cwd=None):
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=True).stdout.strip()


class Env:
    def __init__(self, kube, data_dir, repo, work, tmp):
        self.kube = kube
        self.data_dir = data_dir
        self.repo = repo
        self.work = work
        self.tmp = tmp
        cfg = run.load_config(data_dir)
        self.api_url = cfg["api_url"]
        self.password = run.admin_password(kube.kubeconfig)
        self.runs = 0

    def push(self, path, tag):
        (self.work / path / "deployment.yaml").write_text(DEPLOYMENT.format(tag=tag))
        git("commit", "-qam", f"{path}: web {tag}", cwd=self.work)
        git("push", "-q", "origin", "HEAD:main", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)

    def play(self, tasks: list[dict], extra_args=(), secrets=None):
        """Run ``tasks`` (each registers its name, failures ignored); returns (results by name, output)."""
        self.runs += 1
        out = self.tmp / f"results-{self.runs}.json"
        lines = []
        for task in tasks:
            task = dict(task, register=task["name"], ignore_errors=True)
            lines.append("    - " + json.dumps(task))
        play = self.tmp / f"play-{self.runs}.yml"
        play.write_text(PLAY.format(api_url=self.api_url, out=out, tasks="\n".join(lines),
                                    names="{%s}" % ", ".join(f"'{t['name']}': {t['name']}" for t in tasks)))
        extra_vars = self.tmp / f"secrets-{self.runs}.json"
        fd = os.open(extra_vars, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(dict(secrets or {}, argocd_password=self.password), fh)
        proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e",
                               f"ansible_python_interpreter={sys.executable}", "-e", f"@{extra_vars}", *extra_args,
                               str(play)], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
                              env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), NO_COLOR="1"))
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0 and out.is_file(), output[-6000:]
        return json.loads(out.read_text()), output

    def deployment(self, namespace):
        with KubeClient(self.kube.kubeconfig) as k:
            dep = k.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
            pods = k.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector="app=web")["items"]
        return dep, pods


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("argocd-api")
    kube = kcluster.up(base / "cluster", default_nodes=1, owner_pid=os.getpid(), echo=lambda m: None)
    gs = GitServer(root=base / "repos", username="argocd-reader", state_dir=base / "git")
    gs.init_bare("gitops")
    data_dir = base / "localargo"
    try:
        gs.start()
        work = base / "work"
        git("clone", "-q", gs.repo_url("gitops").replace("http://", f"http://{gs.username}:{gs.password}@"), str(work))
        for path in ("manual", "auto", "broken"):
            (work / path).mkdir()
            (work / path / "deployment.yaml").write_text(DEPLOYMENT.format(tag="1"))
        git("add", ".", cwd=work)
        git("commit", "-qm", "web 1, three times", cwd=work)
        git("push", "-q", "origin", "HEAD:main", cwd=work)
        run.up(data_dir, kube.kubeconfig, owner_pid=os.getpid(), echo=lambda m: None)
        install.apply_install(kube.kubeconfig)
        run.wait_ready(data_dir, timeout=240)
        with KubeClient(kube.kubeconfig) as k:
            k.apply(f"/api/v1/namespaces/{NS}/secrets/gitops-repo", {
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "gitops-repo", "namespace": NS,
                             "labels": {"argocd.argoproj.io/secret-type": "repository"}},
                "stringData": {"type": "git", "url": gs.repo_url("gitops"), "username": gs.username,
                               "password": gs.password}})
            for name in ("manual", "auto", "broken"):
                policy = {"syncOptions": ["CreateNamespace=true"]}
                if name == "auto":
                    policy["automated"] = {"prune": True, "selfHeal": True}
                k.apply(f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/applications/{name}", {
                    "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                    "metadata": {"name": name, "namespace": NS},
                    "spec": {"project": "default",
                             "source": {"repoURL": gs.repo_url("gitops"), "targetRevision": "main", "path": name},
                             "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
                             "syncPolicy": policy}})
        yield Env(kube, data_dir, gs, work, base)
    finally:
        if (data_dir / run.MARKER).exists():
            run.down(data_dir, echo=lambda m: None)
        gs.stop()
        kcluster.down(base / "cluster", echo=lambda m: None)


def sync(register, check_mode=False, **options):
    """A task of argocd_application_sync, registered as ``register``."""
    return {"name": register, "keikolatam.gitops.argocd_application_sync": options, "check_mode": check_mode}


def info(register, **options):
    return {"name": register, "keikolatam.gitops.argocd_application_info": options}


def test_an_automated_application_is_waited_for_and_info_returns_its_live_images(env):
    token = run.login(env.data_dir)  # a session token works as a bearer token
    results, output = env.play([sync("wait_auto", name="auto", sync=False, wait_timeout=180),
                                info("read_auto", name="auto"),
                                info("by_token", name="auto", token="{{ argocd_token }}")],
                               extra_args=["-vvv"], secrets={"argocd_token": token})
    waited, read = results["wait_auto"], results["read_auto"]
    assert results["by_token"]["application"]["revision"] == read["application"]["revision"], results["by_token"]
    assert not waited.get("failed"), waited
    assert waited["changed"] is False and waited["sync_started"] is False  # Argo CD synced it by itself
    app = read["application"]
    assert (app["sync_status"], app["health_status"]) == ("Synced", "Healthy")
    assert app["auto_sync"] is True and len(app["revision"]) == 40
    assert app["revision"] == git("rev-parse", "HEAD", cwd=env.work)
    assert app["workloads"]["web"]["images"] == ["registry.invalid/keiko/web:1"]
    assert app["history"] and app["history"][-1]["revision"] == app["revision"]
    dep, dummy = env.deployment("auto")
    assert [c["image"] for c in dep["spec"]["template"]["spec"]["containers"]] == app["workloads"]["web"]["images"]
    assert env.password not in output and token not in output


def test_a_pushed_image_is_synced_at_its_commit_and_runs(env):
    first, dummy = env.play([sync("sync_manual", name="manual", wait_timeout=180)])
    assert first["sync_manual"]["changed"] is True, first
    sha = env.push("manual", "2")
    results, dummy = env.play([
        sync("check", name="manual", wait_for_revision=sha, check_mode=True),
        info("before", name="manual"),
        sync("deploy", name="manual", wait_for_revision=sha, wait_timeout=180),
        sync("again", name="manual", wait_for_revision=sha, wait_timeout=180)])
    # check mode: a sync would start, none did
    assert results["check"]["changed"] is True and results["check"]["sync_started"] is True
    assert results["before"]["application"]["workloads"]["web"]["images"] == ["registry.invalid/keiko/web:1"]
    deploy = results["deploy"]
    assert not deploy.get("failed"), deploy["msg"]
    assert deploy["changed"] is True and deploy["sync_started"] is True
    app = deploy["application"]
    assert (app["sync_status"], app["health_status"], app["revision"]) == ("Synced", "Healthy", sha)
    assert app["operation_revision"] == sha and app["history"][-1]["revision"] == sha
    assert app["workloads"]["web"]["images"] == ["registry.invalid/keiko/web:2"]
    # the Deployment runs it: rolled out, its pods on the new image and ready
    dep, pods = env.deployment("manual")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.invalid/keiko/web:2"
    assert dep["status"].get("updatedReplicas") == dep["status"].get("availableReplicas") == 1
    running = [p for p in pods if p["status"].get("phase") == "Running" and p.get("metadata", {}).get(
        "deletionTimestamp") is None]
    assert [c["image"] for p in running for c in p["spec"]["containers"]] == ["registry.invalid/keiko/web:2"]
    # at that commit already: nothing to do
    assert results["again"]["changed"] is False and results["again"]["sync_started"] is False


def test_a_pushed_image_of_an_automated_application_with_sync_false(env):
    sha = env.push("auto", "2")
    results, dummy = env.play([sync("refresh", name="auto", sync=False, wait_for_revision=sha, wait_timeout=180)])
    out = results["refresh"]
    assert not out.get("failed"), out["msg"]
    assert out["changed"] is False and out["sync_started"] is False
    assert out["application"]["revision"] == sha
    assert out["application"]["workloads"]["web"]["images"] == ["registry.invalid/keiko/web:2"]
    assert env.deployment("auto")[0]["spec"]["template"]["spec"]["containers"][0]["image"] \
        == "registry.invalid/keiko/web:2"


def test_fail_on_degraded_stops_at_a_deployment_that_never_becomes_ready(env):
    first, dummy = env.play([sync("healthy", name="broken", wait_timeout=180)])
    assert not first["healthy"].get("failed"), first["healthy"].get("msg")
    # localkube's kwok stages: a pod whose image tag ends in -broken runs but never becomes ready
    sha = env.push("broken", "2-broken")
    results, dummy = env.play([sync("degraded", name="broken", wait_for_revision=sha, fail_on_degraded=True,
                                    wait_timeout=300)])
    out = results["degraded"]
    assert out.get("failed") is True
    assert out["msg"].startswith(f"Argo CD application broken failed at revision {sha}: health Degraded")
    assert 'Deployment web: Degraded: Deployment "web" exceeded its progress deadline' in out["msg"]
    assert out["application"]["health_status"] == "Degraded" and out["application"]["revision"] == sha
    assert out["application"]["workloads"]["web"]["images"] == ["registry.invalid/keiko/web:2-broken"]
    assert out["unhealthy"] == ['Deployment web: Degraded: Deployment "web" exceeded its progress deadline']
    assert out["waited"]["seconds"] < 300  # it stopped at Degraded, not at the timeout


def test_a_wrong_password_and_an_unknown_application_fail_clearly(env):
    wrong = "not-the-admin-password-5c1e"
    results, output = env.play([info("wrong_password", name="auto", password=wrong),
                                info("unknown", name="no-such-app"), sync("unknown_sync", name="no-such-app")],
                               extra_args=["-vvv"])
    out = results["wrong_password"]
    assert out["failed"] is True
    assert out["msg"].startswith(f"Argo CD at {env.api_url} refused the username and password of user 'admin'")
    assert "Invalid username or password" in out["msg"] and out["failure"]["status"] == 401
    assert out["retries"] == 0
    for key in ("unknown", "unknown_sync"):
        assert results[key]["failed"] is True
        assert results[key]["msg"].startswith("Argo CD application no-such-app not found"), results[key]["msg"]
    assert wrong not in output and wrong not in json.dumps(results)
    assert env.password not in output
