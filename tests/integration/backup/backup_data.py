"""The data the backup tests dump and restore, and how they run the role's script (imported by the test files)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "postgres_backup"
SCRIPT = ROLE / "files" / "keiko-backup.sh"
CHECKSUMS = (ROLE / "files" / "checksums.sql").read_text(encoding="utf-8")
DATABASES = ("identity", "learning")

SEED = """
CREATE SCHEMA audit;
CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, created timestamptz NOT NULL,
                    profile jsonb, avatar bytea, score numeric(10, 2));
INSERT INTO users (email, created, profile, avatar, score)
  SELECT 'user' || g || '@{db}.example', timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute',
         jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g % 7)),
         CASE WHEN g % 5 = 0 THEN NULL ELSE decode(md5(g::text), 'hex') END, g / 3.0
    FROM generate_series(1, 3000) g;
CREATE TABLE empty_table (id int PRIMARY KEY, note text);
CREATE TABLE audit.events (at timestamptz, who bigint REFERENCES users (id), what text);
INSERT INTO audit.events SELECT now(), (g % 3000) + 1, repeat('x', g % 50) || E'\\n\\t''"' FROM generate_series(1, 1500) g;
"""


def free_port():
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(pg_server, db):
    pg_server.psql("postgres", 'DROP DATABASE IF EXISTS "%s"' % db)
    pg_server.psql("postgres", 'CREATE DATABASE "%s"' % db)
    pg_server.psql(db, SEED.format(db=db))


def run_backup(pg_server, s3_server, bucket, databases=DATABASES, prefix="postgres/dev", days=7, env=None,
               path_first=None):
    """The role's script, as the CronJob runs it (the settings in its environment); the CompletedProcess."""
    path = [s3_server.tools["bin"], pg_server.bin, os.environ.get("PATH", "/usr/bin:/bin")]
    if path_first:
        path.insert(0, str(path_first))
    full = {"PATH": os.pathsep.join(path), "HOME": os.environ.get("HOME", "/tmp"), "LC_ALL": "C.UTF-8",
            **pg_server.env, **s3_server.env,
            "KEIKO_BACKUP_DATABASES": " ".join(databases), "KEIKO_BACKUP_BUCKET": bucket,
            "KEIKO_BACKUP_PREFIX": prefix, "KEIKO_BACKUP_RETENTION_DAYS": str(days),
            "KEIKO_BACKUP_ENDPOINT_URL": s3_server.url, **(env or {})}
    return subprocess.run(["bash", str(SCRIPT)], env=full, capture_output=True, text=True, timeout=120, check=False)


def playbook_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OVH_", "GIT_", "PG", "AWS_"))}
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_PIPELINING="1",
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    return env


def ansible_playbook(args, timeout=180):
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), *args]
    return subprocess.run(cmd, cwd=str(REPO), env=playbook_env(), capture_output=True, text=True, timeout=timeout,
                          check=False)
