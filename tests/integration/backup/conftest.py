"""Fixtures of the backup and restore tests (reusable: nothing here is specific to one test file).

- ``backup_tools``: the AWS CLI (v1, from PyPI) and moto's S3 server, in a venv of their own cached under
  ``${KEIKO_CACHE_DIR:-~/.cache/keikolatam-gitops}/backup-tools/<key>/`` (built once, under a lock, by the first test
  run that needs it; see tools-requirements.txt for why not the test venv).
- ``pg_server``: a PostgreSQL server of Debian's packages (initdb, pg_ctl) in a private directory, on a loopback port
  with password (scram-sha-256) authentication; started as the ``postgres`` user when the tests run as root.
- ``s3_server``: moto's S3 server on a loopback port; ``s3_server.bucket()`` makes a new bucket.
- ``backed_up``: the databases of backup_data.DATABASES seeded and backed up once by the role's script.
"""

import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from localkube.gobuild import Cache  # the cache layout (and lock) of the sandbox's builds

from backup_data import CHECKSUMS, DATABASES, free_port, run_backup, seed

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "tools-requirements.txt"
TOOLS = ("aws", "moto_server")


def _tools_key():
    return "venv-" + hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]


TOOLS_CACHE = Cache("backup-tools", _tools_key, TOOLS)


def _build_tools():
    root = TOOLS_CACHE.version_dir()
    shutil.rmtree(root, ignore_errors=True)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
                   check=True, timeout=900)
    (root / "bin").mkdir()
    for name in TOOLS:  # last: bin/ complete means the venv is
        os.symlink(venv / "bin" / name, root / "bin" / name)


def watchdog(stop_argv, cleanup_dir=None):
    """Run ``stop_argv`` (and remove ``cleanup_dir``) once this process is gone, even killed: no server outlives the
    test run that started it."""
    script = 'while kill -0 %d 2>/dev/null; do sleep 1; done; "$@" >/dev/null 2>&1; %s' % (
        os.getpid(), ('rm -rf "%s"' % cleanup_dir) if cleanup_dir else "true")
    subprocess.Popen(["bash", "-c", script, "watchdog", *stop_argv],  # pylint: disable=consider-using-with
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)


def wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("%s not ready after %ss" % (what, timeout))


@pytest.fixture(scope="session")
def backup_tools():
    """{name: path} of the cached aws and moto_server; ``bin`` is their directory."""
    paths = TOOLS_CACHE.ensure(_build_tools)
    return {"bin": str(TOOLS_CACHE.bin_dir()), **{k: str(v) for k, v in paths.items()}}


class PgServer:
    """A PostgreSQL server: ``env`` is what libpq's clients need (with the password), ``psql(db, sql)`` runs SQL."""

    user = "keiko_admin"
    password = "pg-secret-4f1c2a"

    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise AssertionError("no PostgreSQL server (apt-get install postgresql): .ci/run installs it")
        self.bin = os.path.dirname(bins[-1])
        self.dir = tempfile.mkdtemp(prefix="kb-pg-", dir="/tmp")
        self.port = free_port()
        self.run_as = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self.run_as = ["runuser", "-u", "postgres", "--"]
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w", encoding="utf-8") as handle:
            handle.write(self.password + "\n")
        if self.run_as:
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        self.data = os.path.join(self.dir, "data")
        self._run([self.bin + "/initdb", "-D", self.data, "-U", self.user, "--pwfile", pwfile, "-A", "scram-sha-256",
                   "-E", "UTF8", "--locale", "C", "--no-sync"])
        os.unlink(pwfile)
        opts = ("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=20 -c shared_buffers=16MB"
                % (self.port, self.dir))
        self._run([self.bin + "/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-o", opts, "-w", "-t",
                   "60", "start"])
        watchdog(self.run_as + [self.bin + "/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"], self.dir)
        self.env = {"PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": self.user, "PGPASSWORD": self.password,
                    "PGSSLMODE": "disable", "PGCONNECT_TIMEOUT": "5"}

    def _run(self, argv):
        proc = subprocess.run(self.run_as + argv, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode:
            raise AssertionError("%s: %s%s" % (argv[0], proc.stdout, proc.stderr))

    def psql(self, db, sql, check=True):
        """The rows of ``sql`` on ``db`` (psql -At, fields separated by |)."""
        proc = subprocess.run([self.bin + "/psql", "-X", "-At", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", db],
                              input=sql, env={**os.environ, **self.env}, capture_output=True, text=True, timeout=60,
                              check=False)
        if check and proc.returncode:
            raise AssertionError("psql %s: %s" % (db, proc.stderr))
        return proc.stdout.splitlines()

    def databases(self):
        return set(self.psql("postgres", "SELECT datname FROM pg_database"))

    def checksums(self, db, query):
        """{table: (rows, md5)} of ``db`` by the role's files/checksums.sql (``query``)."""
        return {line.split("|")[0]: tuple(line.split("|")[1:]) for line in self.psql(db, query) if line.count("|") == 2}

    def stop(self):
        subprocess.run(self.run_as + [self.bin + "/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server():
    server = PgServer()
    try:
        yield server
    finally:
        server.stop()


class S3Server:
    """moto's S3 server on loopback: ``url``, ``env`` (credentials and region for the AWS CLI), ``aws(...)``."""

    def __init__(self, tools, workdir):
        self.tools = tools
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(workdir, "moto.log"), "wb")  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [tools["moto_server"], "-H", "127.0.0.1", "-p", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT)
        watchdog(["kill", str(self.proc.pid)])
        self.env = {"AWS_ACCESS_KEY_ID": "AKIAKEIKOTEST", "AWS_SECRET_ACCESS_KEY": "s3-secret-9d7e1b",
                    "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull,
                    "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_MAX_ATTEMPTS": "2", "AWS_RETRY_MODE": "standard"}
        self.count = 0

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("moto_server exited: see %s" % self.log.name)
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                return False

        wait_for(up, 60, "moto_server")

    def aws(self, *args, check=True, stdin=None):
        proc = subprocess.run([self.tools["aws"], "--endpoint-url", self.url, *args], input=stdin,
                              env={**os.environ, **self.env}, capture_output=True, timeout=60, check=False)
        if check and proc.returncode:
            raise AssertionError("aws %s: %s" % (" ".join(args), proc.stderr.decode()))
        return proc.stdout

    def bucket(self):
        """A new, empty bucket's name."""
        self.count += 1
        name = "keiko-test-%d" % self.count
        self.aws("s3api", "create-bucket", "--bucket", name)
        return name

    def keys(self, bucket, prefix=""):
        out = self.aws("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", prefix, "--query", "Contents[].Key",
                       "--output", "text").decode().split()
        return sorted(k for k in out if k != "None")

    def get(self, bucket, key):
        return self.aws("s3", "cp", "s3://%s/%s" % (bucket, key), "-")

    def put(self, bucket, key, data):
        self.aws("s3", "cp", "-", "s3://%s/%s" % (bucket, key), stdin=data)

    def get_all(self, bucket, prefix, workdir):
        """{key: bytes} under ``prefix``, in one call (``s3 cp --recursive`` into ``workdir``)."""
        self.aws("s3", "cp", "--recursive", "--only-show-errors", "s3://%s/%s" % (bucket, prefix), str(workdir))
        return {prefix + path.relative_to(workdir).as_posix(): path.read_bytes()
                for path in Path(workdir).rglob("*") if path.is_file()}

    def put_many(self, bucket, files, workdir):
        """Upload {key: bytes} in one call (a local tree and ``s3 cp --recursive``)."""
        for key, data in files.items():
            path = Path(workdir, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        self.aws("s3", "cp", "--recursive", "--only-show-errors", str(workdir), "s3://%s/" % bucket)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="session")
def s3_server(backup_tools, tmp_path_factory):
    server = S3Server(backup_tools, str(tmp_path_factory.mktemp("s3")))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def backed_up(pg_server, s3_server):
    """Both databases seeded and backed up by the script, once: {bucket, proc, sums: {db: checksums at the dump}}."""
    for db in DATABASES:
        seed(pg_server, db)
    bucket = s3_server.bucket()
    proc = run_backup(pg_server, s3_server, bucket)
    return {"bucket": bucket, "proc": proc, "sums": {db: pg_server.checksums(db, CHECKSUMS) for db in DATABASES}}
