"""One local Kubernetes control plane per OVH cluster (the emulator's ``--clusters-dir`` mode).

Each OVH cluster the emulator creates gets its own localkube control plane, and (with ``--argocd``) its own
Argo CD supervisor (localargo), under ``<clusters dir>/<dir>/``::

    cluster.json            the OVH cluster it backs (id, name), phase, ports, error, timings
    kube/                   the localkube data dir (kube/kubeconfig: the admin kubeconfig the OVH API returns)
    localargo/              the localargo data dir (supervisor, components, logs)
    argocd/url              the Argo CD API server's URL (loopback; written when the control plane is up,
                            before Argo CD is installed)
    argocd/admin-password   the initial admin password (0600; written once argocd-server generated it)

``<dir>`` is the cluster's name when it is a plain file name (letters, digits, ``.``, ``_``, ``-``),
otherwise its id; it stays when the cluster is renamed. Starting takes place in a background thread
(the cluster stays INSTALLING until its control plane answers), stopping too (DELETING until every
process is gone). ``max_clusters`` (a setting, default 4) bounds how many exist at once.

The ports are chosen when the cluster is created (the OVH API answers with the cluster's URL at once) and
held bound by the emulator until the control plane takes them. The Argo CD API port of the *next*
cluster is reserved ahead (``next-argocd-port``), so that the sandbox's environment file can name the
first cluster's Argo CD before that cluster exists.

``localkube`` and ``localargo`` are imported lazily, on first use (tests put doubles of them first on
``PYTHONPATH``). Without ``--clusters-dir`` the emulator answers with synthetic kubeconfigs.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Callable

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
RECORD = "cluster.json"
NEXT_ARGOCD_PORT = "next-argocd-port"
DEFAULT_MAX_CLUSTERS = 4
START_TIMEOUT = 180.0


def dir_name(name: str | None, kube_id: str) -> str:
    """The directory of a cluster: its name when that is a plain file name, else its id."""
    return name if name and NAME_RE.match(name) and name not in (".", "..") else kube_id


def nodes():
    """``localkube.nodes`` (the simulated nodes of a control plane), imported on first use."""
    return importlib.import_module("localkube.nodes")


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_record(cluster_dir: Path) -> dict:
    try:
        return json.loads((Path(cluster_dir) / RECORD).read_text())
    except (OSError, ValueError):
        return {}


def stop_dir(cluster_dir: Path, echo=print) -> None:
    """Stop the Argo CD supervisor and the control plane kept in ``cluster_dir``, then remove it."""
    cluster_dir = Path(cluster_dir)
    for sub, module in (("localargo", "localargo.run"), ("kube", "localkube.cluster")):
        if (cluster_dir / sub).exists():
            try:
                importlib.import_module(module).down(cluster_dir / sub, echo=echo)
            except FileNotFoundError:
                # taken down meanwhile by another stopper (the emulator deleting the cluster): only a failure
                # if something of it is still there
                if (cluster_dir / sub).exists():
                    raise
    shutil.rmtree(cluster_dir, ignore_errors=True)


def stop_all_dirs(root: Path, echo=print) -> list[str]:
    """Stop every cluster kept under ``root`` (what ``keiko-sandbox down`` does); the names stopped."""
    root = Path(root)
    if not root.is_dir():
        return []
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and (p / RECORD).exists())
    failed = []
    for name in names:  # one cluster that does not stop does not keep the others running
        try:
            stop_dir(root / name, echo=echo)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            failed.append(f"{name}: {exc}")
    if failed:
        raise RuntimeError("could not stop " + "; ".join(failed))
    return names


class ControlPlanes:
    """The control planes of the emulator's clusters: ``plan`` (at create), ``start``, ``stop``, ``phase``."""

    def __init__(self, root: str | Path, argocd: bool = False, owned: bool = False, echo=None):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.argocd = argocd
        # owned: the control planes belong to this emulator process (watchdogs on its pid, stopped when it
        # stops); otherwise they outlive it and a restarted emulator finds them again.
        self.owned = owned
        self.echo = echo or (lambda msg: print(f"ovh-emulator: {msg}", flush=True))
        self.on_ready: Callable[[str], None] | None = None  # called with the kube id once a control plane is up
        self._lock = threading.RLock()
        self._phases: dict[str, dict] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._held: dict[int, socket.socket] = {}
        self._next_argocd = self._reserve_next()

    # -- ports -------------------------------------------------------------------------------
    def _hold(self, port: int = 0) -> int | None:
        """Bind 127.0.0.1:port (0: a free one) without listening, so that nothing else takes it."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            return None
        got = sock.getsockname()[1]
        with self._lock:
            self._held[got] = sock
        return got

    def _release(self, port: int | None) -> None:
        with self._lock:
            sock = self._held.pop(port, None) if port else None
        if sock is not None:
            sock.close()

    def _reserve_next(self) -> int | None:
        if not self.argocd:
            return None
        path = self.root / NEXT_ARGOCD_PORT
        try:
            port = self._hold(int(path.read_text().strip()))
        except (OSError, ValueError):
            port = None
        port = port or self._hold(0)
        path.write_text(f"{port}\n")
        return port

    @property
    def next_argocd_url(self) -> str | None:
        """The Argo CD API URL the next cluster created will have."""
        return f"http://127.0.0.1:{self._next_argocd}" if self._next_argocd else None

    # -- the API's side ----------------------------------------------------------------------
    def plan(self, kube_id: str, name: str | None) -> dict:
        """What a new cluster gets: its directory and ports (held until its start)."""
        with self._lock:
            plan = {"kube_id": kube_id, "dir": dir_name(name, kube_id), "apiserver_port": self._hold(0)}
            if self.argocd:
                plan["argocd_port"] = self._next_argocd
                self._next_argocd = self._reserve_next()
        return plan

    def phase(self, d: str) -> str | None:
        """starting, ready, failed, stopping (None: nothing known of it)."""
        with self._lock:
            return (self._phases.get(d) or {}).get("phase")

    def error(self, d: str) -> str | None:
        with self._lock:
            return (self._phases.get(d) or {}).get("error")

    def kubeconfig(self, d: str) -> Path:
        return self.root / d / "kube" / "kubeconfig"

    def content(self, d: str) -> str:
        return self.kubeconfig(d).read_text(encoding="utf-8")

    def argocd_url(self, d: str) -> str | None:
        try:
            return (self.root / d / "argocd" / "url").read_text().strip() or None
        except OSError:
            return None

    def _set(self, d: str, **values) -> None:
        with self._lock:
            rec = self._phases.setdefault(d, {})
            rec.update(values)
            snapshot = dict(rec)
        target = self.root / d
        if target.is_dir():
            _write_json(target / RECORD, {k: v for k, v in snapshot.items() if k != "thread"})

    # -- start / stop ------------------------------------------------------------------------
    def start(self, plan: dict, name: str, attach: bool = False) -> None:
        """Start (or, with ``attach``, find running or restart) the control plane of ``plan`` in the background."""
        d = plan["dir"]
        with self._lock:
            if self.phase(d) in ("starting", "ready"):
                return
            target = self.root / d
            if not attach and target.exists():  # left by an emulator state that forgot it
                stop_dir(target, echo=self.echo)
            target.mkdir(parents=True, exist_ok=True)
            self._set(d, **{k: v for k, v in plan.items() if k != "dir"}, dir=d, name=name, phase="starting",
                      error=None, started_at=time.time())
            t = threading.Thread(target=self._start, args=(plan,), name=f"controlplane-{d}", daemon=True)
            self._threads[d] = t
        t.start()

    def _start(self, plan: dict) -> None:
        d = plan["dir"]
        target = self.root / d
        t0 = time.monotonic()
        owner = os.getpid() if self.owned else None
        try:
            kcluster = importlib.import_module("localkube.cluster")
            self._release(plan.get("apiserver_port"))
            c = kcluster.up(target / "kube", default_nodes=0, timeout=START_TIMEOUT, echo=self.echo, owner_pid=owner,
                            apiserver_port=plan.get("apiserver_port"))
            t_kube = time.monotonic()
            timings = {"controlplane_s": round(t_kube - t0, 2)}
            if self.argocd:
                self._release(plan.get("argocd_port"))
                importlib.import_module("localargo.run").up(
                    target / "localargo", c.kubeconfig, owner_pid=owner, echo=self.echo,
                    server_port=plan.get("argocd_port"), url_file=target / "argocd" / "url",
                    password_file=target / "argocd" / "admin-password")
                timings["argocd_supervisor_s"] = round(time.monotonic() - t_kube, 2)
            self._set(d, phase="ready", server=c.server, timings=timings)
            self.echo(f"control plane of cluster {d} up in {time.monotonic() - t0:.1f}s: {c.server}")
        except Exception as exc:  # noqa: BLE001 - reported through the cluster's ERROR status
            self._set(d, phase="failed", error=f"{type(exc).__name__}: {exc}"[-2000:])
            self.echo(f"control plane of cluster {d} failed to start: {exc}")
            return
        if self.on_ready is not None:
            try:
                self.on_ready(plan["kube_id"])
            except Exception as exc:  # noqa: BLE001
                self.echo(f"after the start of cluster {d}: {type(exc).__name__}: {exc}")

    def stop(self, d: str, wait: bool = False) -> None:
        """Stop and remove the control plane of ``d`` (in the background unless ``wait``)."""
        with self._lock:
            if self.phase(d) == "stopping" and not wait:
                return
            before = self._threads.get(d)
            self._set(d, phase="stopping")
            t = threading.Thread(target=self._stop, args=(d, before), name=f"controlplane-stop-{d}", daemon=True)
            self._threads[d] = t
        t.start()
        if wait:
            t.join()

    def _stop(self, d: str, before: threading.Thread | None) -> None:
        if before is not None and before is not threading.current_thread():
            before.join()  # a start still running finishes first
        with self._lock:
            plan = dict(self._phases.get(d) or {})
        for key in ("apiserver_port", "argocd_port"):
            self._release(plan.get(key))
        try:
            stop_dir(self.root / d, echo=self.echo)
        except Exception as exc:  # noqa: BLE001
            self._set(d, phase="failed", error=f"stop: {type(exc).__name__}: {exc}")
            self.echo(f"control plane of cluster {d} did not stop: {exc}")
            return
        with self._lock:
            self._phases.pop(d, None)
            self._threads.pop(d, None)
        self.echo(f"control plane of cluster {d} stopped and removed")

    def stopped(self, d: str) -> bool:
        return self.phase(d) is None and not (self.root / d).exists()

    def known(self) -> list[str]:
        with self._lock:
            return sorted(self._phases)

    def close(self) -> None:
        """Emulator shutdown: release the held ports; an owning emulator stops every control plane."""
        if self.owned:
            threads = []
            for d in self.known():
                self.stop(d)
                threads.append(self._threads.get(d))
            for t in threads:
                if t is not None:
                    t.join(timeout=60)
        with self._lock:
            held = list(self._held.values())
            self._held.clear()
        for sock in held:
            sock.close()

    def describe(self) -> list[dict]:
        """Every control plane: name, dir, phase, API server, Argo CD URL, kubeconfig (for the admin API)."""
        out = []
        for d in self.known():
            with self._lock:
                rec = dict(self._phases.get(d) or {})
            out.append({"dir": d, "name": rec.get("name"), "kube_id": rec.get("kube_id"), "phase": rec.get("phase"),
                        "error": rec.get("error"), "server": f"https://127.0.0.1:{rec.get('apiserver_port')}",
                        "kubeconfig": str(self.kubeconfig(d)), "argocd_url": self.argocd_url(d),
                        "timings": rec.get("timings")})
        return out
