"""Start, stop and inspect the sandbox: the OVH API emulator and (when available) its local Kubernetes
control planes (localkube) and Argo CD processes (localargo).

    keiko-sandbox up     [--dir .sandbox] [--with-kube | --no-kube] [--port N] [--transition-seconds S]
    keiko-sandbox status [--dir .sandbox]
    keiko-sandbox env    [--dir .sandbox]
    keiko-sandbox down   [--dir .sandbox]

(``keiko-sandbox`` is this module's console script, installed by ``make venv``; ``python -m sandboxctl``
is the same.)

Layout of ``--dir``: ``ovh/`` (emulator state, ``emulator.pid``, ``emulator.log``, ``ready.json``),
``clusters/<cluster name>/`` (one per OVH Kubernetes cluster the emulator created: ``kube/`` its control
plane, ``kube/kubeconfig``; ``localargo/`` its Argo CD processes; ``argocd/url`` and
``argocd/admin-password``; see ``ovh_emulator.localkube_bridge``), ``git/`` (the git server:
``repos/keiko-gitops.git``, the GitOps remote, served over HTTP on loopback with basic auth; ``server/`` its
state and log; ``credentials`` its password, 0600), ``env`` (shell exports, 0600), ``sandbox.json`` (what
``up`` started). ``up`` is idempotent: a running emulator is reused (restarted only when the kube wiring
changes; the control planes outlive it and the restarted emulator finds them again). ``down`` stops only
processes whose pid file and command line match, every cluster's control plane and Argo CD, and removes the
directory.

The emulator gives each cluster a control plane of its own (``--clusters-dir``) by default when the
localkube package is present and its binaries are cached (``localkube.build.cached_binaries()``);
``--with-kube`` insists, ``--no-kube`` skips (synthetic kubeconfigs). ``KEIKO_SANDBOX_KUBE=0|1`` sets the
default. ``--max-clusters N`` (default 4) bounds how many clusters exist at once. Each cluster gets an Argo
CD supervisor too when the Argo CD binaries are cached (``localargo.build.cached_binaries()``,
``make argocd-binaries``); ``--with-argocd`` insists, ``--no-argocd`` skips. Its components start once
bootstrap has installed Argo CD's objects in that cluster. ``KEIKO_ARGOCD_URL`` in ``env`` is the Argo CD of
the first cluster (reserved before that cluster exists).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

EMULATOR_MODULE = "ovh_emulator"


def _env() -> dict[str, str]:
    return dict(os.environ)


def _echo(msg: str) -> None:
    print(f"sandboxctl: {msg}", file=sys.stderr, flush=True)


# -- process checks ------------------------------------------------------------------------------
def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [p.decode(errors="replace") for p in raw.split(b"\0") if p]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _our_emulator(pid: int, state_dir: Path) -> bool:
    cmd = _cmdline(pid)
    return _alive(pid) and EMULATOR_MODULE in cmd and "serve" in cmd and str(state_dir) in cmd


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class Paths:
    def __init__(self, root: Path):
        self.root = root.resolve()
        self.ovh = self.root / "ovh"
        self.clusters = self.root / "clusters"
        # the single control plane and Argo CD of earlier versions (stopped by up and down)
        self.kube = self.root / "kube"
        self.pid = self.ovh / "emulator.pid"
        self.log = self.ovh / "emulator.log"
        self.ready = self.ovh / "ready.json"
        self.env = self.root / "env"
        self.record = self.root / "sandbox.json"
        self.git = self.root / "git"
        self.git_repos = self.git / "repos"
        self.git_state = self.git / "server"
        self.git_credentials = self.git / "credentials"
        self.argocd = self.root / "argocd"


GITOPS_REPOSITORY = "keiko-gitops"
GIT_USERNAME = "keiko"


# -- localkube -----------------------------------------------------------------------------------
def localkube_available() -> tuple[bool, str]:
    if importlib.util.find_spec("localkube") is None:
        return False, "the localkube package is not installed (make venv)"
    probe = ("import sys\nfrom localkube import build\n"
             "sys.exit(0 if build.cached_binaries() else 1)\n")
    try:
        r = subprocess.run([sys.executable, "-c", probe], env=_env(), capture_output=True, text=True, timeout=60,
                           check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"cannot ask localkube: {exc}"
    if r.returncode == 0:
        return True, "binaries cached"
    return False, "localkube binaries are not built (make kube-binaries)" if r.returncode == 1 else \
        f"localkube probe failed: {r.stderr.strip()[-300:]}"


def git_up(p: Paths) -> dict:
    """The git server of the GitOps remote (one bare repository, seeded by bootstrap)."""
    import secrets

    from gitserver import process as gitserver

    if not p.git_credentials.exists():
        p.git.mkdir(parents=True, exist_ok=True)
        _write_private(p.git_credentials, secrets.token_urlsafe(24) + "\n")
    password = p.git_credentials.read_text().strip()
    state = gitserver.start(p.git_state, p.git_repos, GIT_USERNAME, password, echo=_echo)
    gitserver.init_bare(p.git_repos, GITOPS_REPOSITORY)
    return {"url": f"{state['url'].rstrip('/')}/{GITOPS_REPOSITORY}.git", "username": GIT_USERNAME,
            "password": password, "pid": state["pid"], "state_dir": str(p.git_state)}


def git_down(p: Paths) -> None:
    if p.git_state.exists():
        from gitserver import process as gitserver

        gitserver.stop(p.git_state, echo=_echo)


def argocd_available() -> tuple[bool, str]:
    if importlib.util.find_spec("localargo") is None:
        return False, "the localargo package is not installed (make venv)"
    from localargo import build as argo_build

    if argo_build.cached_binaries():
        return True, "binaries cached"
    return False, "the Argo CD binaries are not built (make argocd-binaries)"


def clusters_down(p: Paths) -> None:
    """Stop the control plane and Argo CD of every cluster (the emulator leaves them running when it stops)."""
    if p.clusters.exists():
        from ovh_emulator import localkube_bridge

        stopped = localkube_bridge.stop_all_dirs(p.clusters, echo=_echo)
        if stopped:
            _echo(f"stopped the control planes of {', '.join(stopped)}")


def clusters(p: Paths, endpoint: str | None = None) -> list[dict]:
    """The clusters with a control plane, oldest first: name, dir, API server, kubeconfig, Argo CD URL and the
    admin password file (from the emulator when it runs, else from the directories)."""
    from ovh_emulator import localkube_bridge

    rows = []
    state = None
    if endpoint:
        try:
            state = _admin_get(endpoint, "state")
        except (OSError, ValueError):
            state = None
    for proj in ((state or {}).get("projects") or {}).values():
        for c in (proj.get("kube") or {}).values():
            plane = c.get("_controlplane")
            if plane:
                rows.append({"name": c["name"], "id": c["id"], "status": c["status"], "created": c["createdAt"],
                             "dir": plane["dir"], "apiserver_port": plane.get("apiserver_port"),
                             "argocd_port": plane.get("argocd_port")})
    if state is None and p.clusters.is_dir():  # the emulator is not running: what the directories say
        for d in sorted(p.clusters.iterdir()):
            rec = localkube_bridge.read_record(d)
            if rec:
                rows.append({"name": rec.get("name"), "id": rec.get("kube_id"), "status": None,
                             "created": rec.get("started_at"), "dir": d.name,
                             "apiserver_port": rec.get("apiserver_port"), "argocd_port": rec.get("argocd_port")})
    rows.sort(key=lambda r: (str(r["created"]), r["dir"]))
    out = []
    for r in rows:
        d = p.clusters / r["dir"]
        rec = localkube_bridge.read_record(d)
        out.append({
            "name": r["name"], "id": r["id"], "status": r["status"], "dir": str(d),
            "phase": rec.get("phase") or "unknown", "error": rec.get("error"),
            "api_server": f"https://127.0.0.1:{r['apiserver_port']}" if r["apiserver_port"] else None,
            "kubeconfig": str(d / "kube" / "kubeconfig"),
            "argocd_url": f"http://127.0.0.1:{r['argocd_port']}" if r["argocd_port"] else None,
            "argocd_admin_password_file": str(d / "argocd" / "admin-password"),
        })
    return out


def argocd_down(p: Paths) -> None:
    if p.argocd.exists():
        from localargo import run as localargo

        localargo.down(p.argocd, echo=_echo)


def kube_down(p: Paths) -> None:
    if not p.kube.exists():
        return
    _echo("stopping localkube")
    r = subprocess.run([sys.executable, "-m", "localkube", "down", "--data-dir", str(p.kube)], env=_env(), check=False)
    if r.returncode != 0:
        _echo(f"localkube down exited {r.returncode}")


# -- emulator ------------------------------------------------------------------------------------
def emulator_pid(p: Paths) -> int | None:
    try:
        pid = int(p.pid.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _our_emulator(pid, p.ovh) else None


def emulator_start(p: Paths, port: int, kube: dict | None, transition: float | None,
                   timeout: float = 60.0) -> dict:
    p.ovh.mkdir(parents=True, exist_ok=True)
    if p.ready.exists():
        p.ready.unlink()
    cmd = [sys.executable, "-m", EMULATOR_MODULE, "serve", "--state-dir", str(p.ovh), "--host", "127.0.0.1",
           "--port", str(port), "--ready-file", str(p.ready)]
    if kube:
        cmd += ["--clusters-dir", kube["clusters_dir"]] + (["--argocd"] if kube["argocd"] else [])
        if kube.get("max_clusters"):
            cmd += ["--max-clusters", str(kube["max_clusters"])]
    if transition is not None:
        cmd += ["--transition-seconds", str(transition)]
    with open(p.log, "ab") as log:
        proc = subprocess.Popen(cmd, env=_env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    _write_private(p.pid, f"{proc.pid}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            p.pid.unlink(missing_ok=True)
            tail = p.log.read_text(errors="replace")[-2000:] if p.log.exists() else ""
            raise RuntimeError(f"emulator exited with {proc.returncode}:\n{tail}")
        info = _read_json(p.ready)
        if info.get("pid") == proc.pid:
            return info
        time.sleep(0.05)
    emulator_stop(p)
    raise RuntimeError(f"emulator not ready after {timeout}s (log: {p.log})")


def emulator_stop(p: Paths, timeout: float = 15.0) -> bool:
    pid = emulator_pid(p)
    if pid is None:
        p.pid.unlink(missing_ok=True)
        return False
    _echo(f"stopping the OVH API emulator (pid {pid})")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid) and _our_emulator(pid, p.ovh):
        os.kill(pid, signal.SIGKILL)
    p.pid.unlink(missing_ok=True)
    return True


def _admin_get(endpoint: str, name: str) -> dict:
    import urllib.request

    url = endpoint.rsplit("/1.0", 1)[0] + f"/_emulator/{name}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as resp:
        return json.loads(resp.read())


def _admin_post(endpoint: str, name: str, payload: dict) -> dict:
    import urllib.request

    url = endpoint.rsplit("/1.0", 1)[0] + f"/_emulator/{name}"
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def argocd_vars(url: str) -> dict[str, str]:
    """How the argocd CLI and the playbooks reach an Argo CD API server (no secret)."""
    return {"ARGOCD_SERVER": url.split("//", 1)[1], "ARGOCD_OPTS": "--plaintext", "KEIKO_ARGOCD_API_URL": url,
            "KEIKO_ARGOCD_NAMESPACE": "argocd", "KEIKO_ARGOCD_ADMIN_SECRET": "argocd-initial-admin-secret"}


def write_env(p: Paths, info: dict, kubeconfig: Path | None, git: dict | None = None,
              argocd: dict | None = None, planes: list[dict] | None = None) -> None:
    q = shlex.quote
    base = info["endpoint"].rsplit("/1.0", 1)[0]
    lines = [
        "# keikolatam.gitops sandbox: generated by keiko-sandbox (source it)",
        f"export OVH_ENDPOINT={q(info['endpoint'])}",
        f"export OVH_APPLICATION_KEY={q(info['application_key'])}",
        f"export OVH_APPLICATION_SECRET={q(info['application_secret'])}",
        f"export OVH_CONSUMER_KEY={q(info['consumer_key'])}",
        f"export OVH_CLOUD_PROJECT_SERVICE={q(info['service_name'])}",
        f"export OVH_OAUTH2_TOKEN_URL={q(info['token_url'])}",
        f"export OVH_EMULATOR_ADMIN_URL={q(base + '/_emulator')}",
        "# Keystone of the emulated project's Public Cloud users (the ingress role's floating IP).",
        f"export KEIKO_OPENSTACK_AUTH_URL={q(info.get('openstack_auth_url') or base + '/openstack/identity/v3')}",
        "# The emulator's OAuth2 service account. To use it instead of the application key, unset the",
        "# three OVH_APPLICATION_*/OVH_CONSUMER_KEY variables and export these as OVH_CLIENT_ID/OVH_CLIENT_SECRET.",
        f"export OVH_SANDBOX_CLIENT_ID={q(info['client_id'])}",
        f"export OVH_SANDBOX_CLIENT_SECRET={q(info['client_secret'])}",
    ]
    if info.get("clusters_dir"):
        lines += ["# Each OVH Kubernetes cluster of the emulator has a local control plane (and Argo CD) under this",
                  "# directory: <name>/kube/kubeconfig, <name>/argocd/url, <name>/argocd/admin-password.",
                  f"export KEIKO_SANDBOX_CLUSTERS_DIR={q(info['clusters_dir'])}"]
        for c in planes or []:
            lines.append(f"#   cluster {c['name']}: API server {c['api_server']}, Argo CD {c['argocd_url'] or '-'}")
    if kubeconfig:
        lines += ["# The first cluster's admin kubeconfig.", f"export KUBECONFIG={q(str(kubeconfig))}"]
    mirror = os.environ.get("KEIKO_UPSTREAM_MIRROR")
    if mirror:
        lines.append(f"export KEIKO_UPSTREAM_MIRROR={q(mirror)}")
    if git:
        lines += ["# The GitOps remote (git over HTTP on loopback, basic auth): inventories/sandbox reads these.",
                  f"export KEIKO_GITOPS_URL={q(git['url'])}",
                  f"export KEIKO_GITOPS_USERNAME={q(git['username'])}",
                  f"export KEIKO_GITOPS_PASSWORD={q(git['password'])}"]
    if argocd:
        lines += ["# The real Argo CD of the sandbox's first cluster: API and UI (log in as admin with the password of",
                  "# the Secret argocd/argocd-initial-admin-secret, which Argo CD generates in the cluster; also in",
                  "# <clusters dir>/<name>/argocd/admin-password).",
                  f"export KEIKO_ARGOCD_URL={q(argocd['KEIKO_ARGOCD_API_URL'])}"]
        lines += [f"export {k}={q(v)}" for k, v in sorted(argocd.items())]
    _write_private(p.env, "\n".join(lines) + "\n")


def read_env(path: Path) -> dict[str, str]:
    """The variables an ``env`` file of :func:`write_env` exports (what ``source <dir>/env`` would set)."""
    out = {}
    for line in Path(path).read_text().splitlines():
        if line.startswith("export "):
            key, _sep, value = line[len("export "):].partition("=")
            out[key] = shlex.split(value)[0] if value else ""
    return out


# -- commands ------------------------------------------------------------------------------------
def cmd_up(args) -> int:
    p = Paths(Path(args.dir))
    p.root.mkdir(parents=True, exist_ok=True)
    record = _read_json(p.record)
    kube_down(p)  # the single control plane of an earlier version: each cluster has its own now
    argocd_down(p)

    want_kube = args.kube
    if want_kube is None and os.environ.get("KEIKO_SANDBOX_KUBE", "") in ("0", "1"):
        want_kube = os.environ["KEIKO_SANDBOX_KUBE"] == "1"
    kube = None
    if want_kube is not False:
        ok, why = localkube_available()
        if ok:
            kube = {"clusters_dir": str(p.clusters), "argocd": False, "max_clusters": args.max_clusters}
        elif want_kube:
            _echo(f"--with-kube: {why}")
            return 1
        else:
            _echo(f"no local Kubernetes control planes: {why}; the emulator serves synthetic kubeconfigs")
    if args.argocd is not False:
        ok, why = argocd_available()
        if kube is None:
            ok, why = False, "no local Kubernetes control planes"
        if ok:
            kube["argocd"] = True
        elif args.argocd:
            _echo(f"--with-argocd: {why}")
            return 1
        else:
            _echo(f"no Argo CD processes: {why}")

    pid = emulator_pid(p)
    info = _read_json(p.ready)
    same_wiring = (info.get("clusters_dir"), bool(info.get("argocd"))) == \
        ((kube["clusters_dir"], kube["argocd"]) if kube else (None, False))
    if pid is not None and info.get("pid") == pid and same_wiring and (args.port in (None, info.get("port"))):
        _echo(f"the OVH API emulator is already running (pid {pid}) at {info['endpoint']}")
        settings = {k: v for k, v in (("transition_seconds", args.transition_seconds),
                                      ("max_clusters", args.max_clusters if kube else None)) if v is not None}
        if settings:
            _admin_post(info["endpoint"], "settings", settings)
    else:
        if pid is not None:
            emulator_stop(p)
        port = args.port if args.port is not None else int(info.get("port") or 0)
        try:
            info = emulator_start(p, port, kube, args.transition_seconds)
        except RuntimeError:
            if args.port is not None or port == 0:
                raise
            _echo(f"port {port} is taken; using a free one")
            info = emulator_start(p, 0, kube, args.transition_seconds)
        _echo(f"OVH API emulator at {info['endpoint']} (pid {info['pid']}, state {p.ovh})")
    record["emulator"] = {"pid": info["pid"], "endpoint": info["endpoint"], "state_dir": str(p.ovh)}
    record.pop("kube", None)
    record.pop("argocd", None)

    git = git_up(p)
    record["git"] = {k: v for k, v in git.items() if k != "password"}
    planes = clusters(p, info["endpoint"]) if kube else []
    kubeconfig = Path(planes[0]["kubeconfig"]) if planes else None
    argocd = None
    if kube and kube["argocd"]:
        # the first cluster's Argo CD; before any cluster exists, the URL the emulator keeps for the next one
        url = planes[0]["argocd_url"] if planes and planes[0]["argocd_url"] else info.get("next_argocd_url")
        if url:
            argocd = argocd_vars(url)
    if kube:
        record["clusters"] = {"dir": str(p.clusters), "argocd": kube["argocd"],
                              "names": [c["name"] for c in planes]}
        if argocd:
            record["clusters"]["first_argocd_url"] = argocd["KEIKO_ARGOCD_API_URL"]
    _write_private(p.record, json.dumps(record, indent=1) + "\n")
    write_env(p, info, kubeconfig, git, argocd, planes)
    _echo(f"environment: source {p.env}")
    return 0


def cmd_down(args) -> int:
    p = Paths(Path(args.dir))
    if not p.root.exists():
        _echo(f"nothing to stop ({p.root} does not exist)")
        return 0
    emulator_stop(p)
    errors = []
    for step in (clusters_down, argocd_down, git_down, kube_down):  # each runs even when one before it failed
        try:
            step(p)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            errors.append(f"{step.__name__}: {exc}")
    if errors:
        _echo("could not stop everything, keeping the run data: " + "; ".join(errors))
        return 1
    # stray emulator still holding the state dir (pid file lost)? refuse to delete under it
    if emulator_pid(p) is not None:
        _echo("the emulator is still running; not removing the run data")
        return 1
    shutil.rmtree(p.root, ignore_errors=True)
    _echo(f"removed {p.root}")
    return 0


def status_dict(p: Paths) -> dict:
    pid = emulator_pid(p)
    info = _read_json(p.ready) if pid else {}
    return {
        "dir": str(p.root),
        "emulator": {"running": pid is not None, "pid": pid, "endpoint": info.get("endpoint"),
                     "state_dir": str(p.ovh), "log": str(p.log)},
        "clusters": _clusters_status(p, info.get("endpoint")),
        "git": _git_status(p),
        "env": str(p.env) if p.env.exists() else None,
    }


def _git_status(p: Paths) -> dict:
    from gitserver import process as gitserver

    st = gitserver.status(p.git_state)
    return {"running": bool(st.get("running")), "url": st.get("url"), "pid": st.get("pid")}


def _clusters_status(p: Paths, endpoint: str | None) -> list[dict]:
    """Each cluster's control plane and Argo CD, as they run now."""
    out = []
    for c in clusters(p, endpoint):
        d = Path(c["dir"])
        kube = {"up": False}
        if (d / "kube").exists():
            from localkube import cluster as kcluster

            kube = kcluster.status(d / "kube")
        argo = {"up": False, "phase": None}
        if (d / "localargo").exists():
            from localargo import run as localargo

            argo = localargo.status(d / "localargo")
        out.append({**c, "kube_up": bool(kube.get("up")), "argocd_phase": argo.get("phase"),
                    "argocd_up": bool(argo.get("up")),
                    "argocd_admin_password_written": (d / "argocd" / "admin-password").exists()})
    return out


def cmd_status(args) -> int:
    st = status_dict(Paths(Path(args.dir)))
    print(json.dumps(st, indent=2))
    return 0 if st["emulator"]["running"] else 1


def cmd_env(args) -> int:
    p = Paths(Path(args.dir))
    if not p.env.exists():
        _echo("no sandbox environment: run `sandboxctl.py up` first")
        return 1
    sys.stdout.write(p.env.read_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sandboxctl.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("up", "down", "status", "env"):
        sp = sub.add_parser(name)
        sp.add_argument("--dir", default=".sandbox", help="run directory (default .sandbox)")
        if name == "up":
            g = sp.add_mutually_exclusive_group()
            g.add_argument("--with-kube", dest="kube", action="store_const", const=True, default=None,
                           help="start localkube too (fail if it cannot)")
            g.add_argument("--no-kube", dest="kube", action="store_const", const=False,
                           help="emulator only (synthetic kubeconfigs)")
            sp.add_argument("--port", type=int, default=None, help="emulator port (default: the previous one, else free)")
            sp.add_argument("--transition-seconds", type=float, default=None,
                            help="emulator transition time (default: OVH_EMULATOR_TRANSITION_SECONDS or 2)")
            sp.add_argument("--max-clusters", type=int, default=None,
                            help="Kubernetes clusters (each a local control plane) that may exist at once "
                                 "(default: OVH_EMULATOR_MAX_CLUSTERS or 4)")
            g = sp.add_mutually_exclusive_group()
            g.add_argument("--with-argocd", dest="argocd", action="store_const", const=True, default=None,
                           help="start the Argo CD processes too (fail if they cannot)")
            g.add_argument("--no-argocd", dest="argocd", action="store_const", const=False,
                           help="no Argo CD processes")
    args = parser.parse_args(argv)
    return {"up": cmd_up, "down": cmd_down, "status": cmd_status, "env": cmd_env}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
