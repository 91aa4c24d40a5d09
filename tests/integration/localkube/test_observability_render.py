"""The observability role against the sandbox's git server and the local control plane with the upstream CRDs.

The objects the role renders (the collector's Deployment, ConfigMap and RBAC, the ServiceMonitors, the
PrometheusRule, the dashboards' ConfigMaps, the Argo CD Applications) are sent to a real kube-apiserver that serves
the prometheus-operator and Argo CD CRDs of ``$KEIKO_UPSTREAM_MIRROR/crds`` as a server-side dry run, before the
one commit; a second run makes none; check mode commits nothing; a value the API server refuses fails before any
commit. In order, on one remote and one control plane.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gitserver.process import GitServer
from localkube import crds

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
ENV = "obsenv"
NS = "keiko-observability-test"
CRDS = ["prometheus-operator-servicemonitors", "prometheus-operator-prometheusrules", "argocd-application"]
GIT_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
GIT_ENV.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", LC_ALL="C")

PLAYBOOK = """
- name: Render the observability add-on
  hosts: localhost
  gather_facts: false
  roles:
    - role: keikolatam.gitops.observability
"""


def git(bare, *args):
    return subprocess.run(["git", *args], cwd=bare, env=GIT_ENV, capture_output=True, text=True, timeout=60,
                          check=True).stdout


def kubectl(localkube, *args):
    proc = subprocess.run([KUBECTL, f"--kubeconfig={localkube.kubeconfig}", *args], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("observability-git")
    password = "pw-" + base64.urlsafe_b64encode(os.urandom(12)).decode()
    with GitServer(root=base / "repos", username="keiko", password=password, state_dir=base / "state") as srv:
        srv.bare = srv.init_bare("gitops")
        yield srv


@pytest.fixture(scope="module")
def render(server, localkube, tmp_path_factory):
    # The CRDs the rendered objects need, from the upstream mirror (server-side; Established before the first render).
    crds.apply_crds(localkube.kubeconfig, CRDS)
    if subprocess.run([KUBECTL, f"--kubeconfig={localkube.kubeconfig}", "get", "namespace", "argocd"],
                      capture_output=True, check=False).returncode != 0:
        kubectl(localkube, "create", "namespace", "argocd")
    tmp = tmp_path_factory.mktemp("observability-play")
    book = tmp / "render.yml"
    book.write_text(PLAYBOOK)

    def run(*args, **extra):
        variables = {
            "observability_environment": ENV,
            "observability_repository_url": server.repo_url("gitops"),
            "observability_repository_branch": "main",
            "observability_repository_username": server.username,
            "observability_repository_password": server.password,
            "observability_namespace": NS,
            "observability_services": ["identity", "gateway"],
            "observability_kubeconfig": str(localkube.kubeconfig),
            **extra,
        }
        (tmp / "vars.json").write_text(json.dumps(variables))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "OVH_"))}
        env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), NO_COLOR="1", ANSIBLE_NOCOLOR="1",
                   GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1",
                   PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                               "-e", f"ansible_python_interpreter={sys.executable}", "-e", f"@{tmp / 'vars.json'}",
                               str(book), *args],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
        rows = re.findall(r"^localhost\s+:\s+(.*)$", proc.stdout, re.M)
        recap = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", rows[-1])} if rows else {}
        return proc, recap

    return run


def head(server):
    proc = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "refs/heads/main"], cwd=server.bare, env=GIT_ENV,
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() or None


def task(out: str, name: str) -> str:
    """What ansible-playbook printed for the role's task ``name``."""
    section = out.split(f"TASK [keikolatam.gitops.observability : {name}")[1]
    return section.split("\n", 1)[1].split("TASK [")[0].strip()


def ok(result):
    proc, recap = result
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return proc.stdout, recap


def test_first_render_is_validated_by_the_api_server_and_committed_once(server, render, localkube):
    assert head(server) is None
    out, recap = ok(render())
    assert recap["changed"] >= 1
    assert git(server.bare, "rev-list", "--count", "main").strip() == "1"
    message = git(server.bare, "log", "-1", "--format=%B", "main")
    assert message.startswith(f"render {ENV}: observability, argocd/{ENV}/platform-observability-stack.yaml")
    assert "Keiko-Action: render" in message and f"Keiko-Environment: {ENV}" in message
    tree = git(server.bare, "ls-tree", "-r", "--name-only", "main").split()
    assert f"k8s/platform/observability/{ENV}/prometheusrule.yaml" in tree and f"argocd/{ENV}/platform-observability.yaml" in tree
    # Every object went to the dry run (the cluster serves their CRDs): none was left out, none persisted.
    assert "Server-side dry run of the rendered objects" in out
    assert task(out, "Objects left out of the dry run").startswith("skipping: [localhost]")
    assert kubectl(localkube, "-n", NS, "get", "servicemonitor,prometheusrule,deployment,configmap", "-l",
                   "app.kubernetes.io/part-of=keiko-observability", "-o", "name").strip() == ""
    assert kubectl(localkube, "-n", "argocd", "get", "application", "-o", "name").count(f"keiko-{ENV}-") == 0
    assert server.password not in out


def test_second_render_changes_nothing_and_shows_no_password_even_with_vvv(server, render):
    before = head(server)
    proc, recap = render("-vvv")
    ok((proc, recap))
    assert recap["changed"] == 0
    assert head(server) == before
    assert "repo_url" in proc.stdout and "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in proc.stdout  # the arguments, masked
    assert server.password not in proc.stdout + proc.stderr


def test_check_mode_shows_the_change_and_commits_nothing(server, render):
    before = head(server)
    out, recap = ok(render("--check", "--diff", observability_db_pool_saturation=0.8))
    assert recap["changed"] == 1
    assert ">= 0.8" in out
    assert head(server) == before


def test_a_value_the_api_server_refuses_fails_before_any_commit(server, render):
    before = head(server)
    proc, recap = render(observability_collector_cpu_request="lots")
    assert proc.returncode != 0
    assert "Server-side dry run of the rendered objects" in proc.stdout
    assert re.search(r"quantities must match the regular expression|unable to parse quantity", proc.stdout), proc.stdout[-3000:]
    assert head(server) == before
    assert recap["changed"] == 0
    doc = yaml.safe_load(git(server.bare, "show", f"main:k8s/platform/observability/{ENV}/kustomization.yaml"))
    assert doc["kind"] == "Kustomization"
