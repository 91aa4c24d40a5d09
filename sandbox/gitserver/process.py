"""Start and stop the git server as a background process with a state file.

State directory layout::

    gitserver.json   pid, process start time, port, URL, repository root, username (no password)
    gitserver.log    one line per request (no credentials) and git http-backend's stderr

    from gitserver.process import GitServer

    with GitServer(root=tmp / "repos", username="keiko", password=secret) as gs:
        gs.init_bare("gitops")                       # root/gitops.git
        url = gs.repo_url("gitops")                  # http://127.0.0.1:PORT/gitops.git
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from localkube.cluster import _alive, _in_proc_table, _proc_start_time, _reap

from .server import PASSWORD_ENV

STATE = "gitserver.json"
LOG = "gitserver.log"


class GitServerError(RuntimeError):
    pass


def _read_state(state_dir: Path) -> dict | None:
    try:
        return json.loads((Path(state_dir) / STATE).read_text())
    except (FileNotFoundError, ValueError):
        return None


def _running(state: dict | None) -> bool:
    return bool(state) and _alive({"pid": state.get("pid"), "start": state.get("start")})


def _answers(url: str, username: str, password: str, timeout: float = 5.0) -> int | None:
    """HTTP status of an authenticated GET of the server's root (404 = credentials accepted)."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    req = urllib.request.Request(url + "/", headers={"Authorization": f"Basic {token}"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return None


def start(state_dir: str | os.PathLike, root: str | os.PathLike, username: str, password: str,
          port: int = 0, timeout: float = 15.0, echo=None) -> dict:
    """Start the server (a no-op when it already runs on the same root with these credentials).

    Returns the state (``url``, ``port``, ``root``, ``username``, ``pid``).
    """
    if not username or ":" in username:
        raise GitServerError("a username without ':' is required")
    if not password:
        raise GitServerError("a password is required")
    state_dir = Path(state_dir).resolve()
    root = Path(root).resolve()
    state = _read_state(state_dir)
    if _running(state):
        same = (state["root"] == str(root) and state["username"] == username and port in (0, state["port"]))
        if same and _answers(state["url"], username, password) == 404:
            if echo:
                echo(f"gitserver already running (pid {state['pid']}) at {state['url']}")
            return state
        stop(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    ready = state_dir / (STATE + ".ready")
    ready.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.pop(PASSWORD_ENV, None)
    # The child imports this package from where it is, installed or not (cwd is the state dir).
    pkg_parent = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([pkg_parent, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    argv = [sys.executable, "-m", "gitserver", "serve", "--root", str(root), "--username", username,
            "--port", str(port), "--ready-file", str(ready), "--password-stdin"]
    with open(state_dir / LOG, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                                env=env, cwd=state_dir, start_new_session=True, close_fds=True)
    # On stdin, not in the environment: /proc/<pid>/environ keeps a process's initial environment.
    proc.stdin.write(password.encode() + b"\n")
    proc.stdin.close()
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None:
            raise GitServerError(f"gitserver exited with {proc.returncode}; log {state_dir / LOG}:\n{_tail(state_dir)}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise GitServerError(f"gitserver not ready after {timeout}s; log {state_dir / LOG}")
        time.sleep(0.02)
    state = json.loads(ready.read_text())
    ready.unlink()
    state["start"] = _proc_start_time(proc.pid)
    state["state_dir"] = str(state_dir)
    tmp = state_dir / (STATE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, state_dir / STATE)
    if echo:
        echo(f"gitserver at {state['url']} (pid {proc.pid}, repositories under {root})")
    return state


def _tail(state_dir: Path, lines: int = 20) -> str:
    try:
        return "\n".join((state_dir / LOG).read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def stop(state_dir: str | os.PathLike, timeout: float = 10.0, echo=None) -> bool:
    """Stop the server recorded in ``state_dir``; True if one was running. Leaves no process."""
    state_dir = Path(state_dir).resolve()
    state = _read_state(state_dir)
    if not state:
        return False
    entry = {"pid": state["pid"], "start": state.get("start")}
    was = _alive(entry)
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        if not _alive(entry):
            break
        try:
            os.kill(entry["pid"], sig)
        except ProcessLookupError:
            break
        end = time.monotonic() + wait
        while _alive(entry) and time.monotonic() < end:
            _reap(entry["pid"])
            time.sleep(0.02)
    if _alive(entry):
        raise GitServerError(f"gitserver pid {entry['pid']} survived SIGKILL")
    end = time.monotonic() + 5.0
    while _in_proc_table(entry) and time.monotonic() < end:  # our own zombie child: reap it
        _reap(entry["pid"])
        time.sleep(0.02)
    (state_dir / STATE).unlink(missing_ok=True)
    if echo and was:
        echo(f"gitserver stopped (pid {entry['pid']})")
    return was


def status(state_dir: str | os.PathLike) -> dict:
    state = _read_state(Path(state_dir).resolve())
    if not state:
        return {"running": False, "state_dir": str(Path(state_dir).resolve())}
    return {**state, "running": _running(state)}


def init_bare(root: str | os.PathLike, name: str, branch: str = "main") -> Path:
    """Create ``root/<name>.git`` as an empty bare repository (no-op if it exists); its path."""
    parts = name.split("/")
    if not all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", p) for p in parts):
        raise GitServerError(f"bad repository name {name!r}: path components of letters, digits, '._-'")
    repo = Path(root).resolve() / (name if name.endswith(".git") else name + ".git")
    if (repo / "HEAD").is_file():
        return repo
    repo.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "--quiet", "--bare", f"--initial-branch={branch}", str(repo)],
                   check=True, capture_output=True)
    return repo


class GitServer:
    """The server for a test or a script: ``with GitServer(root, username, password) as gs: ...``."""

    def __init__(self, root: str | os.PathLike | None = None, username: str = "keiko",
                 password: str | None = None, state_dir: str | os.PathLike | None = None) -> None:
        self._tmp = None
        if root is None or state_dir is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="gitserver-"))
        self.root = Path(root) if root is not None else self._tmp / "repos"
        self.state_dir = Path(state_dir) if state_dir is not None else self._tmp / "state"
        self.username = username
        self.password = password or base64.urlsafe_b64encode(os.urandom(18)).decode()
        self.state: dict = {}

    @property
    def url(self) -> str:
        return self.state["url"]

    def repo_url(self, name: str) -> str:
        return f"{self.url}/{name if name.endswith('.git') else name + '.git'}"

    def init_bare(self, name: str, branch: str = "main") -> Path:
        return init_bare(self.root, name, branch)

    def start(self) -> "GitServer":
        self.state = start(self.state_dir, self.root, self.username, self.password)
        return self

    def stop(self) -> None:
        stop(self.state_dir)

    def __enter__(self) -> "GitServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
