"""The gitops_repository role (the renderer) against the sandbox's git server (HTTP, basic auth) and the local
control plane (the server-side dry run), step by step as a user changes the inventory.

The tests of this module run in order on one remote and one control plane (tests/conftest.py keeps this directory
on one worker): the first render makes one commit with the whole tree, a second one makes none, an edit of the
overlay's images by deploy survives a render, a new service is one commit that names it, a removed service leaves
the overlay, and bad input (a bad name, a port out of range, a value the API server refuses, no kustomize) fails
before any commit.
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
from localargo import build as localargo_build

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
ENV = "sandbox"
NS = "keiko-render"
SIX = ["identity", "learning", "reputation", "passport", "governance", "marketplace", "gateway"]
GIT_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
GIT_ENV.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", LC_ALL="C",
               GIT_AUTHOR_NAME="CI", GIT_AUTHOR_EMAIL="ci@example.invalid",
               GIT_COMMITTER_NAME="CI", GIT_COMMITTER_EMAIL="ci@example.invalid")

PLAYBOOK = """
- name: Render
  hosts: localhost
  gather_facts: false
  roles:
    - role: keikolatam.gitops.gitops_repository
"""


def git(*args, cwd=None):
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, timeout=60,
                          check=True).stdout


class Repo:
    """The GitOps remote on the git server, read on disk (no credentials needed)."""

    def __init__(self, server: GitServer, tmp: Path):
        self.bare = server.init_bare("gitops")
        self.url = server.repo_url("gitops")
        self.server = server
        self.tmp = tmp

    def head(self) -> str | None:
        proc = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "refs/heads/main"], cwd=self.bare,
                              env=GIT_ENV, capture_output=True, text=True, check=False)
        return proc.stdout.strip() or None

    def count(self) -> int:
        return int(git("rev-list", "--count", "main", cwd=self.bare)) if self.head() else 0

    def message(self) -> str:
        return git("log", "-1", "--format=%B", "main", cwd=self.bare)

    def show(self, path: str) -> str:
        return git("show", f"main:{path}", cwd=self.bare)

    def tree(self) -> list[str]:
        return git("ls-tree", "-r", "--name-only", "main", cwd=self.bare).split()

    def overlay(self) -> dict:
        return yaml.safe_load(self.show(f"k8s/overlays/{ENV}/kustomization.yaml"))

    def service(self, name: str) -> dict:
        """The kustomization of a service in the environment's overlay."""
        return yaml.safe_load(self.show(f"k8s/overlays/{ENV}/{name}/kustomization.yaml"))

    def image(self, name: str) -> dict:
        images = self.service(name)["images"]
        assert len(images) == 1 and images[0]["name"] == f"keiko/{name}", images
        return images[0]

    def push(self, files: dict, message: str) -> str:
        """A commit by someone else (deploy), pushed to the bare repository: path -> text (None deletes)."""
        work = self.tmp / f"other-{self.count()}"
        git("clone", "-q", "--branch", "main", str(self.bare), str(work))
        for path, text in files.items():
            if text is None:
                git("rm", "-q", path, cwd=work)
            else:
                (work / path).write_text(text)
                git("add", path, cwd=work)
        git("commit", "-qm", message, cwd=work)
        git("push", "-q", "origin", "HEAD:main", cwd=work)
        return git("rev-parse", "HEAD", cwd=work).strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    base = tmp_path_factory.mktemp("render-git")
    password = "pw-" + base64.urlsafe_b64encode(os.urandom(12)).decode()
    with GitServer(root=base / "repos", username="keiko", password=password, state_dir=base / "state") as server:
        yield Repo(server, base)


@pytest.fixture(scope="module")
def render(repo, localkube, tmp_path_factory):
    """``render(services, check=False, **vars)``: ansible-playbook of the role; (CompletedProcess, recap)."""
    tmp = tmp_path_factory.mktemp("render-play")
    book = tmp / "render.yml"
    book.write_text(PLAYBOOK)
    kustomize = str(localargo_build.bin_dir() / "kustomize")

    def run(services, *args, **extra):
        variables = {
            "gitops_repository_environment": ENV,
            "gitops_repository_url": repo.url,
            "gitops_repository_branch": "main",
            "gitops_repository_username": repo.server.username,
            "gitops_repository_password": repo.server.password,
            "gitops_repository_service_namespace": NS,
            "gitops_repository_services": services,
            "gitops_repository_image_registry": "registry.example.invalid",
            "gitops_repository_progress_deadline_seconds": 30,
            "gitops_repository_kustomize": kustomize,
            "gitops_repository_kubeconfig": str(localkube.kubeconfig),
            **extra,
        }
        path = tmp / "vars.json"
        path.write_text(json.dumps(variables))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "OVH_"))}
        env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), NO_COLOR="1", ANSIBLE_NOCOLOR="1",
                   GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1",
                   PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                               "-e", f"ansible_python_interpreter={sys.executable}", "-e", f"@{path}", str(book), *args],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
        rows = re.findall(r"^localhost\s+:\s+(.*)$", proc.stdout, re.M)
        recap = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", rows[-1])} if rows else {}
        return proc, recap

    return run


def ok(result):
    proc, recap = result
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return proc.stdout, recap


def kubectl(localkube, *args):
    return subprocess.run([KUBECTL, f"--kubeconfig={localkube.kubeconfig}", *args], capture_output=True, text=True,
                          timeout=60, check=True).stdout


def test_first_render_is_one_commit_with_the_whole_tree(repo, render, localkube):
    assert repo.head() is None
    out, recap = ok(render(SIX))
    assert repo.count() == 1
    assert recap["changed"] >= 1
    tree = repo.tree()
    for name in SIX:
        assert {f"k8s/base/{name}/{f}.yaml" for f in ("deployment", "service", "configmap", "kustomization")} <= set(tree)
    assert f"k8s/overlays/{ENV}/kustomization.yaml" in tree and f"argocd/{ENV}/services.yaml" in tree
    subject = repo.message().splitlines()[0]
    assert subject.startswith(f"render {ENV}: ") and "add k8s/base/gateway" in subject and f"add k8s/overlays/{ENV}" in subject
    assert "Keiko-Action: render" in repo.message()

    deployment = yaml.safe_load(repo.show("k8s/base/identity/deployment.yaml"))
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "keiko/identity" and container["name"] == "identity"
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert {"OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_RESOURCE_ATTRIBUTES"} <= {e["name"] for e in container["env"]}

    overlay = repo.overlay()
    assert overlay["resources"] == SIX and "images" not in overlay
    assert {n: repo.image(n)["newTag"] for n in SIX} == {n: "0.1.0" for n in SIX}
    identity = repo.service("identity")
    assert identity["resources"] == ["../../../base/identity"] and identity["namespace"] == NS
    assert identity["replicas"] == [{"name": "identity", "count": 1}]
    # One "add" per new directory, not one per service under it.
    assert f"add k8s/overlays/{ENV}/identity" not in subject
    # One Application per service, each at its service's directory, told which paths a commit must touch to matter.
    apps = {a["metadata"]["name"]: a for a in yaml.safe_load_all(repo.show(f"argocd/{ENV}/services.yaml")) if a}
    assert sorted(apps) == sorted(f"keiko-{ENV}-svc-{n}" for n in SIX)
    app = apps[f"keiko-{ENV}-svc-identity"]
    assert app["spec"]["source"]["path"] == f"k8s/overlays/{ENV}/identity"
    assert app["metadata"]["labels"]["keikolatam.io/service"] == "identity"
    assert app["metadata"]["annotations"]["argocd.argoproj.io/manifest-generate-paths"] == ".;../../../base/identity"
    assert app["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]

    # The dry run went to the API server (it made the namespace it needs) and persisted nothing.
    assert "Server-side dry run" in out
    assert kubectl(localkube, "get", "namespace", NS, "-o", "name").strip() == f"namespace/{NS}"
    assert kubectl(localkube, "-n", NS, "get", "deployment,service,configmap", "-l", "app.kubernetes.io/part-of=keiko",
                   "-o", "name").strip() == ""
    assert repo.server.password not in out


def test_second_render_makes_no_commit(repo, render):
    head = repo.head()
    out, recap = ok(render(SIX))
    assert recap["changed"] == 0
    assert repo.head() == head
    # Nothing to commit, so nothing to validate: no kustomize build, no dry run.
    assert "Build the overlay with kustomize" not in out and "Server-side dry run" not in out


def test_check_mode_shows_a_change_and_commits_nothing(repo, render):
    head = repo.head()
    out, recap = ok(render(SIX, "--check", "--diff", gitops_repository_progress_deadline_seconds=45))
    assert recap["changed"] == 1
    assert "progressDeadlineSeconds: 45" in out
    assert repo.head() == head


def test_the_images_deploy_wrote_survive_a_render(repo, render):
    identity, learning = repo.service("identity"), repo.service("learning")
    identity["images"] = [{"name": "keiko/identity", "newName": "registry.example.invalid/keiko/identity", "newTag": "0.2.0"}]
    learning["images"] = [{"name": "keiko/learning", "newName": "registry.example.invalid/keiko/learning",
                           "digest": "sha256:" + "ab" * 32}]
    # Written in another style (sorted keys, block lists), as another tool would.
    head = repo.push({f"k8s/overlays/{ENV}/identity/kustomization.yaml": yaml.safe_dump(identity),
                      f"k8s/overlays/{ENV}/learning/kustomization.yaml": yaml.safe_dump(learning)},
                     "deploy sandbox: identity 0.2.0")
    dummy, recap = ok(render(SIX))
    assert recap["changed"] == 0
    assert repo.head() == head
    assert repo.image("identity")["newTag"] == "0.2.0"
    assert repo.image("learning")["digest"] == "sha256:" + "ab" * 32


def test_a_new_service_is_one_commit_that_names_it(repo, render):
    before = repo.count()
    services = SIX + [{"name": "search", "port": 9090, "tag": "1.4.0", "replicas": 2, "env": {"LOG_LEVEL": "debug"}}]
    ok(render(services))
    assert repo.count() == before + 1
    subject = repo.message().splitlines()[0]
    # The gateway's kustomization changes too: its KEIKO_UPSTREAMS names the new service.
    # The new service's Application is in the services' file.
    assert subject == (f"render {ENV}: add k8s/base/search, add k8s/overlays/{ENV}/search, "
                       f"change argocd/{ENV}/services.yaml, "
                       f"change k8s/overlays/{ENV}/gateway/kustomization.yaml, change k8s/overlays/{ENV}/kustomization.yaml")
    assert repo.image("search") == {"name": "keiko/search", "newName": "registry.example.invalid/keiko/search",
                                    "newTag": "1.4.0"}
    assert repo.image("identity")["newTag"] == "0.2.0"  # still what deploy wrote
    assert repo.service("search")["replicas"] == [{"name": "search", "count": 2}]
    assert "search=http://search:9090" in repo.show(f"k8s/overlays/{ENV}/gateway/kustomization.yaml")
    service = yaml.safe_load(repo.show("k8s/base/search/service.yaml"))
    assert service["spec"]["ports"][0]["port"] == 9090
    # Rendering it again changes nothing.
    head = repo.head()
    assert ok(render(services))[1]["changed"] == 0
    assert repo.head() == head


def test_a_removed_service_leaves_the_overlay(repo, render):
    ok(render([s for s in SIX if s != "reputation"]))
    overlay = repo.overlay()
    assert overlay["resources"] == [n for n in SIX if n != "reputation"]
    tree = repo.tree()
    assert f"k8s/overlays/{ENV}/reputation/kustomization.yaml" not in tree
    assert f"k8s/overlays/{ENV}/search/kustomization.yaml" not in tree
    assert "k8s/base/reputation/deployment.yaml" in tree  # another environment on the branch may use it
    message = repo.message()
    assert message.splitlines()[0] == (
        f"render {ENV}: change argocd/{ENV}/services.yaml, "
        f"change k8s/overlays/{ENV}/gateway/kustomization.yaml, change k8s/overlays/{ENV}/kustomization.yaml, "
        f"remove k8s/overlays/{ENV}/reputation/kustomization.yaml, remove k8s/overlays/{ENV}/search/kustomization.yaml")
    removed = re.search(r"removed: ([^.]*)\.", message).group(1)
    assert sorted(removed.split(", ")) == ["reputation", "search"], message


@pytest.mark.parametrize("services, message", [
    (SIX + ["Search"], "service 8 (Search): the name is not a DNS label"),
    (SIX + ["identity"], "service 8 (identity): a duplicate of an earlier service"),
    (SIX + [{"name": "search", "port": 70000}], "port 70000 is not between 1 and 65535"),
    (SIX + [{"name": "search", "tag": "latest"}], "tag latest is not a pinned image tag"),
])
def test_bad_input_fails_before_any_commit(repo, render, services, message):
    head = repo.head()
    proc, recap = render(services)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-3000:]
    assert recap["changed"] == 0
    assert repo.head() == head


def test_what_the_api_server_refuses_is_not_committed(repo, render):
    """kustomize builds it; the server-side dry run refuses it (a quantity that is not one)."""
    head = repo.head()
    proc, dummy = render(SIX + [{"name": "search", "resources": {"requests": {"cpu": "lots"}}}])
    assert proc.returncode != 0
    assert "Server-side dry run" in proc.stdout and "quantities must match" in proc.stdout, proc.stdout[-3000:]
    assert repo.head() == head


def test_a_missing_kustomize_fails_clearly(repo, render, tmp_path):
    head = repo.head()
    proc, dummy = render(SIX, gitops_repository_kustomize=str(tmp_path / "no-kustomize"))
    assert proc.returncode != 0
    assert "cannot be run" in proc.stdout and "gitops_repository_kustomize" in proc.stdout, proc.stdout[-3000:]
    assert repo.head() == head


def test_an_overlay_of_the_one_file_layout_moves_to_one_kustomization_per_service_with_its_images(repo, render):
    """A repository rendered before the split: the overlay lists the bases and holds every image itself."""
    services = [n for n in SIX if n != "reputation"]
    old = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "namespace": NS,
           "resources": [f"../../base/{n}" for n in services],
           "images": [{"name": f"keiko/{n}", "newName": f"registry.example.invalid/keiko/{n}",
                       "newTag": "0.3.0" if n == "identity" else "0.1.0"} for n in services]}
    files = {f"k8s/overlays/{ENV}/{n}/kustomization.yaml": None for n in services}
    files[f"k8s/overlays/{ENV}/kustomization.yaml"] = yaml.safe_dump(old)
    repo.push(files, "the one-file layout")
    before = repo.count()
    ok(render(services))
    assert repo.count() == before + 1
    assert repo.overlay()["resources"] == services and "images" not in repo.overlay()
    assert repo.image("identity")["newTag"] == "0.3.0"  # what deploy wrote in the old layout is kept
    assert repo.image("learning")["newTag"] == "0.1.0"


def test_the_environments_patches_go_into_each_service_and_a_path_patch_is_refused(repo, render):
    """Each service's Application builds its own directory, so the environment's patches are in every service's
    kustomization; a patch file (``path:``) would be outside it, and is refused before any commit."""
    services = [n for n in SIX if n != "reputation"]
    patch = {"patch": "- op: add\n  path: /metadata/labels/keikolatam.io~1team\n  value: platform\n",
             "target": {"kind": "Deployment"}}
    ok(render(services, gitops_repository_patches=[patch]))
    assert {n: repo.service(n)["patches"][-1] for n in services} == {n: patch for n in services}
    assert "patches" not in repo.overlay()

    head = repo.head()
    proc, recap = render(services, gitops_repository_patches=[{"path": "team.yaml", "target": {"kind": "Deployment"}}])
    assert proc.returncode != 0 and recap["changed"] == 0
    assert "patch 1 of gitops_repository_patches is not a dict with an inline patch" in " ".join(proc.stdout.split())
    assert repo.head() == head
