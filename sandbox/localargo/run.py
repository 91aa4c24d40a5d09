"""Run the real Argo CD components as processes on loopback against a local control plane.

``up`` starts a supervisor process (``python -m localargo supervise``) that

1. waits until the Argo CD install manifest's objects are in the cluster (namespace, ConfigMaps
   ``argocd-cm``/``argocd-rbac-cm``/``argocd-cmd-params-cm``, Secret ``argocd-secret``, the
   Application/AppProject CRDs Established), so it may be started before bootstrap installs Argo CD:
   a watch of the namespace (one request every 5 minutes while it does not exist), then a look every
   second; meanwhile it holds its ports bound (not listening) and runs no other process;
2. starts Debian's ``redis-server`` on 127.0.0.1 (password from a 0600 config file, no persistence);
3. starts ``argocd-repo-server``, ``argocd-application-controller`` and ``argocd-server`` (and, on
   request, ``argocd-applicationset-controller``), each on free loopback ports, with the environment
   their Deployment/StatefulSet in the install manifest gives them (``argocd-cm`` and
   ``argocd-cmd-params-cm`` keys, read from the cluster when the component starts), and restarts one
   that exits (with back-off);
4. keeps what the pods get from volumes: the ConfigMaps ``argocd-tls-certs-cm``,
   ``argocd-ssh-known-hosts-cm`` and ``argocd-gpg-keys-cm`` as files under ``config/``
   (``ARGOCD_TLS_DATA_PATH``, ``ARGOCD_SSH_DATA_PATH``, ``ARGOCD_GPG_DATA_PATH``), and a token of the
   component's ServiceAccount (TokenRequest API) in a kubeconfig ``tokenFile``, refreshed before it
   expires, so the controller and the API server act with the RBAC the install manifest gives them;
5. with a ``password_file`` (``up(password_file=...)``), writes the initial admin password there (0600)
   once argocd-server has generated the Secret ``argocd-initial-admin-secret``.

``ARGOCD_FAKE_IN_CLUSTER=true`` makes ``https://kubernetes.default.svc`` (the in-cluster destination)
the local API server. The API server runs with ``--insecure`` (plain HTTP on 127.0.0.1), without dex.

Data directory layout (``--data-dir``)::

    .localargo          marker: this directory is ours (``down`` removes only such directories)
    config.json         ports, kubeconfig, namespace, components, supervisor pid (written by ``up``)
    status.json         phase and the pid, start time, restarts of each component (written by the supervisor)
    redis.conf          0600 (holds the redis password)
    kube/<component>.kubeconfig, kube/<component>.token   ServiceAccount credentials (0600)
    config/tls, config/ssh, config/gpg/source              projected ConfigMaps
    gnupg/ home/ tmp/ helm/ run/ redis/                    working directories of the components
    (gnupg/ and run/askpass.sock go to /tmp/localargo-<hash>/ when the data dir's path is too long for a
    Unix socket)
    logs/supervisor.log, logs/redis.log, logs/argocd-<component>.log
"""

from __future__ import annotations

import base64
import calendar
import contextlib
import hashlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from localkube.cluster import (_alive, _detach, _free_ports, _in_proc_table, _log_tail, _proc_start_time, _reap,
                               _to_take_down)
from localkube.gobuild import dir_lock
from localkube.kubeapi import KubeClient, KubeError

from . import build

MARKER = ".localargo"
CONFIG = "config.json"
STATUS = "status.json"
NAMESPACE = "argocd"
REDIS = "redis"
REPO_SERVER = "argocd-repo-server"
CONTROLLER = "argocd-application-controller"
SERVER = "argocd-server"
APPSET = "argocd-applicationset-controller"
# Start order; stop order is the reverse.
COMPONENTS = (REPO_SERVER, CONTROLLER, SERVER, APPSET)
DEFAULT_COMPONENTS = (REPO_SERVER, CONTROLLER, SERVER)
SERVICE_ACCOUNTS = {CONTROLLER: "argocd-application-controller", SERVER: "argocd-server",
                    APPSET: "argocd-applicationset-controller"}
# The workload of each component in the install manifest (where its environment comes from).
WORKLOADS = {REPO_SERVER: ("Deployment", "argocd-repo-server"), CONTROLLER: ("StatefulSet", "argocd-application-controller"),
             SERVER: ("Deployment", "argocd-server"), APPSET: ("Deployment", "argocd-applicationset-controller")}
REQUIRED_CONFIGMAPS = ("argocd-cm", "argocd-rbac-cm", "argocd-cmd-params-cm")
REQUIRED_CRDS = ("applications.argoproj.io", "appprojects.argoproj.io")
PROJECTED = {"argocd-tls-certs-cm": "config/tls", "argocd-ssh-known-hosts-cm": "config/ssh",
             "argocd-gpg-keys-cm": "config/gpg/source"}
INITIAL_ADMIN_SECRET = "argocd-initial-admin-secret"
TOKEN_SECONDS = 24 * 3600
# A Unix socket path has at most 107 bytes; gpg-agent's longest socket name is S.gpg-agent.browser.
SOCKET_PATH_MAX = 100
WATCH_SECONDS = 300


class LocalargoError(RuntimeError):
    pass


def default_data_dir() -> Path:
    return Path(os.environ.get("KEIKO_LOCALARGO_DIR") or build.cache_root() / "run" / "default")


def socket_dir(data_dir: Path) -> Path:
    """Where the Unix sockets live (the GnuPG home with gpg-agent's sockets, the askpass socket): the data
    dir, or a short directory under /tmp named after it when its path is too long for a socket."""
    if len(str(Path(data_dir) / "gnupg" / "S.gpg-agent.browser")) < SOCKET_PATH_MAX:
        return Path(data_dir)
    return Path("/tmp") / f"localargo-{hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]}"


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def _write_json(path: Path, data: dict, mode: int = 0o644) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def _write_private(path: Path, data: str | bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


def _http_ok(url: str, timeout: float = 3.0) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as resp:
            return resp.status == 200
    except (OSError, urllib.error.HTTPError):
        return False


# ---------------------------------------------------------------------------------------------
# what the install manifest says about each component

def _workload_env(manifest: Path) -> dict[str, list[dict]]:
    """The ``env`` of each component's container in the install manifest (parsing the 2 MB manifest
    takes seconds: the result is kept in the cache, keyed by the manifest's sha256)."""
    digest = hashlib.sha256(Path(manifest).read_bytes()).hexdigest()[:32]
    cached = build.cache_root() / "env-spec" / f"{digest}.json"
    found = _read_json(cached)
    if found is not None and set(found) == set(WORKLOADS):
        return found
    out = _parse_workload_env(manifest)
    cached.parent.mkdir(parents=True, exist_ok=True)
    _write_json(cached, out)
    return out


def _parse_workload_env(manifest: Path) -> dict[str, list[dict]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(manifest, encoding="utf-8") as fh:
        docs = [d for d in yaml.load_all(fh, Loader=loader) if d]
    out: dict[str, list[dict]] = {}
    for comp, (kind, name) in WORKLOADS.items():
        doc = next((d for d in docs if d.get("kind") == kind and d["metadata"]["name"] == name), None)
        if doc is None:
            raise LocalargoError(f"{manifest}: no {kind} {name}")
        container = next(c for c in doc["spec"]["template"]["spec"]["containers"] if c["name"] == name)
        out[comp] = container.get("env", [])
    return out


def _resolve_env(spec: list[dict], client: KubeClient, namespace: str, d: Path) -> dict[str, str]:
    """Environment of a component from its manifest ``env``: literal values (pod paths mapped into the
    data dir) and ConfigMap keys read from the cluster now. Secret references (the redis password)
    and field references are set by us."""
    paths = {"/helm-working-dir": d / "helm", "/tmp": d / "tmp"}
    cms: dict[str, dict | None] = {}
    env: dict[str, str] = {}
    for e in spec:
        name = e["name"]
        if "value" in e:
            value = str(e["value"])
            if value.startswith("/"):
                mapped = next((str(p) + value[len(k):] for k, p in paths.items() if value == k or value.startswith(k + "/")), None)
                if mapped is None:
                    continue  # a path of the container image: ours are set explicitly
                value = mapped
            env[name] = value
            continue
        ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
        if not ref:
            continue
        if ref["name"] not in cms:
            cms[ref["name"]] = client.get_or_none(f"/api/v1/namespaces/{namespace}/configmaps/{ref['name']}")
        data = (cms[ref["name"]] or {}).get("data") or {}
        if ref["key"] in data:
            env[name] = data[ref["key"]]
    return env


# ---------------------------------------------------------------------------------------------
# configuration written by `up`

def _commands(cfg: dict, bins: Path) -> dict[str, list[str]]:
    d = Path(cfg["data_dir"])
    p = cfg["ports"]
    ns = cfg["namespace"]
    redis = f"127.0.0.1:{p['redis']}"
    repo = f"127.0.0.1:{p['repo-server']}"

    def kube(comp):
        return ["--kubeconfig", str(d / "kube" / f"{comp}.kubeconfig"), "--namespace", ns]

    return {
        REDIS: [cfg["redis_server"], str(d / "redis.conf")],
        REPO_SERVER: [str(bins / REPO_SERVER), "--address", "127.0.0.1", "--port", str(p["repo-server"]),
                      "--metrics-address", "127.0.0.1", "--metrics-port", str(p["repo-server-metrics"]),
                      "--redis", redis],
        CONTROLLER: [str(bins / CONTROLLER), *kube(CONTROLLER), "--metrics-port", str(p["controller-metrics"]),
                     "--repo-server", repo, "--redis", redis],
        SERVER: [str(bins / SERVER), *kube(SERVER), "--insecure", "--address", "127.0.0.1",
                 "--port", str(p["server"]), "--metrics-port", str(p["server-metrics"]),
                 "--repo-server", repo, "--redis", redis],
        APPSET: [str(bins / APPSET), *kube(APPSET), "--argocd-repo-server", repo,
                 "--metrics-addr", f"127.0.0.1:{p['appset-metrics']}", "--probe-addr", f"127.0.0.1:{p['appset-probe']}",
                 "--webhook-addr", f"127.0.0.1:{p['appset-webhook']}"],
    }


def health_urls(cfg: dict) -> dict[str, str]:
    p = cfg["ports"]
    return {REPO_SERVER: f"http://127.0.0.1:{p['repo-server-metrics']}/healthz?full=true",
            CONTROLLER: f"http://127.0.0.1:{p['controller-metrics']}/healthz",
            SERVER: f"http://127.0.0.1:{p['server']}/healthz",
            # no health check is registered on its probe address (404): its metrics endpoint answers
            # once the manager runs
            APPSET: f"http://127.0.0.1:{p['appset-metrics']}/metrics"}


def _base_env(cfg: dict, bins: Path) -> dict[str, str]:
    d = Path(cfg["data_dir"])
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and not k.startswith(("ARGOCD_", "KUBECONFIG", "REDIS_"))}
    git = shutil.which("git")
    path = [str(bins)] + ([str(Path(git).parent)] if git else []) + env.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    env.update(
        NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
        PATH=os.pathsep.join(dict.fromkeys(path)), HOME=str(d / "home"), TMPDIR=str(d / "tmp"),
        ARGOCD_FAKE_IN_CLUSTER="true",
        ARGOCD_TLS_DATA_PATH=str(d / "config" / "tls"), ARGOCD_SSH_DATA_PATH=str(d / "config" / "ssh"),
        ARGOCD_GPG_DATA_PATH=str(d / "config" / "gpg" / "source"), ARGOCD_GNUPGHOME=str(socket_dir(d) / "gnupg"),
        ARGOCD_ASK_PASS_SOCK=str(socket_dir(d) / "run" / "askpass.sock"),
        ARGOCD_ENABLE_PROFILER_FILE_PATH=str(d / "run" / "profiler.enabled"),
        HELM_CACHE_HOME=str(d / "helm"), HELM_CONFIG_HOME=str(d / "helm"), HELM_DATA_HOME=str(d / "helm"),
    )
    return env


# ---------------------------------------------------------------------------------------------
# up / down / status (the caller's side)

def load_config(data_dir: str | os.PathLike) -> dict | None:
    return _read_json(Path(data_dir).resolve() / CONFIG)


def _supervisor_alive(cfg: dict | None) -> bool:
    return bool(cfg) and _alive(cfg.get("supervisor") or {})


def api_url(cfg: dict) -> str:
    return f"http://127.0.0.1:{cfg['ports']['server']}"


def up(data_dir: str | os.PathLike, kubeconfig: str | os.PathLike, namespace: str = NAMESPACE,
       components: tuple[str, ...] = DEFAULT_COMPONENTS, wait: bool = False, timeout: float = 180.0,
       owner_pid: int | None = None, echo=print, server_port: int | None = None,
       url_file: str | os.PathLike | None = None, password_file: str | os.PathLike | None = None) -> dict:
    """Start the supervisor for ``kubeconfig``'s cluster (a no-op when it already runs there).

    Returns at once (the components start when the install manifest's objects are in the cluster);
    with ``wait``, returns when every component answers its health check (see :func:`wait_ready`).
    With ``owner_pid``, the supervisor stops everything when that process dies. ``server_port``: the
    API server's port (default: a free one). ``url_file``: written now with the API server's URL;
    ``password_file``: written (0600) by the supervisor with the initial admin password once
    argocd-server has generated it.
    """
    data_dir = Path(data_dir).resolve()
    kubeconfig = Path(kubeconfig).resolve()
    unknown = [c for c in components if c not in COMPONENTS]
    if unknown:
        raise LocalargoError(f"unknown components {unknown}; known: {list(COMPONENTS)}")
    if not kubeconfig.is_file():
        raise LocalargoError(f"kubeconfig {kubeconfig} not found")
    redis_server = shutil.which("redis-server")
    if not redis_server:
        raise LocalargoError("redis-server not found: apt-get install redis-server")
    if not shutil.which("git"):
        raise LocalargoError("git not found: apt-get install git")
    with dir_lock(build.cache_root(), data_dir):
        cfg = load_config(data_dir)
        if _supervisor_alive(cfg) and cfg["kubeconfig"] == str(kubeconfig) and cfg["namespace"] == namespace \
                and tuple(cfg["components"]) == tuple(components) \
                and server_port in (None, cfg["ports"]["server"]) \
                and (password_file is None or cfg.get("password_file") == str(Path(password_file).resolve())):
            echo(f"localargo already running in {data_dir} (supervisor pid {cfg['supervisor']['pid']}, API {api_url(cfg)})")
        else:
            if cfg is not None or (data_dir / MARKER).exists():
                _down(data_dir, 20.0, echo)
            cfg = _start(data_dir, kubeconfig, namespace, components, redis_server, owner_pid, echo, server_port,
                         password_file)
    if url_file:
        url_file = Path(url_file)
        url_file.parent.mkdir(parents=True, exist_ok=True)
        _write_text(url_file, cfg["api_url"] + "\n")
    if wait:
        wait_ready(data_dir, timeout=timeout)
    return cfg


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _start(data_dir: Path, kubeconfig: Path, namespace: str, components, redis_server: str,
           owner_pid: int | None, echo, server_port: int | None = None, password_file=None) -> dict:
    if data_dir.exists() and any(data_dir.iterdir()) and not (data_dir / MARKER).exists():
        raise LocalargoError(f"{data_dir} exists, is not empty and is not a localargo data dir")
    t0 = time.monotonic()
    files = build.ensure_binaries(echo=echo)
    manifest = build.install_manifest(echo=echo)
    env_spec = _workload_env(manifest)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (data_dir / MARKER).write_text("localargo data dir; removed by `python -m localargo down`\n")
    for sub in ("logs", "kube", "config/tls", "config/ssh", "config/gpg/source", "home", "tmp", "helm", "run", "redis"):
        (data_dir / sub).mkdir(parents=True, exist_ok=True)
    sockets = socket_dir(data_dir)
    if sockets != data_dir:
        shutil.rmtree(sockets, ignore_errors=True)
        sockets.mkdir(mode=0o700)
        (sockets / MARKER).write_text(f"sockets of the localargo data dir {data_dir}\n")
        (sockets / "run").mkdir()
    (sockets / "gnupg").mkdir(mode=0o700, exist_ok=True)
    names = ("redis", "repo-server", "repo-server-metrics", "controller-metrics", "server", "server-metrics",
             "appset-metrics", "appset-probe", "appset-webhook")
    ports = dict(zip(names, _free_ports(len(names), avoid={server_port} if server_port else ())))
    if server_port:
        ports["server"] = int(server_port)
    redis_password = secrets.token_urlsafe(24)
    _write_private(data_dir / "redis.conf", "\n".join([
        "bind 127.0.0.1", f"port {ports['redis']}", "protected-mode yes", "daemonize no", 'logfile ""',
        'save ""', "appendonly no", f"dir {data_dir / 'redis'}", f"requirepass {redis_password}", ""]))
    cfg = {
        "data_dir": str(data_dir), "kubeconfig": str(kubeconfig), "namespace": namespace,
        "components": list(components), "ports": ports, "bin_dir": str(files["argocd"].parent),
        "install_manifest": str(manifest), "redis_server": redis_server, "env_spec": env_spec,
        "owner": ({"pid": owner_pid, "start": _proc_start_time(owner_pid)} if owner_pid else None),
        "api_url": f"http://127.0.0.1:{ports['server']}",
        "password_file": str(Path(password_file).resolve()) if password_file else None,
    }
    _write_json(data_dir / CONFIG, cfg)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    pkg_parent = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([pkg_parent, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    proc, cfg["supervisor"] = _detach([sys.executable, "-m", "localargo", "supervise", "--data-dir", str(data_dir)],
                                      data_dir / "logs" / "supervisor.log", data_dir, env, tries=100)
    _write_json(data_dir / CONFIG, cfg)
    # Wait until it runs (it starts redis and the components once Argo CD is installed).
    deadline = time.monotonic() + 30
    while True:
        st = _read_json(data_dir / STATUS) or {}
        if st.get("phase") in ("waiting-for-install", "starting", "running"):
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = _log_tail(data_dir, "supervisor")
            _down(data_dir, 10.0, lambda m: None)
            raise LocalargoError(f"localargo supervisor did not start; last log lines:\n{tail}")
        time.sleep(0.05)
    cfg["timings"] = {"up_s": round(time.monotonic() - t0, 2)}
    _write_json(data_dir / CONFIG, cfg)
    echo(f"localargo supervisor started (pid {proc.pid}); Argo CD API will be at {cfg['api_url']}; "
         f"logs in {data_dir / 'logs'}")
    return cfg


def health(data_dir: str | os.PathLike) -> dict[str, bool]:
    """Health check result of each configured component (False when not running)."""
    data_dir = Path(data_dir).resolve()
    cfg = load_config(data_dir)
    st = _read_json(data_dir / STATUS) or {}
    if not cfg:
        return {}
    urls = health_urls(cfg)
    procs = st.get("processes", {})
    return {c: _alive(procs.get(c) or {}) and _http_ok(urls[c]) for c in cfg["components"]}


def wait_ready(data_dir: str | os.PathLike, timeout: float = 180.0, interval: float = 0.5) -> dict:
    """Wait until the supervisor runs every component and each answers its health check."""
    data_dir = Path(data_dir).resolve()
    deadline = time.monotonic() + timeout
    last: dict = {}
    while True:
        cfg = load_config(data_dir)
        if not _supervisor_alive(cfg):
            raise LocalargoError(f"localargo supervisor in {data_dir} is not running; log:\n{_log_tail(data_dir, 'supervisor')}")
        st = _read_json(data_dir / STATUS) or {}
        if st.get("phase") == "running":
            last = health(data_dir)
            if last and all(last.values()):
                return status(data_dir)
        if time.monotonic() > deadline:
            raise LocalargoError(f"localargo not ready after {timeout:.0f}s (phase {st.get('phase')}, health {last}); "
                                 f"supervisor log:\n{_log_tail(data_dir, 'supervisor')}")
        time.sleep(interval)


def status(data_dir: str | os.PathLike) -> dict:
    data_dir = Path(data_dir).resolve()
    cfg = load_config(data_dir)
    if not cfg:
        return {"data_dir": str(data_dir), "up": False}
    st = _read_json(data_dir / STATUS) or {}
    procs = st.get("processes", {})
    h = health(data_dir) if _supervisor_alive(cfg) else {}
    return {
        "data_dir": str(data_dir), "up": _supervisor_alive(cfg) and bool(h) and all(h.values()),
        "phase": st.get("phase") if _supervisor_alive(cfg) else "stopped",
        "api_url": cfg["api_url"], "server": cfg["api_url"].split("//", 1)[1],
        "kubeconfig": cfg["kubeconfig"], "namespace": cfg["namespace"], "ports": cfg["ports"],
        "supervisor": {**(cfg.get("supervisor") or {}), "alive": _supervisor_alive(cfg)},
        "processes": {n: {"pid": (procs.get(n) or {}).get("pid"), "alive": _alive(procs.get(n) or {}),
                          "restarts": (procs.get(n) or {}).get("restarts", 0), "healthy": h.get(n)}
                      for n in (REDIS, *cfg["components"])},
        "timings": {**cfg.get("timings", {}), **st.get("timings", {})},
        "login": login_hint(cfg),
    }


def login_hint(cfg: dict) -> str:
    ns = cfg["namespace"]
    return (f"argocd login {cfg['api_url'].split('//', 1)[1]} --plaintext --username admin --password "
            f"\"$(kubectl -n {ns} get secret {INITIAL_ADMIN_SECRET} -o jsonpath='{{.data.password}}' | base64 -d)\"")


def env_vars(data_dir: str | os.PathLike) -> dict[str, str]:
    """Variables for ``.sandbox/env``: where the Argo CD API is and how the argocd CLI reaches it
    (no secret: the admin password is read from the cluster when it is needed)."""
    cfg = load_config(data_dir)
    if not cfg:
        raise LocalargoError(f"no localargo in {data_dir}")
    server = cfg["api_url"].split("//", 1)[1]
    return {"ARGOCD_SERVER": server, "ARGOCD_OPTS": "--plaintext", "KEIKO_ARGOCD_API_URL": cfg["api_url"],
            "KEIKO_ARGOCD_NAMESPACE": cfg["namespace"], "KEIKO_ARGOCD_ADMIN_SECRET": INITIAL_ADMIN_SECRET}


def down(data_dir: str | os.PathLike, timeout: float = 20.0, echo=print) -> list[int]:
    """Stop the supervisor, every component, redis and stray helpers (gpg-agent); remove the dir."""
    data_dir = Path(data_dir).resolve()
    with dir_lock(build.cache_root(), data_dir):
        return _down(data_dir, timeout, echo)


def _ours(pid: int, data_dir: Path) -> bool:
    """A process started for this data dir: its command line or working directory is in it."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    d = str(data_dir)

    def inside(path: str) -> bool:
        return path == d or path.startswith(d + "/")

    return inside(cwd) or any(inside(a) or inside(a.split("=", 1)[-1]) for a in args)


def _strays(data_dir: Path) -> list[dict]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid() and _ours(int(entry.name), data_dir):
            start = _proc_start_time(int(entry.name))
            if start is not None:
                out.append({"pid": int(entry.name), "start": start})
    return out


def _kill_all(entries: list[dict], timeout: float) -> list[dict]:
    live = [e for e in entries if _alive(e)]
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        for e in live:
            with contextlib.suppress(ProcessLookupError):
                os.kill(e["pid"], sig)
        end = time.monotonic() + wait
        while live and time.monotonic() < end:
            for e in live:
                _reap(e["pid"])
            live = [e for e in live if _alive(e)]
            if live:
                time.sleep(0.05)
        if not live:
            break
    return live


def _down(data_dir: Path, timeout: float, echo) -> list[int]:
    if not _to_take_down(data_dir, "localargo", MARKER, LocalargoError, echo):
        return []
    cfg = load_config(data_dir) or {}
    st = _read_json(data_dir / STATUS) or {}
    sup = cfg.get("supervisor") or {}
    entries = [sup] if sup.get("pid") and sup.get("pid") != os.getpid() else []
    # The supervisor stops its children itself on SIGTERM; then what it left (it was killed, say).
    left = _kill_all(entries, timeout)
    procs = [e for e in (st.get("processes") or {}).values() if e and e.get("pid")]
    sockets = socket_dir(data_dir)
    gnupg = sockets / "gnupg"
    if gnupg.is_dir() and shutil.which("gpgconf"):
        subprocess.run(["gpgconf", "--homedir", str(gnupg), "--kill", "all"], capture_output=True, check=False, timeout=20)
    left += _kill_all(procs + _strays(data_dir) + (_strays(sockets) if sockets != data_dir else []), 10.0)
    if left:
        raise LocalargoError(f"processes survived SIGKILL: {[e['pid'] for e in left]}; kept {data_dir}")
    end = time.monotonic() + 5.0
    every = entries + procs
    while time.monotonic() < end:
        zombies = [e for e in every if _in_proc_table(e)]
        for e in zombies:
            _reap(e["pid"])
        if not zombies:
            break
        time.sleep(0.05)
    shutil.rmtree(data_dir)
    if sockets != data_dir and (sockets / MARKER).exists():
        shutil.rmtree(sockets, ignore_errors=True)
    stopped = [e["pid"] for e in every]
    echo(f"localargo down: stopped {len(stopped)} processes, removed {data_dir}")
    return stopped


# ---------------------------------------------------------------------------------------------
# talking to the cluster and the API

def admin_password(kubeconfig: str | os.PathLike, namespace: str = NAMESPACE) -> str:
    """The initial admin password, read from the cluster now (argocd-server creates the Secret
    ``argocd-initial-admin-secret`` when ``argocd-secret`` has no admin password)."""
    with KubeClient(kubeconfig, timeout=10) as client:
        sec = client.get_or_none(f"/api/v1/namespaces/{namespace}/secrets/{INITIAL_ADMIN_SECRET}")
    if not sec or "password" not in (sec.get("data") or {}):
        raise LocalargoError(f"no {namespace}/{INITIAL_ADMIN_SECRET} (yet): argocd-server creates it on start "
                             "when argocd-secret has no admin.password")
    return base64.b64decode(sec["data"]["password"]).decode()


def api_request(url: str, method: str = "GET", body: dict | None = None, token: str | None = None,
                timeout: float = 30.0) -> dict:
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with opener.open(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"{}")


def login(data_dir: str | os.PathLike, username: str = "admin", password: str | None = None) -> str:
    """A session token from ``POST /api/v1/session`` (password: the initial admin one by default)."""
    cfg = load_config(data_dir)
    if not cfg:
        raise LocalargoError(f"no localargo in {data_dir}")
    if password is None:
        password = admin_password(cfg["kubeconfig"], cfg["namespace"])
    return api_request(cfg["api_url"] + "/api/v1/session", "POST", {"username": username, "password": password})["token"]


# ---------------------------------------------------------------------------------------------
# the supervisor (runs in its own process: `python -m localargo supervise`)

class Supervisor:
    def __init__(self, data_dir: Path) -> None:
        self.d = data_dir
        self.cfg = load_config(data_dir)
        if not self.cfg:
            raise LocalargoError(f"no {CONFIG} in {data_dir}")
        self.bins = Path(self.cfg["bin_dir"])
        self.cmds = _commands(self.cfg, self.bins)
        self.base_env = _base_env(self.cfg, self.bins)
        self.redis_password = next(line.split(" ", 1)[1] for line in (data_dir / "redis.conf").read_text().splitlines()
                                   if line.startswith("requirepass "))
        self.procs: dict[str, subprocess.Popen] = {}
        self.info: dict[str, dict] = {}
        self.next_start: dict[str, float] = {}
        self.stopping = False
        self.phase = "starting-redis"
        self.timings: dict[str, float] = {}
        self.t0 = time.monotonic()
        self.token_expiry: dict[str, float] = {}
        self.client = KubeClient(self.cfg["kubeconfig"], timeout=10)
        self.held: list[socket.socket] = []
        self.password_written = False

    def say(self, msg: str) -> None:
        print(f"[localargo {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    def save(self) -> None:
        _write_json(self.d / STATUS, {"phase": self.phase, "processes": self.info, "timings": self.timings,
                                      "supervisor_pid": os.getpid()})

    # -- children --------------------------------------------------------------------------
    def _spawn(self, name: str, env: dict[str, str]) -> None:
        with open(self.d / "logs" / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(self.cmds[name], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    cwd=self.d / "tmp", env=env, close_fds=True)
        self.procs[name] = proc
        prev = self.info.get(name) or {}
        self.info[name] = {"pid": proc.pid, "start": _proc_start_time(proc.pid), "started_at": time.time(),
                           "restarts": prev.get("restarts", -1) + 1, "last_exit": prev.get("last_exit"),
                           "streak": prev.get("streak", 0)}
        self.say(f"started {name} (pid {proc.pid})")
        self.save()

    def _env_for(self, name: str) -> dict[str, str]:
        env = dict(self.base_env)
        if name == REDIS:
            return env
        env.update(_resolve_env(self.cfg["env_spec"][name], self.client, self.cfg["namespace"], self.d))
        env["REDIS_PASSWORD"] = self.redis_password
        env["KUBECONFIG"] = str(self.d / "kube" / f"{name}.kubeconfig")
        if name == CONTROLLER:
            env.update(ARGOCD_CONTROLLER_REPLICAS="1", ARGOCD_CONTROLLER_SHARD="0")
        if name == APPSET:
            env["NAMESPACE"] = self.cfg["namespace"]
        return env

    def kill_gpg_agent(self) -> None:
        """The repo-server's gpg starts a gpg-agent that daemonizes (in a pod it dies with the
        container); one left from a previous repo-server breaks the keyring re-initialisation."""
        if shutil.which("gpgconf"):
            subprocess.run(["gpgconf", "--homedir", str(socket_dir(self.d) / "gnupg"), "--kill", "all"],
                           capture_output=True, check=False, timeout=20)

    def start(self, name: str) -> None:
        if name in SERVICE_ACCOUNTS:
            self.refresh_token(name)
        if name == REPO_SERVER:
            self.kill_gpg_agent()
        self._spawn(name, self._env_for(name))

    def stop_all(self) -> None:
        self.phase = "stopping"
        self.save()
        order = [n for n in reversed((REDIS, *COMPONENTS)) if n in self.procs]
        for name in order:
            proc = self.procs[name]
            if proc.poll() is None:
                proc.terminate()
        end = time.monotonic() + 15
        for name in order:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.procs[name].wait(timeout=max(0.1, end - time.monotonic()))
        for name in order:
            if self.procs[name].poll() is None:
                self.procs[name].kill()
                self.procs[name].wait()
        self.kill_gpg_agent()
        self.phase = "stopped"
        self.save()

    def wait_redis(self, timeout: float = 20.0) -> None:
        end = time.monotonic() + timeout
        while True:
            if self.procs[REDIS].poll() is not None:
                raise LocalargoError(f"redis-server exited with {self.procs[REDIS].returncode}:\n{_log_tail(self.d, REDIS)}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.cfg["ports"]["redis"]), timeout=1):
                return
            if time.monotonic() > end:
                raise LocalargoError(f"redis-server not listening after {timeout:.0f}s")
            time.sleep(0.05)

    # -- cluster -----------------------------------------------------------------------------
    def install_missing(self) -> list[str]:
        ns = self.cfg["namespace"]
        missing = []
        try:
            for cm in REQUIRED_CONFIGMAPS:
                if self.client.get_or_none(f"/api/v1/namespaces/{ns}/configmaps/{cm}") is None:
                    missing.append(f"configmap/{cm}")
            if self.client.get_or_none(f"/api/v1/namespaces/{ns}/secrets/argocd-secret") is None:
                missing.append("secret/argocd-secret")
            for sa in {SERVICE_ACCOUNTS[c] for c in self.cfg["components"] if c in SERVICE_ACCOUNTS}:
                if self.client.get_or_none(f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}") is None:
                    missing.append(f"serviceaccount/{sa}")
            for crd in REQUIRED_CRDS:
                obj = self.client.get_or_none(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}")
                conds = {c["type"]: c["status"] for c in (((obj or {}).get("status") or {}).get("conditions") or [])}
                if conds.get("Established") != "True":
                    missing.append(f"crd/{crd}")
        except (OSError, KubeError) as err:
            self.client.close()
            return [f"(cluster not reachable: {err})"]
        return missing

    def refresh_token(self, name: str) -> None:
        """A ServiceAccount token (TokenRequest) in a kubeconfig ``tokenFile`` (client-go re-reads it)."""
        ns = self.cfg["namespace"]
        sa = SERVICE_ACCOUNTS[name]
        tr = self.client.create(f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token",
                                {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                 "spec": {"expirationSeconds": TOKEN_SECONDS}})
        token_file = self.d / "kube" / f"{name}.token"
        _write_private(token_file, tr["status"]["token"])
        admin = yaml.safe_load(Path(self.cfg["kubeconfig"]).read_text())
        ctx_name = admin.get("current-context")
        ctx = next(c["context"] for c in admin["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in admin["clusters"] if c["name"] == ctx["cluster"])
        kc = {"apiVersion": "v1", "kind": "Config", "current-context": "localargo",
              "clusters": [{"name": "local", "cluster": cluster}],
              "users": [{"name": sa, "user": {"tokenFile": str(token_file)}}],
              "contexts": [{"name": "localargo", "context": {"cluster": "local", "user": sa, "namespace": ns}}]}
        _write_private(self.d / "kube" / f"{name}.kubeconfig", yaml.safe_dump(kc, sort_keys=False))
        # Refresh at 80% of the lifetime the API server granted.
        granted = TOKEN_SECONDS
        with contextlib.suppress(KeyError, ValueError):
            exp = calendar.timegm(time.strptime(tr["status"]["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ"))
            granted = max(60.0, exp - time.time())
        self.token_expiry[name] = time.monotonic() + 0.8 * granted

    def project_configmaps(self) -> None:
        """ConfigMaps as files, as the pods' volumes would have them."""
        ns = self.cfg["namespace"]
        for cm, rel in PROJECTED.items():
            try:
                obj = self.client.get_or_none(f"/api/v1/namespaces/{ns}/configmaps/{cm}")
            except (OSError, KubeError):
                self.client.close()
                return
            data = (obj or {}).get("data") or {}
            target = self.d / rel
            for key, value in data.items():
                if "/" in key or key.startswith("."):
                    continue
                path = target / key
                if not path.is_file() or path.read_text() != value:
                    tmp = target / f".{key}.tmp"
                    tmp.write_text(value)
                    os.replace(tmp, path)
            for path in target.iterdir():
                if path.is_file() and not path.name.startswith(".") and path.name not in data:
                    path.unlink()

    # -- main loop ---------------------------------------------------------------------------
    def owner_gone(self) -> bool:
        owner = self.cfg.get("owner")
        return bool(owner) and not _alive(owner)

    def hold_ports(self) -> None:
        """Keep the ports of config.json bound (not listening) while waiting for the install, so that
        nothing else takes them (the API server's URL is published before Argo CD is installed)."""
        for port in self.cfg["ports"].values():
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind(("127.0.0.1", int(port)))
            except OSError:
                sock.close()
                continue
            self.held.append(sock)

    def release_ports(self) -> None:
        for sock in self.held:
            sock.close()
        self.held = []

    def wait_namespace(self, timeout: int = WATCH_SECONDS) -> None:
        """Block until the namespace exists (a watch of the namespaces, ``timeout`` seconds at most): an
        idle supervisor of a cluster without Argo CD sends one request every ``timeout`` seconds."""
        ns = self.cfg["namespace"]
        found = self.client.get("/api/v1/namespaces", fieldSelector=f"metadata.name={ns}")
        if found.get("items"):
            return
        query = {"fieldSelector": f"metadata.name={ns}", "watch": "1", "timeoutSeconds": str(timeout),
                 "allowWatchBookmarks": "false", "resourceVersion": found["metadata"]["resourceVersion"]}
        conn = http.client.HTTPSConnection(self.client.host, self.client.port, context=self.client.ssl,
                                           timeout=timeout + 30)
        try:
            headers = {"Accept": "application/json"}
            if self.client.token:
                headers["Authorization"] = f"Bearer {self.client.token}"
            conn.request("GET", f"{self.client.prefix}/api/v1/namespaces?{urllib.parse.urlencode(query)}",
                         headers=headers)
            resp = conn.getresponse()
            if resp.status != 200:
                raise KubeError(resp.status, "GET", "/api/v1/namespaces?watch=1", resp.read().decode(errors="replace"))
            while True:
                line = resp.readline()
                if not line:
                    return  # the watch timed out: the caller looks again
                with contextlib.suppress(ValueError):
                    if json.loads(line).get("type") in ("ADDED", "MODIFIED"):
                        return
        finally:
            conn.close()

    def wait_for_install(self) -> bool:
        """Wait until the install manifest's objects are in the cluster: a watch until the namespace
        exists, then a look every second (every 5 s after a minute) until nothing is missing. False when
        the owner went away."""
        last_missing = None
        since_ns = None
        while not self.owner_gone():
            try:
                self.wait_namespace()
            except (OSError, KubeError, http.client.HTTPException) as err:
                self.client.close()
                if last_missing != "unreachable":
                    self.say(f"cluster not reachable ({err}); trying again every 5 s")
                    last_missing = "unreachable"
                time.sleep(5.0)
                continue
            since_ns = since_ns or time.monotonic()
            missing = self.install_missing()
            if not missing:
                return True
            if missing != last_missing:
                self.say(f"waiting for the Argo CD install in namespace {self.cfg['namespace']}: missing {', '.join(missing)}")
                last_missing = missing
            time.sleep(1.0 if time.monotonic() - since_ns < 60 else 5.0)
        self.say("owner process gone: stopping")
        return False

    def run(self) -> int:
        def _term(signum, frame):  # noqa: ARG001
            self.stopping = True
            if not self.procs:  # nothing started yet (waiting for the install): leave at once
                raise SystemExit(0)
        signal.signal(signal.SIGTERM, _term)
        signal.signal(signal.SIGINT, _term)
        try:
            self.hold_ports()
            self.phase = "waiting-for-install"
            self.save()
            if self.wait_for_install() and not self.stopping:
                self.phase = "starting"
                self.timings["install_found_s"] = round(time.monotonic() - self.t0, 2)
                self.save()
                self.release_ports()
                self.start(REDIS)
                self.wait_redis()
                self.project_configmaps()
                for name in self.cfg["components"]:
                    self.start(name)
                self.phase = "running"
                self.save()
                self._loop()
        finally:
            self.release_ports()
            self.stop_all()
            self.client.close()
        return 0

    def write_admin_password(self) -> None:
        """``password_file`` (0600) from the Secret argocd-server generated, once it exists."""
        target = self.cfg.get("password_file")
        if not target or self.password_written:
            return
        try:
            sec = self.client.get_or_none(f"/api/v1/namespaces/{self.cfg['namespace']}/secrets/{INITIAL_ADMIN_SECRET}")
        except (OSError, KubeError):
            self.client.close()
            return
        if sec and "password" in (sec.get("data") or {}):
            path = Path(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_private(path, base64.b64decode(sec["data"]["password"]))
            self.password_written = True
            self.say(f"wrote the initial admin password to {path}")

    def _watch(self) -> None:
        """Restart a child that exited (back-off 1, 2, 4 ... 30 s; reset after 60 s of running)."""
        now = time.monotonic()
        for name, proc in list(self.procs.items()):
            code = proc.poll()
            if code is None:
                continue
            info = self.info[name]
            if name not in self.next_start:
                ran = time.time() - info["started_at"]
                streak = 0 if ran > 60 else info.get("streak", 0) + 1
                info.update(last_exit=code, streak=streak)
                delay = min(30.0, 2.0 ** max(0, streak - 1)) if streak else 1.0
                self.next_start[name] = now + delay
                self.say(f"{name} exited with {code} after {ran:.0f}s; restarting in {delay:.0f}s")
                self.save()
            elif now >= self.next_start[name]:
                del self.next_start[name]
                try:
                    self.start(name)
                except (OSError, KubeError) as err:
                    self.say(f"cannot restart {name} yet: {err}")
                    self.next_start[name] = now + 5.0

    def _loop(self) -> None:
        last_sync = last_password = 0.0
        ready_logged = False
        urls = health_urls(self.cfg)
        while not self.stopping:
            if self.owner_gone():
                self.say("owner process gone: stopping")
                return
            self._watch()
            now = time.monotonic()
            if now - last_sync > 5.0:
                self.project_configmaps()
                last_sync = now
            if not self.password_written and SERVER in self.cfg["components"] and now - last_password > 2.0:
                last_password = now
                self.write_admin_password()
            for name, due in list(self.token_expiry.items()):
                if now > due:
                    try:
                        self.refresh_token(name)
                        self.say(f"refreshed the ServiceAccount token of {name}")
                    except (OSError, KubeError) as err:
                        self.say(f"token refresh of {name} failed: {err}")
                        self.token_expiry[name] = now + 30
            if not ready_logged and all(_http_ok(urls[c], 1.0) for c in self.cfg["components"]):
                self.timings["ready_s"] = round(now - self.t0, 2)
                self.timings["ready_after_install_s"] = round(self.timings["ready_s"] - self.timings["install_found_s"], 2)
                self.say(f"all components healthy ({self.timings['ready_after_install_s']:.1f}s after the install was found)")
                self.save()
                ready_logged = True
            time.sleep(0.5)


def supervise(data_dir: str | os.PathLike) -> int:
    return Supervisor(Path(data_dir).resolve()).run()
