"""Start the emulator as a subprocess for a test (stdlib only; python-ovh only in ``ovh_client``).

    from ovh_emulator.testing import EmulatorProcess

    with EmulatorProcess(transition_seconds=0.5) as emu:
        env = emu.env                 # OVH_ENDPOINT, OVH_APPLICATION_KEY, ... for a module
        client = emu.ovh_client()     # a python-ovh Client pointed at the emulator
        ...
        assert emu.writes()[-1]["method"] == "POST"
    # leaving the block stops the process and asserts there was no response-schema violation
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


class EmulatorError(RuntimeError):
    pass


class EmulatorProcess:
    """An emulator subprocess on a free loopback port with its own state directory."""

    def __init__(self, state_dir: str | Path | None = None, *, transition_seconds: float | None = None,
                 clusters_dir: str | Path | None = None, argocd: bool = False, own_clusters: bool = True,
                 python: str | None = None,
                 extra_args: list[str] | tuple[str, ...] = (), env: dict[str, str] | None = None,
                 pythonpath: list[str | Path] | tuple = (),
                 startup_timeout: float = 30.0, check_violations: bool = True,
                 check_requests: bool = False, **settings: Any):
        self._tmp = None
        if state_dir is None:
            self._tmp = tempfile.mkdtemp(prefix="ovh-emulator-")
            state_dir = self._tmp
        self.state_dir = Path(state_dir)
        self.python = python or sys.executable
        # per-cluster control planes; owned by the emulator process by default (stopped with it)
        self.clusters_dir = clusters_dir
        self.argocd = argocd
        self.own_clusters = own_clusters
        self.startup_timeout = startup_timeout
        self.check_violations = check_violations
        # For clients under test (the collection's modules): every request they sent must be an
        # operation of the official schema with a valid body (see assert_requests_conform).
        self.check_requests = check_requests
        self.extra_args = list(extra_args)
        self.pythonpath = [str(p) for p in pythonpath]  # searched first (test doubles)
        self.settings = dict(settings)
        if transition_seconds is not None:
            self.settings["transition_seconds"] = transition_seconds
        self.proc_env = dict(os.environ if env is None else env)
        self.proc = None
        self.info: dict = {}
        self.log_path = self.state_dir / "emulator.log"

    # -- process -----------------------------------------------------------------------------
    def start(self) -> "EmulatorProcess":
        self.state_dir.mkdir(parents=True, exist_ok=True)
        ready = self.state_dir / "ready.json"
        if ready.exists():
            ready.unlink()
        cmd = [self.python, "-m", "ovh_emulator", "serve", "--state-dir", str(self.state_dir),
               "--host", "127.0.0.1", "--port", "0", "--ready-file", str(ready)]
        if self.clusters_dir:
            cmd += ["--clusters-dir", str(self.clusters_dir)]
            cmd += ["--argocd"] if self.argocd else []
            cmd += ["--own-clusters"] if self.own_clusters else []
        for k, v in self.settings.items():
            cmd += ["--" + k.replace("_", "-"), str(v)]
        cmd += self.extra_args
        env = dict(self.proc_env)
        if self.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(self.pythonpath
                                                + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        self._logfh = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._logfh, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EmulatorError(f"emulator exited with {self.proc.returncode}:\n{self.log_text()}")
            if ready.exists():
                try:
                    self.info = json.loads(ready.read_text())
                    break
                except ValueError:
                    pass
            time.sleep(0.05)
        else:
            self.stop()
            raise EmulatorError(f"emulator not ready after {self.startup_timeout}s:\n{self.log_text()}")
        return self

    def stop(self, check: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:  # an emulator that owns control planes stops them first
                self.proc.wait(timeout=90 if self.clusters_dir and self.own_clusters else 10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if getattr(self, "_logfh", None):
            self._logfh.close()
            self._logfh = None
        self.proc = None

    def restart(self) -> "EmulatorProcess":
        """Stop and start again on the same state directory (a new port)."""
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> "EmulatorProcess":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None and self.check_violations and self.proc is not None:
                self.assert_no_violations()
            if exc_type is None and self.check_requests and self.proc is not None:
                self.assert_requests_conform()
        finally:
            self.stop()
            self.cleanup()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # -- identity ----------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return self.info["endpoint"]

    @property
    def base_url(self) -> str:
        return self.endpoint.rsplit("/1.0", 1)[0]

    @property
    def port(self) -> int:
        return int(self.info["port"])

    @property
    def token_url(self) -> str:
        return self.info["token_url"]

    @property
    def service_name(self) -> str:
        return self.info["service_name"]

    @property
    def openstack_auth_url(self) -> str:
        """Keystone v3 for the project's Public Cloud users (``/openstack/identity/v3``)."""
        return self.info["openstack_auth_url"]

    def openstack_auth(self, username: str, password: str) -> dict:
        """The ``auth`` of an openstacksdk connection (or of an ``openstack.cloud`` module) for a Public Cloud
        user of the emulated project."""
        return {"auth_url": self.openstack_auth_url, "username": username, "password": password,
                "project_id": self.service_name, "user_domain_name": "Default"}

    @property
    def credentials(self) -> dict:
        keys = ("application_key", "application_secret", "consumer_key", "client_id", "client_secret", "service_name")
        return {k: self.info[k] for k in keys}

    @property
    def env_signature(self) -> dict[str, str]:
        """``env`` without the OAuth2 pair (application-key mode only)."""
        return {k: v for k, v in self.env.items() if k not in ("OVH_CLIENT_ID", "OVH_CLIENT_SECRET")}

    @property
    def env_oauth2(self) -> dict[str, str]:
        """``env`` without the application key, secret and consumer key (OAuth2 mode only)."""
        return {k: v for k, v in self.env.items()
                if k not in ("OVH_APPLICATION_KEY", "OVH_APPLICATION_SECRET", "OVH_CONSUMER_KEY")}

    @property
    def env(self) -> dict[str, str]:
        """Environment for a client of the emulator. It holds BOTH credential sets; a client that
        reads both from the environment must be told which to use (see ``env_signature`` /
        ``env_oauth2``)."""
        i = self.info
        return {
            "OVH_ENDPOINT": i["endpoint"],
            "OVH_APPLICATION_KEY": i["application_key"],
            "OVH_APPLICATION_SECRET": i["application_secret"],
            "OVH_CONSUMER_KEY": i["consumer_key"],
            "OVH_CLOUD_PROJECT_SERVICE": i["service_name"],
            "OVH_CLIENT_ID": i["client_id"],
            "OVH_CLIENT_SECRET": i["client_secret"],
            "OVH_OAUTH2_TOKEN_URL": i["token_url"],
            "OAUTHLIB_INSECURE_TRANSPORT": "1",
        }

    # -- admin API ---------------------------------------------------------------------------
    def admin(self, method: str, name: str, payload: dict | None = None, query: str = "") -> Any:
        url = f"{self.base_url}/_emulator/{name}" + (f"?{query}" if query else "")
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            raise EmulatorError(f"admin {method} {name}: {err.code} {err.read().decode(errors='replace')}") from None

    def requests(self, since: int = 0, kind: str | None = None, method: str | None = None) -> list[dict]:
        q = [f"since={since}"]
        if kind:
            q.append(f"kind={kind}")
        if method:
            q.append(f"method={method}")
        return self.admin("GET", "requests", query="&".join(q))

    def writes(self, since: int = 0) -> list[dict]:
        """Non-GET API requests (what a module changed)."""
        return self.admin("GET", "requests", query=f"since={since}&writes=1")

    def set_faults(self, **kw: Any) -> dict:
        return self.admin("POST", "faults", kw)

    def set_settings(self, **kw: Any) -> dict:
        return self.admin("POST", "settings", kw)

    def violations(self) -> list[dict]:
        return self.admin("GET", "violations")

    def state(self) -> dict:
        return self.admin("GET", "state")

    def reset(self, **kw: Any) -> dict:
        return self.admin("POST", "reset", kw)

    def advance(self, seconds: float) -> dict:
        """Move the resource clock forward (transitions complete without sleeping)."""
        return self.admin("POST", "advance", {"seconds": seconds})

    def assert_no_violations(self) -> None:
        v = self.violations()
        if v:
            raise AssertionError("OVH emulator recorded violations:\n" + json.dumps(v, indent=1)[:20000])

    def nonconforming_requests(self) -> list[dict]:
        """API requests that match no operation of the schema, or whose parameters or body it rejects."""
        bad = []
        for entry in self.requests(kind="api"):
            if entry.get("operation") is None or entry.get("validation"):
                bad.append({k: entry.get(k) for k in ("seq", "method", "path", "status", "validation", "body")})
        return bad

    def assert_requests_conform(self) -> None:
        bad = self.nonconforming_requests()
        if bad:
            raise AssertionError("requests that do not conform to the OVH API schema:\n"
                                 + json.dumps(bad, indent=1)[:20000])

    # -- python-ovh --------------------------------------------------------------------------
    def ovh_client(self, auth: str = "signature", **overrides: Any):
        """A python-ovh ``Client`` aimed at the emulator (python-ovh accepts only endpoint names,
        so the endpoint and token URL are set on the instance). ``auth`` is ``signature`` or ``oauth2``."""
        import ovh  # noqa: PLC0415 - optional dependency of the helper
        from ovh.oauth2 import OAuth2  # noqa: PLC0415

        if auth == "oauth2":
            os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")  # http://127.0.0.1 token URL
            kw = {"client_id": self.info["client_id"], "client_secret": self.info["client_secret"]}
            kw.update(overrides)
            client = ovh.Client(endpoint="ovh-eu", **kw)
            client._oauth2 = OAuth2(client_id=kw["client_id"], client_secret=kw["client_secret"],
                                    token_url=self.token_url)
        else:
            kw = {"application_key": self.info["application_key"],
                  "application_secret": self.info["application_secret"],
                  "consumer_key": self.info["consumer_key"]}
            kw.update(overrides)
            client = ovh.Client(endpoint="ovh-eu", **kw)
        client._endpoint = self.endpoint
        return client
