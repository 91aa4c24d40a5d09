"""One local control plane (and Argo CD supervisor) per OVH cluster, with the real processes.

One sandbox for the module, as a user starts it (``keiko-sandbox up --with-kube --with-argocd``, a limit of 2):
two OVH clusters created through the emulator's API get two control planes, each kubeconfig reaches its own API
server and node pools become kwok nodes there; the Argo CD URL of each is written before Argo CD is installed, and
the admin password once argocd-server generated it; ``.sandbox/env`` and ``status`` describe them; a third cluster
past the limit is refused; deleting a cluster stops its processes; ``keiko-sandbox down`` stops the rest.
"""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import subprocess
import sys
import urllib.request

import ovh
import pytest

from sandboxctl import read_env

from localargo import install, run
from localkube.kubeapi import KubeClient


# long enough that the Argo CD data dir is too deep for gpg-agent's sockets (localargo moves them)
STAGING = "keikolatam-staging-environment"


def wait_for(what, fn, timeout=120.0, interval=0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def _alive(entry: dict) -> bool:
    try:
        stat = Path(f"/proc/{entry['pid']}/stat").read_text()
    except FileNotFoundError:
        return False
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0] not in ("Z", "X") and int(fields[19]) == entry["start"]


def ctl(d: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "sandboxctl", *args, "--dir", str(d)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


class Clusters:
    def __init__(self, d: Path):
        self.dir = d
        self.env = read_env(d / "env")
        self.root = Path(self.env["KEIKO_SANDBOX_CLUSTERS_DIR"])
        self.client = ovh.Client(endpoint="ovh-eu", application_key=self.env["OVH_APPLICATION_KEY"],
                                 application_secret=self.env["OVH_APPLICATION_SECRET"],
                                 consumer_key=self.env["OVH_CONSUMER_KEY"])
        self.client._endpoint = self.env["OVH_ENDPOINT"]  # python-ovh takes endpoint names only
        self.base = f"/cloud/project/{self.env['OVH_CLOUD_PROJECT_SERVICE']}/kube"
        self.created: dict[str, dict] = {}

    def admin(self, name: str):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{self.env['OVH_EMULATOR_ADMIN_URL']}/{name}", timeout=30) as resp:
            return json.loads(resp.read())

    def create(self, name: str, nodes: int = 1) -> dict:
        kube = self.client.post(self.base, name=name, region="GRA7",
                                nodepool={"name": "apps", "flavorName": "b2-7", "desiredNodes": nodes})
        self.created[name] = kube
        return kube

    def get(self, name: str) -> dict | None:
        kid = self.created[name]["id"]
        return self.client.get(f"{self.base}/{kid}") if kid in self.client.get(self.base) else None

    def kubeconfig(self, name: str, tmp: Path) -> Path:
        path = tmp / f"{name}.kubeconfig"
        path.write_text(self.client.post(f"{self.base}/{self.created[name]['id']}/kubeconfig")["content"])
        return path

    def pids(self, name: str) -> list[dict]:
        """Every process of the cluster's control plane and Argo CD supervisor (pid and start time)."""
        d = self.root / name
        kube = json.loads((d / "kube" / "state.json").read_text())["pids"]
        argo = run.load_config(d / "localargo") or {}
        st = json.loads((d / "localargo" / "status.json").read_text()) if (d / "localargo" / "status.json").exists() else {}
        return [*kube.values(), argo["supervisor"], *[e for e in (st.get("processes") or {}).values() if e.get("pid")]]


@pytest.fixture(scope="module")
def clusters(tmp_path_factory):
    d = tmp_path_factory.mktemp("clusters") / "sandbox"
    ctl(d, "up", "--with-kube", "--with-argocd", "--max-clusters", "2", "--transition-seconds", "0.2")
    pids = []
    try:
        sb = Clusters(d)
        yield sb
        pids = [e for name in sb.created if (sb.root / name).exists() for e in sb.pids(name)]
    finally:
        ctl(d, "down")
    assert pids and [e for e in pids if _alive(e)] == [], "keiko-sandbox down left processes behind"
    assert not d.exists() and not run.socket_dir(d / "clusters" / STAGING / "localargo").exists()


@pytest.fixture(scope="module")
def two(clusters):
    t0 = time.monotonic()
    for name in ("dev", STAGING):
        clusters.create(name, nodes=2 if name == "dev" else 1)
    for name in ("dev", STAGING):
        wait_for(f"{name} READY", lambda n=name: clusters.get(n)["status"] == "READY", timeout=240)
    print(f"two clusters READY {time.monotonic() - t0:.1f}s after their creation: "
          f"{[json.loads((clusters.root / n / 'cluster.json').read_text())['timings'] for n in ('dev', STAGING)]}")
    return clusters


def test_each_cluster_has_its_own_api_server(two, tmp_path):
    dev, staging = two.get("dev"), two.get(STAGING)
    assert dev["url"] != staging["url"]
    configs = {name: two.kubeconfig(name, tmp_path) for name in ("dev", STAGING)}
    with KubeClient(configs["dev"]) as kdev, KubeClient(configs[STAGING]) as kstg:
        assert f"{kdev.host}:{kdev.port}" == dev["url"] and f"{kstg.host}:{kstg.port}" == staging["url"]
        kdev.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "only-dev"}})
        assert kdev.get_or_none("/api/v1/namespaces/only-dev") is not None
        assert kstg.get_or_none("/api/v1/namespaces/only-dev") is None
        # node pools are kwok nodes of their own cluster, named as the OVH nodes
        for k, name, count in ((kdev, "dev", 2), (kstg, STAGING, 1)):
            path = f"{two.base}/{two.created[name]['id']}/node"

            def same(k=k, path=path, count=count):
                kube_names = sorted(n["metadata"]["name"] for n in k.get("/api/v1/nodes")["items"])
                return len(kube_names) == count and kube_names == sorted(n["name"] for n in two.client.get(path))

            wait_for(f"{count} kwok nodes in {name}, named as the OVH nodes", same, timeout=60)
    listed = {c["name"]: c for c in two.admin("clusters")}
    assert {n: c["phase"] for n, c in listed.items()} == {"dev": "ready", STAGING: "ready"}
    assert listed["dev"]["server"] == "https://" + dev["url"]


def test_env_and_status_describe_the_clusters(two):
    before = read_env(two.dir / "env")
    assert before["KEIKO_ARGOCD_URL"] == (two.root / "dev" / "argocd" / "url").read_text().strip()  # reserved ahead
    assert "KUBECONFIG" not in before  # no cluster when up wrote it
    ctl(two.dir, "up", "--with-kube", "--with-argocd", "--max-clusters", "2")  # again: the same emulator
    env = read_env(two.dir / "env")
    assert env["KEIKO_ARGOCD_URL"] == before["KEIKO_ARGOCD_URL"] and env["OVH_ENDPOINT"] == before["OVH_ENDPOINT"]
    assert env["KUBECONFIG"] == str(two.root / "dev" / "kube" / "kubeconfig")  # the first cluster's
    text = (two.dir / "env").read_text()
    for name in ("dev", STAGING):
        assert f"#   cluster {name}: API server https://{two.get(name)['url']}, Argo CD " in text
    status = json.loads(ctl(two.dir, "status"))
    assert [(c["name"], c["status"], c["kube_up"], c["api_server"], c["argocd_url"]) for c in status["clusters"]] == [
        (name, "READY", True, "https://" + two.get(name)["url"], (two.root / name / "argocd" / "url").read_text().strip())
        for name in ("dev", STAGING)]


def test_argocd_url_is_written_before_the_install_and_the_password_after(two):
    urls = {n: (two.root / n / "argocd" / "url").read_text().strip() for n in ("dev", STAGING)}
    assert len(set(urls.values())) == 2 and all(u.startswith("http://127.0.0.1:") for u in urls.values())
    for name in ("dev", STAGING):
        st = run.status(two.root / name / "localargo")
        assert st["api_url"] == urls[name] and st["phase"] == "waiting-for-install"
        assert not any(p["alive"] for p in st["processes"].values())  # idle: the supervisor alone
        assert not (two.root / name / "argocd" / "admin-password").exists()
    kubeconfig = two.root / STAGING / "kube" / "kubeconfig"
    install.apply_install(kubeconfig)
    password_file = two.root / STAGING / "argocd" / "admin-password"
    wait_for("the admin password file", password_file.exists, timeout=240, interval=0.5)
    assert password_file.stat().st_mode & 0o777 == 0o600
    with KubeClient(kubeconfig) as k:
        secret = k.get("/api/v1/namespaces/argocd/secrets/argocd-initial-admin-secret")
    assert password_file.read_bytes() == base64.b64decode(secret["data"]["password"])
    run.wait_ready(two.root / STAGING / "localargo", timeout=240)  # the repo-server's GnuPG keyring works
    assert run.socket_dir(two.root / STAGING / "localargo") != two.root / STAGING / "localargo"
    token = run.api_request(urls[STAGING] + "/api/v1/session", "POST",
                            {"username": "admin", "password": password_file.read_text()})["token"]
    assert run.api_request(urls[STAGING] + "/api/v1/applications", token=token).get("items") in (None, [])
    assert run.status(two.root / "dev" / "localargo")["phase"] == "waiting-for-install"  # the other one still waits


def test_past_the_limit_a_cluster_is_refused(two):
    from ovh.exceptions import APIError

    with pytest.raises(APIError) as err:
        two.create("production")
    assert err.value.response.status_code == 403
    assert "runs at most 2 Kubernetes clusters at once" in str(err.value)
    assert not (two.root / "production").exists()


def test_deleting_a_cluster_stops_its_processes(two):
    pids = two.pids("dev")
    assert len(pids) >= 6 and all(_alive(e) for e in pids)
    kid = two.created["dev"]["id"]
    two.client.delete(f"{two.base}/{kid}")
    assert two.get("dev")["status"] == "DELETING"
    wait_for("dev deleted", lambda: two.get("dev") is None, timeout=120)
    assert [e for e in pids if _alive(e)] == []
    assert not (two.root / "dev").exists()
    assert two.get(STAGING)["status"] == "READY"
    assert run.status(two.root / STAGING / "localargo")["up"] is True
    assert os.path.exists(two.root / STAGING / "kube" / "kubeconfig")
