"""The collection's benchmarks on the sandbox (``make bench``; not part of ``make test``).

Every figure is a ratio against a baseline measured in the same run on the same machine: absolute times on a
shared machine are noise, a ratio is not. Writes ``<out>/bench.json`` and ``<out>/bench.md``.

  1. api       OVH API requests by method: a converge from nothing and a no-op ``site.yml``; the no-op's reads
               against the floor (one list per collection the converge wrote into, one GET per object it wrote).
  2. tasks     per-task overhead: ``ovh_kube_cluster_info`` against an ``ansible.builtin.uri`` GET of the same
               emulator, and a no-op ``site.yml`` against as many ``uri`` tasks as it ran.
  3. bootstrap ``bootstrap.yml`` from nothing (right after ``provision.yml``) against ``kubectl apply --server-side``
               of the Argo CD install manifest into a new namespace and ``kubectl rollout status`` of its workloads;
               a no-op ``bootstrap.yml`` against the same apply again (the objects already there: a no-op apply).
  4. latency   ``deploy.yml`` of a new image, to Synced and Healthy at its commit, against a plain ``git push`` of
               the same change followed by an Argo CD refresh and a poll until Synced and Healthy; and from a failed
               smoke check of a deploy to the release role's revert commit Synced and Healthy, against the same.
  5. growth    the ``gitops_repository`` role (render, kustomize build, compare, commit) with 7, 70 and 700
               services, then again with nothing to change: seconds per service against the 7-service run.
     releases  on a second sandbox with dev and staging (``inventories/sandbox-envs --limit dev,staging``), the same
               sizes in turn (bootstrap renders them; each service one pod): ``deploy.yml`` of one service to dev
               against a plain push + refresh + poll of one image; a push of a new image for every service to dev
               (the baseline: push + refresh + poll of N images), then ``promote.yml`` dev -> staging of all N
               against it, with seconds per promoted service against the smallest size, the promotion's own push
               to staging Synced and Healthy, and the OVH and Argo CD requests (each Argo CD's gRPC calls, from its
               API server's metrics) per service.
  6. memory    peak resident memory of the largest process of each playbook run, and of the sandbox's processes.

Usage: python benchmarks/bench.py [--out DIR] [--sizes 7,70,700] [--only api,tasks,...] [--keep]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from localargo import run as localargo_run
from sandboxctl import read_env

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)
SECTIONS = ("api", "tasks", "bootstrap", "latency", "growth", "releases", "memory")


def recap(out: str) -> dict:
    """The play recap summed over hosts: ok, changed, failed, skipped."""
    total = collections.Counter()
    for _host, ok, changed, _unreach, failed, skipped in RECAP.findall(out):
        total.update(ok=int(ok), changed=int(changed), failed=int(failed), skipped=int(skipped))
    return dict(total)


def timed(cmd: list[str], env: dict, cwd: Path = ROOT, timeout: float = 1800) -> dict:
    """Run ``cmd`` in a child Python that reports its children's peak RSS: wall seconds, rc, output, peak KiB."""
    probe = ("import resource, subprocess, sys, json, time; t = time.monotonic(); "
             "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(json.dumps({'rc': p.returncode, 'seconds': time.monotonic() - t, 'out': p.stdout, "
             "'err': p.stderr, 'peak_kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))")
    proc = subprocess.run([sys.executable, "-c", probe, *cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=True)
    return json.loads(proc.stdout)


def must(run: dict, what: str) -> dict:
    if run["rc"] != 0:
        raise SystemExit(f"bench: {what} failed (rc {run['rc']}):\n{run['out'][-5000:]}\n{run['err'][-2000:]}")
    return run


def ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else float("inf")


class Sandbox:
    """One sandbox (OVH emulator, a local control plane per cluster, the git server, the real Argo CD)."""

    def __init__(self, root: Path):
        self.root = root
        self.dir = root / "sandbox"
        self.env: dict[str, str] = {}

    def up(self) -> None:
        proc = subprocess.run([str(BIN / "keiko-sandbox"), "up", "--dir", str(self.dir), "--with-kube", "--with-argocd",
                               "--transition-seconds", "0.3"], capture_output=True, text=True, timeout=900, check=False)
        if proc.returncode != 0:
            raise SystemExit("bench: keiko-sandbox up failed:\n" + proc.stdout + proc.stderr)
        self.env = dict(os.environ, **read_env(self.dir / "env"), KEIKO_SECRETS_DIR=str(self.root / "secrets"),
                        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), NO_COLOR="1", ANSIBLE_NOCOLOR="1",
                        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        self.env.setdefault("KEIKO_UPSTREAM_MIRROR", str(ROOT.parent / "shared" / "upstream"))

    def down(self) -> None:
        if self.dir.exists():
            subprocess.run([str(BIN / "keiko-sandbox"), "down", "--dir", str(self.dir)], capture_output=True,
                           text=True, timeout=300, check=False)

    def playbook(self, playbook: str, *args: str, inventory: str = "inventories/sandbox") -> dict:
        return timed([str(BIN / "ansible-playbook"), "-i", inventory, playbook, *args], self.env)

    # -- the emulator's request log ---------------------------------------------------------------
    def _admin(self, name: str, query: str = ""):
        url = self.env["OVH_ENDPOINT"].rstrip("/")
        url = url[: -len("/1.0")] if url.endswith("/1.0") else url
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{url}/_emulator/{name}" + (f"?{query}" if query else ""), timeout=30) as resp:
            return json.loads(resp.read())

    def requests(self, since: int) -> list[dict]:
        return list(self._admin("requests", f"since={since}&kind=api"))

    def last_seq(self) -> int:
        entries = self._admin("requests", "since=0")
        return max((e["seq"] for e in entries), default=0)

    # -- Argo CD ----------------------------------------------------------------------------------
    def argocd(self, path: str, method: str = "GET", body: dict | None = None) -> dict:
        url = self.env["KEIKO_ARGOCD_URL"]
        if not getattr(self, "_token", None):
            self._token = localargo_run.api_request(url + "/api/v1/session", "POST",
                                                    {"username": "admin", "password": self.admin_password()})["token"]
        return localargo_run.api_request(url + path, method, body, self._token)

    def authenticated_url(self) -> str:
        """The GitOps remote's URL with its credentials (for git on the command line)."""
        credentials = "%s:%s@" % (self.env["KEIKO_GITOPS_USERNAME"], self.env["KEIKO_GITOPS_PASSWORD"])
        return self.env["KEIKO_GITOPS_URL"].replace("://", "://" + credentials, 1)

    @property
    def kubeconfig(self) -> str:
        return str(self.root / "secrets" / "kubeconfig")

    def admin_password(self) -> str:
        import base64  # pylint: disable=import-outside-toplevel
        proc = subprocess.run([KUBECTL, f"--kubeconfig={self.kubeconfig}", "-n", "argocd", "get", "secret",
                               "argocd-initial-admin-secret", "-o", "jsonpath={.data.password}"],
                              capture_output=True, text=True, timeout=60, check=True)
        return base64.b64decode(proc.stdout).decode()

    def processes(self) -> list[dict]:
        """The sandbox's processes (their command line names its directory): name, RSS and peak RSS in KiB."""
        out = []
        marker = str(self.dir)
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            try:
                cwd = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                cwd = ""
            if marker not in cmd and not cwd.startswith(marker):
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            rss = int(fields.get("VmRSS", "0 kB").split()[0])
            hwm = int(fields.get("VmHWM", "0 kB").split()[0])
            out.append({"pid": int(pid), "name": Path(cmd.split(" ", 1)[0]).name, "rss_kib": rss, "peak_kib": hwm})
        return out


def by_method(entries: list[dict]) -> dict:
    return dict(sorted(collections.Counter(e["method"] for e in entries).items()))


def floor_of(converge: list[dict]) -> dict:
    """The reads a no-op cannot avoid: one GET per object the converge wrote, one list per collection it wrote into.

    An object is a POST that created something (2xx), or the path of a PUT/DELETE-free object update (a PUT path);
    a collection is the API operation a POST went to.
    """
    ok = [e for e in converge if e["method"] != "GET" and 200 <= int(e.get("status", 0)) < 300]
    posts = [e for e in ok if e["method"] == "POST"]
    put_paths = {e["path"] for e in ok if e["method"] == "PUT"}
    collections_written = {e.get("operation", e["path"]) for e in posts}
    # A PUT on an object the converge also created is the same object: count the POSTs and the PUT-only paths.
    created_paths = {e["path"] for e in posts}
    objects = len(posts) + len({p for p in put_paths if not any(p.startswith(c + "/") for c in created_paths)})
    return {"objects": objects, "lists": len(collections_written), "reads": objects + len(collections_written)}


def repeated_gets(entries: list[dict]) -> list[tuple[str, int]]:
    counts = collections.Counter(e["path"] for e in entries if e["method"] == "GET")
    return sorted(((p, n) for p, n in counts.items() if n > 1), key=lambda item: -item[1])


# -- the sections -------------------------------------------------------------------------------------------------
def bench_api_tasks_bootstrap(sb: Sandbox, results: dict, only: set[str]) -> None:
    since = sb.last_seq()
    # site.yml from nothing, as its two playbooks (site.yml imports them), to time the bootstrap from nothing alone.
    provision = must(sb.playbook("playbooks/provision.yml"), "provision.yml from nothing")
    bootstrap = must(sb.playbook("playbooks/bootstrap.yml"), "bootstrap.yml from nothing")
    converge = {"seconds": provision["seconds"] + bootstrap["seconds"],
                "peak_kib": max(provision["peak_kib"], bootstrap["peak_kib"])}
    converge_requests = sb.requests(since)
    since = sb.last_seq()
    noop = must(sb.playbook("site.yml"), "the no-op site.yml")
    noop_requests = sb.requests(since)
    noop_recap = recap(noop["out"])
    results["memory"] = {"site.yml from nothing": converge["peak_kib"], "site.yml no-op": noop["peak_kib"]}
    if "api" in only:
        floor = floor_of(converge_requests)
        gets = sum(1 for e in noop_requests if e["method"] == "GET")
        results["api"] = {
            "converge": by_method(converge_requests), "noop": by_method(noop_requests),
            "noop_writes": sum(1 for e in noop_requests if e["method"] != "GET"),
            "floor": floor, "noop_reads_over_floor": ratio(gets, floor["reads"]),
            "noop_repeated_gets": repeated_gets(noop_requests)[:10],
            "noop_changed": noop_recap.get("changed"),
        }
    if "tasks" in only:
        results["tasks"] = bench_tasks(sb, noop, noop_recap)
    if "bootstrap" in only:
        results["bootstrap"] = bench_bootstrap(sb, bootstrap)


def _play(tmp: Path, name: str, tasks: list[dict]) -> Path:
    import yaml  # pylint: disable=import-outside-toplevel
    book = tmp / f"{name}.yml"
    book.write_text(yaml.safe_dump([{"name": name, "hosts": "localhost", "gather_facts": False,
                                     "connection": "local", "tasks": tasks}], sort_keys=False))
    return book


def bench_tasks(sb: Sandbox, noop: dict, noop_recap: dict, n: int = 30) -> dict:
    tmp = sb.root / "plays"
    tmp.mkdir(exist_ok=True)
    time_url = sb.env["OVH_ENDPOINT"].rstrip("/") + "/auth/time"
    cluster = "keikolatam-sandbox"
    info = [{"name": f"info {i}", "keikolatam.gitops.ovh_kube_cluster_info": {"name": cluster}} for i in range(n)]
    uri = [{"name": f"uri {i}", "ansible.builtin.uri": {"url": time_url, "return_content": True}} for i in range(n)]
    local = ["-i", "localhost,", "-e", "ansible_python_interpreter=" + sys.executable]
    t_info = must(timed([str(BIN / "ansible-playbook"), *local, str(_play(tmp, "info", info))], sb.env), "info tasks")
    t_uri = must(timed([str(BIN / "ansible-playbook"), *local, str(_play(tmp, "uri", uri))], sb.env), "uri tasks")
    ran = noop_recap.get("ok", 0) + noop_recap.get("changed", 0)
    same = [{"name": f"uri {i}", "ansible.builtin.uri": {"url": time_url}} for i in range(ran)]
    t_same = must(timed([str(BIN / "ansible-playbook"), *local, str(_play(tmp, "uri-noop", same))], sb.env),
                  "uri tasks as many as the no-op")
    return {"tasks": n, "info_seconds": round(t_info["seconds"], 2), "uri_seconds": round(t_uri["seconds"], 2),
            "info_over_uri": ratio(t_info["seconds"], t_uri["seconds"]),
            "noop_tasks_ran": ran, "noop_seconds": round(noop["seconds"], 2),
            "uri_same_count_seconds": round(t_same["seconds"], 2),
            "noop_over_uri_same_count": ratio(noop["seconds"], t_same["seconds"])}


def bench_bootstrap(sb: Sandbox, from_nothing: dict) -> dict:
    from localargo import build  # pylint: disable=import-outside-toplevel
    boot = must(sb.playbook("playbooks/bootstrap.yml"), "the no-op bootstrap.yml")
    manifest = build.install_manifest()
    kubectl = [KUBECTL, f"--kubeconfig={sb.kubeconfig}"]
    # The baseline from nothing: the same objects into a namespace of their own (the cluster-wide ones, its CRDs and
    # RBAC, are there already), then until each workload has rolled out, as the role waits.
    fresh = "argocd-bench"

    def kube(*args: str) -> str:
        proc = subprocess.run([*kubectl, *args], capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"bench: kubectl {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
        return proc.stdout

    kube("create", "namespace", fresh)
    started = time.monotonic()
    kube("apply", "--server-side", "--force-conflicts", "--field-manager=bench", "-n", fresh, "-f", str(manifest))
    for name in kube("-n", fresh, "get", "deployment,statefulset", "-o", "name").split():
        kube("-n", fresh, "rollout", "status", "--timeout=300s", name)
    fresh_seconds = time.monotonic() - started
    kube("delete", "namespace", fresh, "--wait=false")
    apply = timed([*kubectl, "apply", "--server-side", "--force-conflicts", "--field-manager=bench", "-n", "argocd",
                   "-f", str(manifest)], sb.env)
    must(apply, "kubectl apply --server-side of the install manifest")
    return {"bootstrap_seconds": round(from_nothing["seconds"], 2),
            "kubectl_apply_rollout_seconds": round(fresh_seconds, 2),
            "bootstrap_over_kubectl_apply_rollout": ratio(from_nothing["seconds"], fresh_seconds),
            "noop_bootstrap_seconds": round(boot["seconds"], 2), "noop_changed": recap(boot["out"]).get("changed"),
            "kubectl_apply_seconds": round(apply["seconds"], 2),
            "noop_bootstrap_over_kubectl_apply": ratio(boot["seconds"], apply["seconds"]),
            "peak_kib": boot["peak_kib"]}


def _ready_at(app: dict, revision: str) -> bool:
    """The Application is Synced and Healthy, compared with ``revision``."""
    status = app.get("status", {})
    return (status.get("sync", {}).get("status") == "Synced" and status.get("sync", {}).get("revision") == revision
            and status.get("health", {}).get("status") == "Healthy")


def _wait_app(sb: Sandbox, name: str, revision: str, timeout: float = 300) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if _ready_at(sb.argocd(f"/api/v1/applications/{name}"), revision):
            return time.monotonic() - start
        time.sleep(0.25)
    raise SystemExit(f"bench: {name} not Synced and Healthy at {revision} after {timeout}s")


def bench_latency(sb: Sandbox) -> dict:
    """deploy.yml against a plain push + refresh + poll of the same kind of change (a new image tag)."""
    items = sb.argocd("/api/v1/applications?selector=keikolatam.io/service").get("items") or []
    # Each service's Application (as the renderer labels them): identity's for deploy and rollback, learning's for the
    # baseline.
    apps = {a["metadata"]["labels"]["keikolatam.io/service"]: a["metadata"]["name"] for a in items}
    if not {"identity", "learning"} <= set(apps):
        raise SystemExit("bench: no Applications of the services identity and learning: " + ", ".join(sorted(apps)))
    target, baseline = apps["identity"], apps["learning"]
    run = must(sb.playbook("playbooks/deploy.yml", "-e", "env=sandbox", "-e", "service=identity",
                           "-e", "image=0.2.0-bench"), "deploy.yml")
    # The baseline: the same change (another tag of another service) by hand.
    work = sb.root / "work"
    git_env = dict(sb.env, GIT_TERMINAL_PROMPT="0")
    subprocess.run(["git", "clone", "-q", sb.authenticated_url(), str(work)], env=git_env, check=True, timeout=120)
    import yaml  # pylint: disable=import-outside-toplevel
    overlay = next(work.glob("k8s/overlays/*/learning/kustomization.yaml"), None)
    data = yaml.safe_load(overlay.read_text()) if overlay else {}
    entry = next((i for i in data.get("images", []) if i.get("name") == "keiko/learning"), None)
    if entry is None:
        return {"deploy_seconds": round(run["seconds"], 2), "baseline": "no learning image entry in " + str(overlay)}
    entry["newTag"] = "0.2.0-bench"
    changed = yaml.safe_dump(data, sort_keys=False)
    overlay.write_text(changed)
    for args in (["add", "-A"], ["-c", "user.name=bench", "-c", "user.email=bench@keikolatam.invalid", "commit", "-q",
                                 "-m", "bench: learning 0.2.0-bench"]):
        subprocess.run(["git", *args], cwd=work, env=git_env, check=True, timeout=60)
    start = time.monotonic()
    subprocess.run(["git", "push", "-q", "origin", "HEAD"], cwd=work, env=git_env, check=True, timeout=120)
    revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True, check=True
                              ).stdout.strip()
    sb.argocd(f"/api/v1/applications/{baseline}?refresh=normal")
    _wait_app(sb, baseline, revision)
    base = time.monotonic() - start
    rollback = bench_rollback(sb, target)
    return {"deploy_seconds": round(run["seconds"], 2), "push_refresh_poll_seconds": round(base, 2),
            "deploy_over_push_refresh_poll": ratio(run["seconds"], base), "application": target,
            "rollback_seconds": rollback, "rollback_over_push_refresh_poll": ratio(rollback, base),
            "peak_kib": run["peak_kib"]}


def bench_rollback(sb: Sandbox, target: str) -> float:
    """From a failed health check to the rollback commit live: ``deploy.yml`` of an image whose smoke check fails (a
    loopback server answers 500), which the release role reverts; the time from the last failing answer to the
    Application Synced and Healthy at the revert commit (sampled every 0.25 s while the playbook runs)."""
    import threading  # pylint: disable=import-outside-toplevel
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # pylint: disable=import-outside-toplevel
    failed_at: list[float] = []

    class Failing(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the http.server API)
            failed_at.append(time.monotonic())
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    samples: list[tuple[float, str, bool]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            status = sb.argocd(f"/api/v1/applications/{target}").get("status", {})
            samples.append((time.monotonic(), status.get("sync", {}).get("revision", ""),
                            status.get("sync", {}).get("status") == "Synced"
                            and status.get("health", {}).get("status") == "Healthy"))
            time.sleep(0.25)

    poller = threading.Thread(target=sample, daemon=True)
    poller.start()
    checks = {"keiko_promotion": {"require_approval": False, "smoke_checks": [
        {"name": "identity", "status": 200, "url": f"http://127.0.0.1:{httpd.server_address[1]}/identity/healthz"}]}}
    try:
        run = sb.playbook("playbooks/deploy.yml", "-e", "env=sandbox", "-e", "service=identity",
                          "-e", "image=0.2.1-bench", "-e", json.dumps(checks))
        if run["rc"] == 0 or not failed_at:
            raise SystemExit("bench: deploy.yml with a failing smoke check did not fail on it:\n" + run["out"][-3000:])
        revert = subprocess.run(["git", "ls-remote", sb.authenticated_url(), "refs/heads/main"], capture_output=True,
                                text=True, timeout=60, check=True, env=dict(sb.env, GIT_TERMINAL_PROMPT="0")
                                ).stdout.split()[0]
        _wait_app(sb, target, revert)
    finally:
        done.set()
        poller.join(timeout=30)
        httpd.shutdown()
        httpd.server_close()
    live = next((t for t, revision, ok in samples if revision == revert and ok), time.monotonic())
    return round(live - failed_at[-1], 2)


def bench_growth(root: Path, sizes: list[int]) -> dict:
    """The gitops_repository role with N services into a file:// remote, then the same again (nothing to change)."""
    import yaml  # pylint: disable=import-outside-toplevel
    from localargo import build  # pylint: disable=import-outside-toplevel
    kustomize = str(build.bin_dir() / "kustomize")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), NO_COLOR="1", ANSIBLE_NOCOLOR="1",
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", GIT_CONFIG_NOSYSTEM="1")
    out = {}
    for n in sizes:
        remote = root / f"growth-{n}.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True, timeout=60)
        services = [{"name": f"svc{i:04d}"} for i in range(n - 1)] + ["gateway"]
        book = root / f"growth-{n}.yml"
        book.write_text(yaml.safe_dump([{
            "name": f"render {n} services", "hosts": "localhost", "gather_facts": False, "connection": "local",
            "roles": [{"role": "keikolatam.gitops.gitops_repository", "vars": {
                "gitops_repository_environment": "bench", "gitops_repository_url": remote.as_uri(),
                "gitops_repository_branch": "main", "gitops_repository_services": services,
                "gitops_repository_image_registry": "registry.bench.invalid", "gitops_repository_kustomize": kustomize,
                "gitops_repository_dry_run": False}}]}], sort_keys=False))
        cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-e", "ansible_python_interpreter=" + sys.executable,
               str(book)]
        first = must(timed(cmd, env), f"render {n}")
        again = must(timed(cmd, env), f"render {n} again")
        out[n] = {"seconds": round(first["seconds"], 2), "again_seconds": round(again["seconds"], 2),
                  "again_changed": recap(again["out"]).get("changed"), "peak_kib": first["peak_kib"],
                  "per_service": round(first["seconds"] / n, 3), "again_per_service": round(again["seconds"] / n, 3)}
    base = out[sizes[0]]
    for n in sizes:
        out[n]["per_service_over_smallest"] = ratio(out[n]["per_service"], base["per_service"])
        out[n]["again_per_service_over_smallest"] = ratio(out[n]["again_per_service"], base["again_per_service"])
    return {str(k): v for k, v in out.items()}


# -- releases at 7, 70 and 700 services on dev and staging --------------------------------------------------------
ENVS_INVENTORY = "inventories/sandbox-envs"


def services_of(n: int) -> list[dict]:
    """N services (the last the API gateway), one pod each with a request the sandbox's nodes hold 700 of."""
    small = {"requests": {"cpu": "1m", "memory": "1Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}
    return [{"name": f"svc{i:04d}", "resources": small} for i in range(n - 1)] + [{"name": "gateway", "resources": small}]


def grpc_calls(metrics: str) -> int:
    """The gRPC calls an Argo CD API server handled (its REST API is a gateway to them): grpc_server_handled_total,
    without the health checks."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("grpc_server_handled_total{") and 'grpc_service="grpc.health.v1.Health"' not in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def per_size_ratios(out: dict, key: str) -> None:
    """``<key>_over_smallest`` for every size: the figure at that size against the smallest size's."""
    sizes = sorted(out)
    for n in sizes:
        out[n][f"{key}_over_smallest"] = ratio(out[n][key], out[sizes[0]][key])


class Envs(Sandbox):
    """A sandbox for inventories/sandbox-envs (dev and staging here): a control plane and an Argo CD per cluster."""

    ENVS = ("dev", "staging")

    def playbook(self, playbook: str, *args: str, inventory: str = ENVS_INVENTORY) -> dict:
        return timed([str(BIN / "ansible-playbook"), "-i", inventory, playbook, "--limit", ",".join(self.ENVS), *args],
                     self.env)

    def argocd_dir(self, name: str) -> Path:
        return Path(self.env["KEIKO_SANDBOX_CLUSTERS_DIR"]) / f"keikolatam-{name}" / "argocd"

    def env_argocd(self, name: str, path: str, method: str = "GET", body: dict | None = None) -> dict:
        url = (self.argocd_dir(name) / "url").read_text().strip()
        tokens = self.__dict__.setdefault("_tokens", {})
        if name not in tokens:
            password = (self.argocd_dir(name) / "admin-password").read_text().strip()
            tokens[name] = localargo_run.api_request(url + "/api/v1/session", "POST",
                                                     {"username": "admin", "password": password})["token"]
        return localargo_run.api_request(url + path, method, body, tokens[name])

    def argocd_calls(self) -> int:
        """gRPC calls handled so far by the environments' Argo CD API servers, summed."""
        total = 0
        for name in self.ENVS:
            cfg = localargo_run.load_config(self.argocd_dir(name).parent / "localargo")  # the sandbox's layout
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(f"http://127.0.0.1:{cfg['ports']['server-metrics']}/metrics", timeout=30) as resp:
                total += grpc_calls(resp.read().decode())
        return total

    def wait_apps(self, name: str, services: list[str], revision: str, timeout: float = 900) -> float:
        """Poll (one list call per round) until the Applications of ``services`` are Synced and Healthy at
        ``revision``."""
        start = time.monotonic()
        wanted = {f"keiko-{name}-svc-{service}" for service in services}
        pending = wanted
        while time.monotonic() - start < timeout:
            listed = self.env_argocd(name, f"/api/v1/applications?selector=keikolatam.io/environment%3D{name}")
            pending = wanted - {app["metadata"]["name"] for app in listed.get("items") or [] if _ready_at(app, revision)}
            if not pending:
                return time.monotonic() - start
            time.sleep(0.25)
        raise SystemExit(f"bench: {len(pending)} Applications of {name} (first {sorted(pending)[0]}) not Synced and "
                         f"Healthy at {revision} after {timeout}s")

    def push_images(self, name: str, tags: dict[str, str]) -> float:
        """The baseline: a plain commit of new tags in the environment's overlay, push, refresh, poll until Synced and
        Healthy at it (seconds from the push)."""
        import yaml  # pylint: disable=import-outside-toplevel
        work = self.root / "work"
        git_env = dict(self.env, GIT_TERMINAL_PROMPT="0")
        if not work.exists():
            subprocess.run(["git", "clone", "-q", self.authenticated_url(), str(work)], env=git_env, check=True,
                           timeout=120)
        subprocess.run(["git", "pull", "-q", "--rebase"], cwd=work, env=git_env, check=True, timeout=120)
        for service, tag in tags.items():
            overlay = work / "k8s" / "overlays" / name / service / "kustomization.yaml"
            data = yaml.safe_load(overlay.read_text())
            for entry in data.get("images", []):
                if entry.get("name") == "keiko/" + service:
                    entry.pop("digest", None)
                    entry["newTag"] = tag
            overlay.write_text(yaml.safe_dump(data, sort_keys=False))
        for args in (["add", "-A"], ["-c", "user.name=bench", "-c", "user.email=bench@keikolatam.invalid", "commit",
                                     "-q", "-m", f"bench: {len(tags)} images in {name}"]):
            subprocess.run(["git", *args], cwd=work, env=git_env, check=True, timeout=60)
        start = time.monotonic()
        subprocess.run(["git", "push", "-q", "origin", "HEAD:main"], cwd=work, env=git_env, check=True, timeout=120)
        revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True, check=True,
                                  timeout=60).stdout.strip()
        for service in tags:
            self.env_argocd(name, f"/api/v1/applications/keiko-{name}-svc-{service}?refresh=normal")
        self.wait_apps(name, list(tags), revision, timeout=900)
        return time.monotonic() - start


def bench_releases(root: Path, sizes: list[int]) -> dict:
    """deploy.yml and promote.yml in environments of 7, 70 and 700 services (see the module's docstring)."""
    sb = Envs(root)
    out: dict[int, dict] = {}
    try:
        sb.up()
        # Nodes for the largest size (the sandbox's nodes hold 110 pods each), in one pool.
        pools = [{"name": "applications", "flavor": "b2-7", "desired_nodes": max(sizes) // 100 + 2,
                  "min_nodes": 1, "max_nodes": max(sizes) // 100 + 4, "autoscale": False}]
        must(sb.playbook("playbooks/provision.yml", "-e", json.dumps({"keiko_node_pools": pools})), "provision dev, staging")
        for n in sizes:
            try:
                out[n] = _releases_at(sb, n)
            except SystemExit as exc:  # keep the sizes measured so far, and say why this one has no figures
                out[n] = {"failed": str(exc)[-3000:]}
                break
        measured = {n: row for n, row in out.items() if "failed" not in row}
        if measured:
            per_size_ratios(measured, "deploy_seconds")
            per_size_ratios(measured, "promote_per_service")
    finally:
        sb.down()
    return {str(k): v for k, v in out.items()}


def _releases_at(sb: Envs, n: int) -> dict:
    """One size of bench_releases: bootstrap with N services, then deploy.yml and promote.yml against their pushes."""
    services = json.dumps({"keiko_services": services_of(n)})
    boot = must(sb.playbook("playbooks/bootstrap.yml", "-e", services), f"bootstrap with {n} services")
    row: dict = {"bootstrap_seconds": round(boot["seconds"], 2)}
    # deploy.yml of one service, against a plain push of one image.
    seq, calls = sb.last_seq(), sb.argocd_calls()
    deploy = must(sb.playbook("playbooks/deploy.yml", "-e", services, "-e", "env=dev", "-e", "service=gateway",
                              "-e", f"image=1.{n}.0"), f"deploy.yml with {n} services")
    row.update(deploy_seconds=round(deploy["seconds"], 2), deploy_ovh_requests=len(sb.requests(seq)),
               deploy_argocd_calls=sb.argocd_calls() - calls)
    row["push_one_seconds"] = round(sb.push_images("dev", {"svc0000": f"1.{n}.1"}), 2)
    row["deploy_over_push_one"] = ratio(row["deploy_seconds"], row["push_one_seconds"])
    # A new image for every service in dev by a plain push: the baseline of the promotion of all of them.
    names = [s["name"] for s in services_of(n)]
    row["push_all_seconds"] = round(sb.push_images("dev", {name: f"2.{n}.0" for name in names}), 2)
    seq, calls = sb.last_seq(), sb.argocd_calls()
    promote = must(sb.playbook("playbooks/promote.yml", "-e", services, "-e", "from=dev", "-e", "to=staging"),
                   f"promote.yml with {n} services")
    match = re.search(r"push to Synced and Healthy took ([0-9.]+) s", promote["out"])
    row.update(promote_seconds=round(promote["seconds"], 2), promote_ovh_requests=len(sb.requests(seq)),
               promote_argocd_calls=sb.argocd_calls() - calls,
               promote_push_to_synced_seconds=float(match.group(1)) if match else None,
               promote_peak_kib=promote["peak_kib"])
    row["promote_over_push_all"] = ratio(row["promote_seconds"], row["push_all_seconds"])
    row["promote_per_service"] = round(row["promote_seconds"] / n, 3)
    row["promote_argocd_calls_per_service"] = round(row["promote_argocd_calls"] / n, 3)
    row["promote_ovh_requests_per_service"] = round(row["promote_ovh_requests"] / n, 3)
    if row["promote_push_to_synced_seconds"] is not None:
        row["promote_push_to_synced_over_push_all"] = ratio(row["promote_push_to_synced_seconds"],
                                                            row["push_all_seconds"])
    return row


# -- the report ---------------------------------------------------------------------------------------------------
def markdown(results: dict) -> str:
    lines = [f"Machine: {results['machine']}; {results['date']}.", "", "| figure | value | baseline | ratio |",
             "| --- | --- | --- | --- |"]
    api = results.get("api")
    if api:
        lines.append(f"| no-op site.yml: OVH reads / floor | {sum(v for k, v in api['noop'].items() if k == 'GET')} GET, "
                     f"{api['noop_writes']} writes | floor {api['floor']['reads']} ({api['floor']['objects']} objects, "
                     f"{api['floor']['lists']} lists) | {api['noop_reads_over_floor']} |")
        lines.append(f"| converge from nothing: OVH requests | {api['converge']} | | |")
    tasks = results.get("tasks")
    if tasks:
        lines.append(f"| {tasks['tasks']} x ovh_kube_cluster_info | {tasks['info_seconds']} s | {tasks['tasks']} x uri "
                     f"{tasks['uri_seconds']} s | {tasks['info_over_uri']} |")
        lines.append(f"| no-op site.yml ({tasks['noop_tasks_ran']} tasks ran) | {tasks['noop_seconds']} s | as many uri "
                     f"tasks {tasks['uri_same_count_seconds']} s | {tasks['noop_over_uri_same_count']} |")
    boot = results.get("bootstrap")
    if boot:
        lines.append(f"| bootstrap.yml from nothing | {boot['bootstrap_seconds']} s | kubectl apply --server-side + "
                     f"rollout status {boot['kubectl_apply_rollout_seconds']} s | "
                     f"{boot['bootstrap_over_kubectl_apply_rollout']} |")
        lines.append(f"| no-op bootstrap.yml | {boot['noop_bootstrap_seconds']} s | kubectl apply --server-side "
                     f"{boot['kubectl_apply_seconds']} s | {boot['noop_bootstrap_over_kubectl_apply']} |")
    lat = results.get("latency")
    if lat and "push_refresh_poll_seconds" in lat:
        lines.append(f"| deploy.yml to Synced and Healthy | {lat['deploy_seconds']} s | git push + refresh + poll "
                     f"{lat['push_refresh_poll_seconds']} s | {lat['deploy_over_push_refresh_poll']} |")
        if "rollback_seconds" in lat:
            lines.append(f"| failed smoke check to its revert Synced and Healthy | {lat['rollback_seconds']} s | git push "
                         f"+ refresh + poll {lat['push_refresh_poll_seconds']} s | {lat['rollback_over_push_refresh_poll']} |")
    growth = results.get("growth")
    if growth:
        for n, g in growth.items():
            lines.append(f"| render {n} services: s/service (again) | {g['per_service']} ({g['again_per_service']}) | "
                         f"the smallest size | {g['per_service_over_smallest']} ({g['again_per_service_over_smallest']}) |")
    releases = results.get("releases")
    if releases:
        for n, r in releases.items():
            if "failed" in r:
                reason = r["failed"].strip().splitlines()[0] if r["failed"].strip() else "?"
                lines.append(f"| releases with {n} services | failed: {reason} | | |")
                continue
            lines.append(f"| deploy.yml of 1 service in {n} (OVH, Argo CD requests) | {r['deploy_seconds']} s "
                         f"({r['deploy_ovh_requests']}, {r['deploy_argocd_calls']}) | git push + refresh + poll "
                         f"{r['push_one_seconds']} s | {r['deploy_over_push_one']} (size: {r['deploy_seconds_over_smallest']}) |")
            lines.append(f"| promote.yml of {n} services: s/service (OVH, Argo CD requests/service) | "
                         f"{r['promote_seconds']} s: {r['promote_per_service']} ({r['promote_ovh_requests_per_service']}, "
                         f"{r['promote_argocd_calls_per_service']}) | push of {n} images + refresh + poll "
                         f"{r['push_all_seconds']} s | {r['promote_over_push_all']} "
                         f"(per service: {r['promote_per_service_over_smallest']}) |")
            if r.get("promote_push_to_synced_seconds") is not None:
                lines.append(f"| promotion of {n}: its push to staging Synced and Healthy | "
                             f"{r['promote_push_to_synced_seconds']} s | push of {n} images + refresh + poll "
                             f"{r['push_all_seconds']} s | {r['promote_push_to_synced_over_push_all']} |")
    if results.get("failed"):
        lines.append(f"| (the run stopped) | failed: {results['failed'].strip().splitlines()[0]} | | |")
    mem = results.get("memory")
    if mem:
        for what, kib in mem.items():
            lines.append(f"| peak RSS: {what} | {round(kib / 1024)} MiB | | |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--sizes", default="7,70,700")
    ap.add_argument("--only", default=",".join(SECTIONS))
    ap.add_argument("--keep", action="store_true", help="leave the sandbox running (its directory is printed)")
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    unknown = only - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {"machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()} Python "
                          f"{platform.python_version()}", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    root = Path(tempfile.mkdtemp(prefix="keiko-bench-"))
    sb = Sandbox(root)
    rc = 0
    try:
        if only & {"api", "tasks", "bootstrap", "latency", "memory"}:
            sb.up()
            bench_api_tasks_bootstrap(sb, results, only)
            if "latency" in only:
                results["latency"] = bench_latency(sb)
            if "memory" in only:
                results.setdefault("memory", {})
                procs = sb.processes()
                results["memory"]["sandbox processes (sum of peaks)"] = sum(p["peak_kib"] for p in procs)
                results["sandbox_processes"] = sorted(procs, key=lambda p: -p["peak_kib"])[:12]
        if "growth" in only:
            results["growth"] = bench_growth(root, sizes)
        if "releases" in only:
            if not args.keep:
                sb.down()  # one sandbox at a time on the machine
            results["releases"] = bench_releases(root / "releases", sizes)
    except SystemExit as exc:  # a section failed: the report still gives what was measured before it
        results["failed"] = str(exc)[-3000:]
        print(results["failed"], file=sys.stderr)
        rc = 1
    finally:
        if not args.keep:
            sb.down()
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"sandbox kept in {sb.dir}", file=sys.stderr)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    (out / "bench.md").write_text(markdown(results))
    print(markdown(results))
    return rc


if __name__ == "__main__":
    sys.exit(main())
