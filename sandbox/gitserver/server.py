"""The HTTP server: git's own ``git http-backend`` (smart HTTP) as a CGI behind a threaded
``http.server``, with HTTP basic authentication.

Every request needs the one username/password the server was started with (a wrong or missing
credential is answered 401 with a ``WWW-Authenticate`` challenge, so git asks for credentials).
Authenticated requests reach ``git http-backend`` with ``REMOTE_USER`` set and ``http.receivepack``
on, so push is enabled. Repositories are the bare repositories under the root directory (every
one is exported: ``GIT_HTTP_EXPORT_ALL``). The password reaches the process on its standard input
(``start``) or in ``$GITSERVER_PASSWORD`` (``serve`` in the foreground), never on the command line,
and is never logged.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PASSWORD_ENV = "GITSERVER_PASSWORD"
REALM = "gitserver"
# Request headers passed to the CGI as HTTP_* variables (git uses these).
_PASS_HEADERS = ("Content-Encoding", "Git-Protocol", "User-Agent", "Accept", "Accept-Encoding")


def _read_chunked(rfile) -> bytes:
    out = bytearray()
    while True:
        line = rfile.readline(65537)
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return bytes(out)
        out += rfile.read(size)
        rfile.readline(3)  # CRLF after the chunk


class GitHandler(BaseHTTPRequestHandler):
    server_version = "keiko-gitserver/1"
    # HTTP/1.0: one request per connection, the body ends when the connection closes.
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
        sys.stderr.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {self.address_string()} {format % args}\n")
        sys.stderr.flush()

    # -- auth ---------------------------------------------------------------------------------
    def _authorized(self) -> str | None:
        header = self.headers.get("Authorization", "")
        scheme, dummy, value = header.partition(" ")
        if scheme.lower() != "basic" or not value:
            return None
        try:
            user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        want_user, want_password = self.server.credentials
        ok_user = hmac.compare_digest(user.encode(), want_user.encode())
        ok_password = hmac.compare_digest(password.encode(), want_password.encode())
        return user if sep and ok_user and ok_password else None

    def _deny(self) -> None:
        body = b"authentication required\n"
        self.send_response(401)
        self.send_header("WWW-Authenticate", f'Basic realm="{REALM}"')
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # -- CGI ----------------------------------------------------------------------------------
    def _handle(self) -> None:
        user = self._authorized()
        if user is None:
            self._deny()
            return
        path, dummy, query = self.path.partition("?")
        if "\\" in path or "/../" in path + "/" or "\0" in path:
            self.send_error(400, "bad path")
            return
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = _read_chunked(self.rfile)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            # Push over HTTP (git enables it for authenticated users anyway; say so explicitly).
            "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.receivepack", "GIT_CONFIG_VALUE_0": "true",
            "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": self.request_version,
            "SERVER_SOFTWARE": self.server_version, "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(self.server.server_address[1]),
            "REQUEST_METHOD": self.command, "PATH_INFO": path, "QUERY_STRING": query,
            "REMOTE_ADDR": self.client_address[0], "REMOTE_USER": user, "AUTH_TYPE": "Basic",
            "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
        }
        for name in _PASS_HEADERS:
            if self.headers.get(name):
                env["HTTP_" + name.upper().replace("-", "_")] = self.headers[name]
        if "HTTP_GIT_PROTOCOL" in env:
            env["GIT_PROTOCOL"] = env["HTTP_GIT_PROTOCOL"]
        proc = subprocess.run([self.server.git, "http-backend"], input=body, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if proc.stderr:
            sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
        head, sep, payload = proc.stdout.partition(b"\r\n\r\n")
        if not sep:
            head, sep, payload = proc.stdout.partition(b"\n\n")
        if not sep:
            self.send_error(500, "git http-backend failed")
            return
        status, reason, headers = 200, "OK", []
        for line in head.decode("latin-1").splitlines():
            key, dummy, value = line.partition(":")
            if key.lower() == "status":
                code, dummy, reason = value.strip().partition(" ")
                status = int(code)
            elif key:
                headers.append((key.strip(), value.strip()))
        self.send_response(status, reason or None)
        for key, value in headers:
            self.send_header(key, value)
        if not any(k.lower() == "content-length" for k, dummy in headers):
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_HEAD = _handle


class GitHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, root: Path, credentials: tuple[str, str]) -> None:
        super().__init__(address, GitHandler)
        self.root = Path(root).resolve()
        self.credentials = credentials
        git = shutil.which("git")
        if not git:
            raise RuntimeError("git is not installed (apt-get install git)")
        self.git = git


def serve(root: str | os.PathLike, username: str, password: str, host: str = "127.0.0.1", port: int = 0,
          ready_file: str | os.PathLike | None = None) -> int:
    """Serve until SIGTERM/SIGINT."""
    if not username or not password:
        print("gitserver: a username and a password are required", file=sys.stderr)
        return 2
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"gitserver: refusing to bind {host}: loopback only", file=sys.stderr)
        return 2
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    httpd = GitHTTPServer((host, port), root, (username, password))
    bound = httpd.server_address[1]
    stop = threading.Event()

    def _stop(signum, frame):  # noqa: ARG001
        if not stop.is_set():
            stop.set()
            threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    info = {"pid": os.getpid(), "host": host, "port": bound, "url": f"http://{host}:{bound}",
            "root": str(root), "username": username}
    if ready_file:
        tmp = Path(str(ready_file) + ".tmp")
        tmp.write_text(json.dumps(info, indent=2) + "\n")
        os.replace(tmp, ready_file)
    print(f"gitserver: serving {root} at {info['url']} (user {username})", file=sys.stderr, flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
    return 0
