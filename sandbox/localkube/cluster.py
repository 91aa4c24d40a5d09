"""Start and stop a local control plane: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok, all listening on 127.0.0.1 only, on free ports, with TLS everywhere,
client-certificate authentication and ``--authorization-mode=Node,RBAC``.

Data directory layout (``--data-dir``)::

    .localkube          marker: this directory is ours (``down`` removes only such directories)
    state.json          pids, ports, server URL, timings
    kubeconfig          admin kubeconfig (client certificate, O=system:masters), data embedded
    pki/                CAs, certificates and keys, service-account key pair
    kubeconfigs/        one kubeconfig per component
    etcd/               etcd data
    logs/<component>.log
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import build, nodes, pki
from .gobuild import dir_lock
from .kubeapi import KubeClient, KubeError

MARKER = ".localkube"
STATE = "state.json"
ORDER = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
WATCHDOG = "watchdog"
DEFAULT_POOL = "default"
DEFAULT_FLAVOR = "b3-8"


class LocalkubeError(RuntimeError):
    pass


@dataclass
class Cluster:
    data_dir: Path
    kubeconfig: Path
    server: str
    ports: dict = field(default_factory=dict)
    pids: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """Environment additions for a client of this cluster (kubectl, ansible)."""
        return {"KUBECONFIG": str(self.kubeconfig), "K8S_AUTH_KUBECONFIG": str(self.kubeconfig)}

    @classmethod
    def load(cls, data_dir: Path) -> "Cluster | None":
        path = Path(data_dir) / STATE
        if not path.is_file():
            return None
        st = json.loads(path.read_text())
        return cls(Path(st["data_dir"]), Path(st["kubeconfig"]), st["server"], st.get("ports", {}),
                   st.get("pids", {}), st.get("timings", {}))

    def save(self) -> None:
        st = {"data_dir": str(self.data_dir), "kubeconfig": str(self.kubeconfig), "server": self.server,
              "ports": self.ports, "pids": self.pids, "timings": self.timings}
        tmp = self.data_dir / (STATE + ".tmp")
        tmp.write_text(json.dumps(st, indent=2) + "\n")
        os.replace(tmp, self.data_dir / STATE)


# ---------------------------------------------------------------------------------------------
# processes

def _proc_start_time(pid: int) -> int | None:
    """Start time (clock ticks since boot) of a live, non-zombie process; None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _alive(entry: dict) -> bool:
    """Is the process recorded as ``{"pid": .., "start": ..}`` still the one we started?"""
    if not entry:
        return False
    start = _proc_start_time(entry["pid"])
    return start is not None and start == entry.get("start")


def _in_proc_table(entry: dict) -> bool:
    """Is the pid, as started by us (same start time), still in the process table, even as a zombie?"""
    try:
        stat = Path(f"/proc/{entry['pid']}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return int(stat[stat.rindex(")") + 2:].split()[19]) == entry.get("start")


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _child_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
               HOME=str(data_dir / "home"))  # kwok reads ~/.kwok/kwok.yaml: keep it to ours
    return env


def _detach(argv: list[str], log_path: Path, cwd: Path, env: dict[str, str],
            tries: int = 50) -> tuple[subprocess.Popen, dict]:
    """Start ``argv`` in a session of its own, its output appended to ``log_path``: the process and
    its pid and start time (looked up ``tries`` times, 10 ms apart, until the process table shows it)."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=cwd, env=env, start_new_session=True, close_fds=True)
    start = None
    for dummy in range(tries):
        start = _proc_start_time(proc.pid)
        if start is not None:
            break
        time.sleep(0.01)
    return proc, {"pid": proc.pid, "start": start}


def _spawn(cluster: Cluster, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> None:
    logs = cluster.data_dir / "logs"
    env = _child_env(cluster.data_dir)
    env.update(extra_env or {})
    entry = _detach(argv, logs / f"{name}.log", cluster.data_dir, env)[1]
    cluster.pids[name] = {**entry, "argv0": argv[0]}
    cluster.save()


def _log_tail(data_dir: Path, name: str, lines: int = 25) -> str:
    path = Path(data_dir) / "logs" / f"{name}.log"
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _free_ports(n: int, avoid: tuple[int, ...] | set[int] = ()) -> list[int]:
    """``n`` distinct free loopback ports, none of them in ``avoid`` (ports the caller holds for
    another use)."""
    socks = []
    try:
        ports: list[int] = []
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            if s.getsockname()[1] not in avoid:
                ports.append(s.getsockname()[1])
        return ports
    finally:
        for s in socks:
            s.close()


# ---------------------------------------------------------------------------------------------
# configuration

def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _kubeconfig(server: str, ca: Path, cert: Path, key: Path, user: str, embed: bool) -> str:
    if embed:
        cluster = {"server": server, "certificate-authority-data": _b64(ca)}
        creds = {"client-certificate-data": _b64(cert), "client-key-data": _b64(key)}
    else:
        cluster = {"server": server, "certificate-authority": str(ca)}
        creds = {"client-certificate": str(cert), "client-key": str(key)}
    doc = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "localkube", "cluster": cluster}],
        "users": [{"name": user, "user": creds}],
        "contexts": [{"name": "localkube", "context": {"cluster": "localkube", "user": user}}],
        "current-context": "localkube",
    }
    return yaml.safe_dump(doc, sort_keys=False)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _commands(c: Cluster, bins: dict[str, Path], p: dict[str, Path]) -> dict[str, list[str]]:
    d = c.data_dir
    ports = c.ports
    etcd_url = f"https://127.0.0.1:{ports['etcd']}"
    peer_url = f"https://127.0.0.1:{ports['etcd-peer']}"
    kc = d / "kubeconfigs"

    def common_auth(conf):
        return [f"--kubeconfig={conf}", f"--authentication-kubeconfig={conf}", f"--authorization-kubeconfig={conf}"]

    return {
        "etcd": [
            str(bins["etcd"]), "--name=localkube", f"--data-dir={d / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=localkube={peer_url}", "--initial-cluster-state=new",
            f"--cert-file={p['etcd.crt']}", f"--key-file={p['etcd.key']}",
            f"--trusted-ca-file={p['etcd-ca.crt']}", "--client-cert-auth=true",
            f"--peer-cert-file={p['etcd.crt']}", f"--peer-key-file={p['etcd.key']}",
            f"--peer-trusted-ca-file={p['etcd-ca.crt']}", "--peer-client-cert-auth=true",
            # A throwaway test cluster: durability is not worth the fsync latency.
            "--unsafe-no-fsync=true", "--log-level=warn",
        ],
        "kube-apiserver": [
            str(bins["kube-apiserver"]),
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={ports['apiserver']}",
            f"--cert-dir={d / 'run' / 'apiserver'}",
            f"--tls-cert-file={p['apiserver.crt']}", f"--tls-private-key-file={p['apiserver.key']}",
            f"--client-ca-file={p['ca.crt']}",
            f"--etcd-servers={etcd_url}", f"--etcd-cafile={p['etcd-ca.crt']}",
            f"--etcd-certfile={p['apiserver-etcd-client.crt']}", f"--etcd-keyfile={p['apiserver-etcd-client.key']}",
            f"--requestheader-client-ca-file={p['front-proxy-ca.crt']}",
            f"--requestheader-allowed-names={pki.FRONT_PROXY_CLIENT}",
            "--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={p['front-proxy-client.crt']}",
            f"--proxy-client-key-file={p['front-proxy-client.key']}",
            "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={p['sa.pub']}", f"--service-account-signing-key-file={p['sa.key']}",
            f"--service-cluster-ip-range={pki.SERVICE_CIDR}",
            # Endpoints may not hold a loopback address; nothing in the cluster dials the service.
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true", "--profiling=false",
        ],
        "kube-controller-manager": [
            str(bins["kube-controller-manager"]), *common_auth(kc / "controller-manager.conf"),
            "--bind-address=127.0.0.1", f"--secure-port={ports['controller-manager']}",
            f"--cert-dir={d / 'run' / 'controller-manager'}", "--leader-elect=false",
            f"--root-ca-file={p['ca.crt']}", f"--service-account-private-key-file={p['sa.key']}",
            f"--cluster-signing-cert-file={p['ca.crt']}", f"--cluster-signing-key-file={p['ca.key']}",
            "--use-service-account-credentials=true", f"--service-cluster-ip-range={pki.SERVICE_CIDR}",
            "--cluster-name=localkube", "--profiling=false",
        ],
        "kube-scheduler": [
            str(bins["kube-scheduler"]), *common_auth(kc / "scheduler.conf"),
            "--bind-address=127.0.0.1", f"--secure-port={ports['scheduler']}",
            f"--cert-dir={d / 'run' / 'scheduler'}", "--leader-elect=false", "--profiling=false",
        ],
        "kwok": [
            str(bins["kwok"]), f"--kubeconfig={kc / 'kwok.conf'}", f"--config={d / 'kwok.yaml'}",
            f"--server-address=127.0.0.1:{ports['kwok']}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={nodes.KWOK_ANNOTATION}={nodes.KWOK_ANNOTATION_VALUE}",
            "--cidr=10.244.0.1/16", "--node-ip=10.240.0.1", "--node-lease-duration-seconds=40",
        ],
    }


# ---------------------------------------------------------------------------------------------
# readiness

def _deadline_check(cluster: Cluster, deadline: float, what: str, names: tuple[str, ...]) -> None:
    for name in names:
        if not _alive(cluster.pids.get(name, {})):
            raise LocalkubeError(f"{name} exited while waiting for {what}; last log lines:\n"
                                 f"{_log_tail(cluster.data_dir, name)}")
    if time.monotonic() > deadline:
        raise LocalkubeError(f"timed out waiting for {what}")


def _readyz(client: KubeClient) -> bool:
    try:
        return client.request("GET", "/readyz", raw=True).strip() == "ok"
    except (OSError, KubeError):
        client.close()
        return False


def is_healthy(cluster: Cluster) -> bool:
    if not all(_alive(cluster.pids.get(n, {})) for n in ORDER):
        return False
    try:
        with KubeClient(cluster.kubeconfig, timeout=5) as client:
            return _readyz(client)
    except (OSError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------
# up / down / status

def up(data_dir: str | os.PathLike, default_nodes: int = 2, default_pool: str = DEFAULT_POOL,
       default_flavor: str = DEFAULT_FLAVOR, timeout: float = 90.0, echo=print,
       owner_pid: int | None = None, apiserver_port: int | None = None) -> Cluster:
    """Start the cluster in ``data_dir`` and wait until it is usable; a no-op if it is already up.

    Usable means: /readyz is ok, namespace ``default`` and service account ``default/default``
    exist, and the ``default_nodes`` nodes of pool ``default_pool`` are Ready.
    With ``owner_pid``, a watchdog process brings the cluster down when that process dies without
    calling ``down`` (a killed pytest session, for instance). With ``apiserver_port``, the API
    server listens there (the OVH emulator tells its clients the URL before the cluster starts);
    the other components take free ports.
    """
    data_dir = Path(data_dir).resolve()
    with dir_lock(build.cache_root(), data_dir):
        cluster = _up(data_dir, default_nodes, default_pool, default_flavor, timeout, echo, apiserver_port)
        if owner_pid is not None and not _alive(cluster.pids.get(WATCHDOG, {})):
            _spawn_watchdog(cluster, owner_pid)
        return cluster


def _spawn_watchdog(cluster: Cluster, owner_pid: int) -> None:
    owner_start = _proc_start_time(owner_pid)
    if owner_start is None:
        raise LocalkubeError(f"owner process {owner_pid} is not running")
    argv = [sys.executable, "-m", "localkube", "watchdog", "--data-dir", str(cluster.data_dir),
            "--owner-pid", str(owner_pid), "--owner-start", str(owner_start)]
    _spawn(cluster, WATCHDOG, argv)


def watchdog(data_dir: str | os.PathLike, owner_pid: int, owner_start: int, interval: float = 1.0) -> int:
    """Wait until the owner process is gone, then bring the cluster down (if still there)."""
    data_dir = Path(data_dir).resolve()
    owner = {"pid": owner_pid, "start": owner_start}
    while _alive(owner) and (data_dir / MARKER).exists():
        time.sleep(interval)
    if (data_dir / MARKER).exists():
        down(data_dir, echo=lambda m: print(f"watchdog: {m}", flush=True))
    return 0


def _up(data_dir: Path, default_nodes: int, default_pool: str, default_flavor: str, timeout: float,
        echo, apiserver_port: int | None = None) -> Cluster:
    existing = Cluster.load(data_dir)
    if existing is not None:
        if is_healthy(existing):
            echo(f"localkube already up in {data_dir} ({existing.server})")
            return existing
        echo(f"localkube in {data_dir} is not healthy: restarting it from scratch")
        _down(data_dir, 20.0, echo)
    if data_dir.exists() and any(data_dir.iterdir()) and not (data_dir / MARKER).exists():
        raise LocalkubeError(f"{data_dir} exists, is not empty and is not a localkube data dir")

    t0 = time.monotonic()
    bins = build.ensure_binaries(echo=echo)
    t_bins = time.monotonic()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (data_dir / MARKER).write_text("localkube data dir; removed by `python -m localkube down`\n")
    for sub in ("logs", "kubeconfigs", "home", "run"):
        (data_dir / sub).mkdir(exist_ok=True)
    (data_dir / "kwok.yaml").write_text(nodes.kwok_config())  # the pod stages (nodes.KWOK_STAGES)
    paths = pki.generate(data_dir / "pki")
    names = ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler", "kwok")
    ports = dict(zip(names, _free_ports(6, avoid={apiserver_port} if apiserver_port else ())))
    if apiserver_port:
        ports["apiserver"] = int(apiserver_port)
    server = f"https://127.0.0.1:{ports['apiserver']}"
    cluster = Cluster(data_dir, data_dir / "kubeconfig", server, ports)
    _write_private(cluster.kubeconfig, _kubeconfig(server, paths["ca.crt"], paths["admin.crt"], paths["admin.key"],
                                                   "localkube-admin", embed=True))
    for comp in ("controller-manager", "scheduler", "kwok"):
        _write_private(data_dir / "kubeconfigs" / f"{comp}.conf",
                       _kubeconfig(server, paths["ca.crt"], paths[f"{comp}.crt"], paths[f"{comp}.key"], comp, embed=False))
    cluster.save()
    cmds = _commands(cluster, bins, paths)
    deadline = time.monotonic() + timeout
    try:
        for name in ("etcd", "kube-apiserver"):
            _spawn(cluster, name, cmds[name])
        started = ORDER[:2]
        with KubeClient(cluster.kubeconfig, timeout=10) as client:
            while not _readyz(client):
                _deadline_check(cluster, deadline, "kube-apiserver /readyz", started)
                time.sleep(0.1)
            t_ready = time.monotonic()
            # Only now: before /readyz the RBAC bootstrap roles are missing and these components
            # exit on their first authorization check.
            for name in ("kube-controller-manager", "kube-scheduler", "kwok"):
                _spawn(cluster, name, cmds[name])
            started = ORDER
            if default_nodes:
                nodes.sync_pool_nodes(client, default_pool, default_flavor, default_nodes)
            while True:
                ns = client.get_or_none("/api/v1/namespaces/default")
                sa = client.get_or_none("/api/v1/namespaces/default/serviceaccounts/default")
                if ns and sa:
                    break
                _deadline_check(cluster, deadline, "namespace default and serviceaccount default/default", started)
                time.sleep(0.1)
            while default_nodes:
                pool = nodes.list_pool_nodes(client, default_pool)
                if len(pool) == default_nodes and all(nodes._ready(n) for n in pool):
                    break
                _deadline_check(cluster, deadline, f"{default_nodes} Ready nodes in pool {default_pool}", started)
                time.sleep(0.1)
    except BaseException:
        echo(f"localkube up failed; stopping what was started (logs were in {data_dir / 'logs'})")
        keep = data_dir.parent / (data_dir.name + ".failed-logs")
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(data_dir / "logs", keep, dirs_exist_ok=True)
        _down(data_dir, 20.0, echo)
        echo(f"component logs copied to {keep}")
        raise
    t_end = time.monotonic()
    cluster.timings = {"binaries_s": round(t_bins - t0, 2), "apiserver_ready_s": round(t_ready - t_bins, 2),
                       "usable_s": round(t_end - t_bins, 2), "total_s": round(t_end - t0, 2)}
    cluster.save()
    echo(f"localkube up in {t_end - t0:.1f}s: {server}; export KUBECONFIG={cluster.kubeconfig}")
    return cluster


def down(data_dir: str | os.PathLike, timeout: float = 20.0, echo=print) -> list[int]:
    """Stop every process recorded in ``data_dir`` and remove the directory.

    Returns the pids that were stopped. Raises LocalkubeError (and keeps the directory) if a
    process survives SIGKILL.
    """
    data_dir = Path(data_dir).resolve()
    with dir_lock(build.cache_root(), data_dir):
        return _down(data_dir, timeout, echo)


def _to_take_down(data_dir: Path, product: str, marker: str, error: type[Exception], echo) -> bool:
    """Whether ``data_dir`` is there to take down: False (and says so) if it does not exist; raises
    ``error`` if it is not ``product``'s (no ``marker`` file)."""
    if not data_dir.exists():
        echo(f"{product}: nothing in {data_dir}")
        return False
    if not (data_dir / marker).exists():
        raise error(f"{data_dir} is not a {product} data dir (no {marker}); not touching it")
    return True


def _down(data_dir: Path, timeout: float, echo) -> list[int]:
    if not _to_take_down(data_dir, "localkube", MARKER, LocalkubeError, echo):
        return []
    cluster = Cluster.load(data_dir)
    entries = [(n, cluster.pids[n]) for n in (WATCHDOG, *reversed(ORDER)) if cluster and n in cluster.pids
               and cluster.pids[n].get("pid") != os.getpid()]  # the watchdog may be the one calling
    live = [(n, e) for n, e in entries if _alive(e)]
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        for dummy, e in live:
            try:
                os.killpg(e["pid"], sig)  # each component leads its own session/process group
            except ProcessLookupError:
                pass
        end = time.monotonic() + wait
        while live and time.monotonic() < end:
            for dummy, e in live:
                _reap(e["pid"])
            live = [(n, e) for n, e in live if _alive(e)]
            if live:
                time.sleep(0.05)
        if not live:
            break
    if live:
        raise LocalkubeError(f"processes survived SIGKILL: {[(n, e['pid']) for n, e in live]}; kept {data_dir}")
    # Dead but not yet reaped (zombies of init, when `up` ran in another process): give the reaper
    # a moment so that nothing of ours is left in the process table when we return.
    end = time.monotonic() + 5.0
    while time.monotonic() < end:
        left = [e["pid"] for _name, e in entries if _in_proc_table(e)]
        for pid in left:
            _reap(pid)
        if not left:
            break
        time.sleep(0.05)
    shutil.rmtree(data_dir)
    stopped = [e["pid"] for dummy, e in entries]
    echo(f"localkube down: stopped {len(stopped)} processes, removed {data_dir}")
    return stopped


def status(data_dir: str | os.PathLike) -> dict:
    data_dir = Path(data_dir).resolve()
    cluster = Cluster.load(data_dir)
    if cluster is None:
        return {"data_dir": str(data_dir), "up": False, "processes": {}}
    procs = {n: {"pid": cluster.pids.get(n, {}).get("pid"), "alive": _alive(cluster.pids.get(n, {}))} for n in ORDER}
    return {"data_dir": str(data_dir), "up": is_healthy(cluster), "server": cluster.server,
            "kubeconfig": str(cluster.kubeconfig), "ports": cluster.ports, "processes": procs,
            "timings": cluster.timings}
