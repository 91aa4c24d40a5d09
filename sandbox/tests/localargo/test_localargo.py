"""The real Argo CD processes against a local control plane, end to end.

One control plane for this module (its own, in a temporary directory: the Argo CD install would
otherwise leak into other tests' cluster). localargo is started *before* the install manifest is
applied, as the sandbox does before bootstrap; then the manifest is applied server-side, and an
Application syncs a Deployment from a git repository served over HTTP with credentials.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import pytest
import yaml

from gitserver.process import GitServer
from localargo import install, run
from localkube import cluster as kcluster
from localkube.kubeapi import KubeClient

GIT_ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
NS = "argocd"
APP_NS = "demo"

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.invalid/web:1
"""
KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namePrefix: kz-
resources: [deployment.yaml]
"""


def wait_for(what, fn, timeout=120.0, interval=0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def git(*args, cwd=None):
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=True).stdout


def our_pids(data_dir: Path) -> list[int]:
    return [e["pid"] for e in run._strays(data_dir)]


@pytest.fixture(scope="module")
def kube(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("argo-kube") / "cluster"
    c = kcluster.up(data_dir, default_nodes=2, echo=lambda m: print(m, file=sys.stderr), owner_pid=os.getpid())
    yield c
    kcluster.down(data_dir, echo=lambda m: None)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    base = tmp_path_factory.mktemp("argo-git")
    gs = GitServer(root=base / "repos", username="argocd-reader", state_dir=base / "state")
    gs.init_bare("gitops")
    with gs:
        work = base / "work"
        git("clone", "-q", gs.repo_url("gitops").replace("http://", f"http://{gs.username}:{gs.password}@"), str(work))
        (work / "plain").mkdir()
        (work / "plain" / "deployment.yaml").write_text(DEPLOYMENT)
        (work / "kustomized").mkdir()
        (work / "kustomized" / "kustomization.yaml").write_text(KUSTOMIZATION)
        (work / "kustomized" / "deployment.yaml").write_text(DEPLOYMENT)
        git("add", ".", cwd=work)
        git("commit", "-qm", "a deployment, plain and through kustomize", cwd=work)
        git("push", "-q", "origin", "HEAD:main", cwd=work)
        yield gs


@pytest.fixture(scope="module")
def argo(kube, tmp_path_factory):
    """localargo started before the install; yields (data_dir, status before the install)."""
    data_dir = tmp_path_factory.mktemp("argo") / "localargo"
    files = data_dir.parent / "files"
    run.up(data_dir, kube.kubeconfig, components=run.COMPONENTS, owner_pid=os.getpid(),
           echo=lambda m: print(m, file=sys.stderr), url_file=files / "url", password_file=files / "admin-password")
    before = run.status(data_dir)
    before["url_file"] = (files / "url").read_text()
    before["password_file"] = (files / "admin-password").exists()
    time.sleep(2)  # a few polls of the supervisor on a cluster without Argo CD
    before_later = run.status(data_dir)
    t0 = time.monotonic()
    install.apply_install(kube.kubeconfig)
    applied_s = time.monotonic() - t0
    st = run.wait_ready(data_dir, timeout=240)
    print(f"install applied in {applied_s:.1f}s; components healthy {st['timings']}", file=sys.stderr)
    try:
        yield data_dir, before, before_later
    finally:
        if (data_dir / run.MARKER).exists():
            run.down(data_dir, echo=lambda m: None)


@pytest.fixture(scope="module")
def synced(argo, kube, repo):
    """The repository Secret and two Applications (plain manifests, kustomize), synced."""
    data_dir = argo[0]
    with KubeClient(kube.kubeconfig) as k:
        k.apply(f"/api/v1/namespaces/{NS}/secrets/gitops-repo", {
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "gitops-repo", "namespace": NS,
                         "labels": {"argocd.argoproj.io/secret-type": "repository"}},
            "stringData": {"type": "git", "url": repo.repo_url("gitops"),
                           "username": repo.username, "password": repo.password},
        })
        for name, path in (("web", "plain"), ("web-kustomized", "kustomized")):
            k.apply(f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/applications/{name}", {
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                "metadata": {"name": name, "namespace": NS},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": repo.repo_url("gitops"), "targetRevision": "main", "path": path},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": APP_NS},
                    "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                                   "syncOptions": ["CreateNamespace=true"]},
                },
            })

        def app_state(name):
            app = k.get(f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/applications/{name}")
            st = app.get("status") or {}
            return (st.get("sync") or {}).get("status"), (st.get("health") or {}).get("status"), app

        t0 = time.monotonic()
        for name in ("web", "web-kustomized"):
            try:
                wait_for(f"Application {name} Synced and Healthy",
                         lambda: app_state(name)[:2] == ("Synced", "Healthy"), timeout=180)
            except AssertionError:
                sync, health, app = app_state(name)
                raise AssertionError(f"{name}: sync {sync}, health {health}, conditions "
                                     f"{(app.get('status') or {}).get('conditions')}") from None
        print(f"Applications Synced and Healthy {time.monotonic() - t0:.1f}s after creation", file=sys.stderr)
        yield {name: app_state(name)[2] for name in ("web", "web-kustomized")}


def test_waits_for_the_install_with_nothing_else_running(argo):
    dummy, before, later = argo
    for st in (before, later):
        assert st["phase"] == "waiting-for-install"
        for comp in ("redis", *run.COMPONENTS):
            assert st["processes"][comp]["alive"] is False
        assert st["up"] is False
    # the API server's URL is known (and written) before the install; the password is not there yet
    assert before["url_file"] == before["api_url"] + "\n" and before["password_file"] is False


def test_the_supervisor_holds_its_ports_until_it_starts_the_components(tmp_path, kube):
    """While it waits for the install nothing else can take the API server's published port."""
    import socket

    data_dir = tmp_path / "waiting"
    cfg = run.up(data_dir, kube.kubeconfig, namespace="not-installed", echo=lambda m: None, owner_pid=os.getpid())
    try:
        with socket.socket() as sock:
            with pytest.raises(OSError):
                sock.bind(("127.0.0.1", cfg["ports"]["server"]))
    finally:
        run.down(data_dir, echo=lambda m: None)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", cfg["ports"]["server"]))  # released


def test_the_admin_password_file_is_written_once_argocd_server_generated_it(argo, kube):
    data_dir = argo[0]
    path = data_dir.parent / "files" / "admin-password"
    wait_for("the admin password file", path.exists, timeout=60)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text() == run.admin_password(kube.kubeconfig)


def test_components_run_on_loopback_and_are_healthy(argo):
    data_dir = argo[0]
    st = run.status(data_dir)
    assert st["up"] is True and st["phase"] == "running"
    assert st["api_url"].startswith("http://127.0.0.1:")
    cfg = run.load_config(data_dir)
    assert set(st["processes"]) == {"redis", *run.COMPONENTS}
    for comp in st["processes"]:
        pid = st["processes"][comp]["pid"]
        # every listening TCP socket of our processes is on 127.0.0.1
        inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{pid}/fd")
                  if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")}
        listening = []
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                if f[3] == "0A" and f[9] in inodes:  # LISTEN
                    listening.append(f[1])
        assert listening, comp
        for addr in listening:
            assert addr.split(":")[0] in ("0100007F", "00000000000000000000000001000000"), (comp, addr)
    assert set(cfg["ports"].values()) and len(set(cfg["ports"].values())) == len(cfg["ports"])


def test_up_again_is_a_no_op(argo, kube):
    data_dir = argo[0]
    before = run.status(data_dir)
    cfg = run.up(data_dir, kube.kubeconfig, components=run.COMPONENTS, echo=lambda m: None)
    assert cfg["supervisor"] == run.load_config(data_dir)["supervisor"]
    after = run.status(data_dir)
    assert {n: p["pid"] for n, p in after["processes"].items()} == {n: p["pid"] for n, p in before["processes"].items()}


def test_application_synced_healthy_and_deployment_available_on_kwok_nodes(synced, kube):
    with KubeClient(kube.kubeconfig) as k:
        nodes = {n["metadata"]["name"]: n for n in k.get("/api/v1/nodes")["items"]}
        for name, app in (("web", "web"), ("kz-web", "web-kustomized")):
            dep = wait_for(f"deployment {name} available",
                           lambda: (d := k.get(f"/apis/apps/v1/namespaces/{APP_NS}/deployments/{name}"))
                           .get("status", {}).get("availableReplicas") == 2 and d)
            # Argo CD v3 tracks what it manages with an annotation
            tracking = dep["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"]
            assert tracking == f"{app}:apps/Deployment:{APP_NS}/{name}"
            pods = k.get(f"/api/v1/namespaces/{APP_NS}/pods", labelSelector="app=web")["items"]
            for pod in pods:
                node = nodes[pod["spec"]["nodeName"]]
                assert node["metadata"]["annotations"].get("kwok.x-k8s.io/node") == "fake"
        assert len(k.get(f"/api/v1/namespaces/{APP_NS}/pods", labelSelector="app=web")["items"]) == 4
    revs = {app["status"]["sync"]["revision"] for app in synced.values()}
    assert len(revs) == 1 and len(revs.pop()) == 40


def test_api_login_and_read_the_application(argo, synced, kube):
    data_dir = argo[0]
    cfg = run.load_config(data_dir)
    token = run.login(data_dir)
    app = run.api_request(cfg["api_url"] + "/api/v1/applications/web", token=token)
    assert app["metadata"]["name"] == "web"
    assert app["status"]["sync"]["status"] == "Synced"
    assert app["status"]["health"]["status"] == "Healthy"
    assert {r["kind"] for r in app["status"]["resources"]} == {"Deployment"}
    listed = run.api_request(cfg["api_url"] + "/api/v1/applications", token=token)
    assert {a["metadata"]["name"] for a in listed["items"]} == {"web", "web-kustomized"}
    with pytest.raises(urllib.error.HTTPError) as err:
        run.login(data_dir, password="not-the-password")
    assert err.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as err:
        run.api_request(cfg["api_url"] + "/api/v1/applications/web")
    assert err.value.code == 401


def test_argocd_cli_works_with_the_env_file_variables(argo, synced):
    data_dir = argo[0]
    env_text = subprocess.run([sys.executable, "-m", "localargo", "env", "--data-dir", str(data_dir)],
                              capture_output=True, text=True, check=True).stdout
    variables = dict(line.removeprefix("export ").split("=", 1) for line in env_text.splitlines())
    cfg = run.load_config(data_dir)
    password = run.admin_password(cfg["kubeconfig"])
    assert password not in env_text
    home = data_dir.parent / "cli-home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "ARGOCD_SERVER": variables["ARGOCD_SERVER"],
           "ARGOCD_OPTS": variables["ARGOCD_OPTS"]}
    argocd = str(Path(cfg["bin_dir"]) / "argocd")
    subprocess.run([argocd, "login", variables["ARGOCD_SERVER"], "--plaintext", "--username", "admin",
                    "--password", password], env=env, capture_output=True, text=True, check=True)
    out = subprocess.run([argocd, "app", "get", "web", "-o", "json"], env=env, capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["status"]["sync"]["status"] == "Synced"


def test_components_act_with_their_service_accounts(argo, kube, tmp_path):
    data_dir = argo[0]
    for comp, sa in (("argocd-application-controller", "argocd-application-controller"),
                     ("argocd-server", "argocd-server")):
        kc = data_dir / "kube" / f"{comp}.kubeconfig"
        assert oct(kc.stat().st_mode & 0o777) == "0o600"
        doc = yaml.safe_load(kc.read_text())
        user = doc["users"][0]["user"]
        assert set(user) == {"tokenFile"}  # client-go re-reads it: the supervisor refreshes the token
        # (localkube's small client has no tokenFile support: inline the token for it)
        doc["users"][0]["user"] = {"token": Path(user["tokenFile"]).read_text()}
        inline = tmp_path / f"{comp}.kubeconfig"
        inline.write_text(yaml.safe_dump(doc))
        with KubeClient(inline) as k:
            review = k.create("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                              {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        assert review["status"]["userInfo"]["username"] == f"system:serviceaccount:{NS}:{sa}"


def test_a_component_that_exits_is_restarted(argo):
    data_dir = argo[0]
    before = run.status(data_dir)["processes"]["argocd-repo-server"]
    os.kill(before["pid"], 9)
    st = wait_for("repo-server restarted and healthy",
                  lambda: (s := run.status(data_dir))["processes"]["argocd-repo-server"]["restarts"] == before["restarts"] + 1
                  and s["up"] and s, timeout=60)
    assert st["processes"]["argocd-repo-server"]["pid"] != before["pid"]


def test_cmd_params_reach_a_component_when_it_restarts(argo, kube):
    """argocd-cmd-params-cm keys become the environment the install manifest maps them to."""
    data_dir = argo[0]
    with KubeClient(kube.kubeconfig) as k:
        k.merge_patch(f"/api/v1/namespaces/{NS}/configmaps/argocd-cmd-params-cm",
                      {"data": {"controller.log.level": "debug"}})
    before = run.status(data_dir)["processes"]["argocd-application-controller"]
    env_before = Path(f"/proc/{before['pid']}/environ").read_bytes().split(b"\0")
    assert b"ARGOCD_APPLICATION_CONTROLLER_LOGLEVEL=debug" not in env_before
    assert b"ARGOCD_CONTROLLER_REPLICAS=1" in env_before
    os.kill(before["pid"], 15)
    st = wait_for("controller restarted and healthy",
                  lambda: (s := run.status(data_dir))["processes"]["argocd-application-controller"]["restarts"]
                  == before["restarts"] + 1 and s["up"] and s, timeout=60)
    pid = st["processes"]["argocd-application-controller"]["pid"]
    assert b"ARGOCD_APPLICATION_CONTROLLER_LOGLEVEL=debug" in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    log = (data_dir / "logs" / "argocd-application-controller.log").read_text()
    assert '"level":"debug"' in log


def test_applicationset_controller_generates_applications(argo, kube, repo):
    with KubeClient(kube.kubeconfig) as k:
        k.apply(f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/applicationsets/envs", {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
            "metadata": {"name": "envs", "namespace": NS},
            "spec": {
                "generators": [{"list": {"elements": [{"env": "dev"}, {"env": "staging"}]}}],
                "template": {
                    "metadata": {"name": "web-{{env}}"},
                    "spec": {"project": "default",
                             "source": {"repoURL": repo.repo_url("gitops"), "targetRevision": "main", "path": "plain"},
                             "destination": {"server": "https://kubernetes.default.svc", "namespace": "web-{{env}}"}},
                },
            },
        })

        def generated():
            items = k.get(f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/applications")["items"]
            found = {a["metadata"]["name"]: a for a in items
                     if any(o["kind"] == "ApplicationSet" for o in a["metadata"].get("ownerReferences", []))}
            return found if len(found) >= 2 else None  # the controller creates them one by one

        apps = wait_for("applications generated", generated, timeout=60)
        assert set(apps) == {"web-dev", "web-staging"}
        assert apps["web-dev"]["spec"]["destination"]["namespace"] == "web-dev"
        k.delete(f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/applicationsets/envs")


def test_no_secret_in_logs_or_state(argo, synced, repo, kube):
    data_dir = argo[0]
    cfg = run.load_config(data_dir)
    secrets = [run.admin_password(cfg["kubeconfig"]), repo.password]
    texts = [p.read_text(errors="replace") for p in (data_dir / "logs").iterdir()]
    texts += [(data_dir / run.CONFIG).read_text(), (data_dir / run.STATUS).read_text(),
              json.dumps(run.status(data_dir)), json.dumps(run.env_vars(data_dir))]
    texts += [p.read_text(errors="replace") for p in (repo.state_dir).iterdir() if p.is_file()]
    assert any("argocd-server" in t for t in texts)
    for secret in secrets:
        assert all(secret not in t for t in texts)


def test_down_leaves_no_process_and_removes_the_dir(argo):
    data_dir = argo[0]
    st = run.status(data_dir)
    pids = [st["supervisor"]["pid"]] + [p["pid"] for p in st["processes"].values()]
    assert our_pids(data_dir)
    stopped = run.down(data_dir, echo=lambda m: None)
    assert set(pids) <= set(stopped) | {st["supervisor"]["pid"]}
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), pid
    assert not data_dir.exists()
    assert our_pids(data_dir) == []
    assert run.status(data_dir)["up"] is False
