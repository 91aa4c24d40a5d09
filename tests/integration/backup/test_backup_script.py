"""The CronJob's script (roles/postgres_backup/files/keiko-backup.sh, the exact file), run for real: Debian's
PostgreSQL server and moto's S3 server on loopback, the AWS CLI from PyPI."""

import datetime
import json
import subprocess

import pytest

from backup_data import DATABASES, free_port, run_backup


@pytest.fixture(scope="module")
def seeded(pg_server, backed_up):  # pylint: disable=unused-argument
    """The server, its databases seeded (and backed up once, by backed_up)."""
    return pg_server


def markers(s3_server, bucket, prefix="postgres/dev"):
    return [k for k in s3_server.keys(bucket, prefix) if k.endswith(".json")]


def test_uploads_a_dump_and_a_marker_per_database(backed_up, s3_server, seeded, tmp_path):
    bucket, proc = backed_up["bucket"], backed_up["proc"]
    assert proc.returncode == 0, proc.stderr
    objects = s3_server.get_all(bucket, "postgres/dev/", tmp_path / "bucket")
    for db in DATABASES:
        keys = sorted(k for k in objects if k.startswith("postgres/dev/%s/" % db))
        dumps = [k for k in keys if k.endswith(".dump")]
        assert len(dumps) == 1 and keys == sorted([dumps[0], dumps[0][:-5] + ".json", "postgres/dev/%s/LATEST.json" % db])
        latest = json.loads(objects["postgres/dev/%s/LATEST.json" % db])
        assert json.loads(objects[dumps[0][:-5] + ".json"]) == latest
        assert latest["key"] == dumps[0] and latest["database"] == db and latest["format"] == "custom"
        data = objects[dumps[0]]
        assert latest["size"] == len(data) and data[:5] == b"PGDMP"  # pg_dump's custom format
        listing = subprocess.run([seeded.bin + "/pg_restore", "--list", str(tmp_path / "bucket" / db / dumps[0].split("/")[-1])],
                                 capture_output=True, text=True, check=True).stdout
        assert "TABLE DATA public users" in listing and "TABLE DATA audit events" in listing
    assert "PGPASSWORD" not in proc.stderr and seeded.password not in proc.stderr + proc.stdout


def _no_success(s3_server, bucket, prefix, before=()):
    """Nothing but what was there before: no new dump, manifest or LATEST.json."""
    assert sorted(s3_server.keys(bucket, prefix)) == sorted(before)


def test_a_wrong_password_fails_and_leaves_no_marker(seeded, s3_server):
    bucket = s3_server.bucket()
    proc = run_backup(seeded, s3_server, bucket, databases=["identity"], env={"PGPASSWORD": "wrong"})
    assert proc.returncode == 1
    assert "password authentication failed" in proc.stderr and "FAILED: identity (" in proc.stderr
    _no_success(s3_server, bucket, "postgres/dev")


def test_a_missing_bucket_fails_and_leaves_no_marker(seeded, s3_server):
    proc = run_backup(seeded, s3_server, "keiko-no-such-bucket", databases=["identity"])
    assert proc.returncode != 0 and "NoSuchBucket" in proc.stderr, proc.stderr
    assert "keiko-no-such-bucket" not in s3_server.aws("s3api", "list-buckets").decode()


def test_an_unreachable_endpoint_fails(seeded, s3_server):
    proc = run_backup(seeded, s3_server, "keiko-test-1", databases=["identity"],
                      env={"KEIKO_BACKUP_ENDPOINT_URL": "http://127.0.0.1:%d" % free_port(), "AWS_MAX_ATTEMPTS": "1"})
    assert proc.returncode != 0 and "Could not connect to the endpoint URL" in proc.stderr, proc.stderr


def test_a_dump_failing_halfway_fails_and_keeps_the_last_marker(backed_up, seeded, s3_server, tmp_path):
    """pg_dump writes part of the dump and exits 1: the upload of those bytes succeeds, pipefail fails the run, the
    partial object is removed and LATEST.json still names the last complete dump."""
    bucket = backed_up["bucket"]
    before = s3_server.keys(bucket, "postgres/dev/identity/")
    latest = s3_server.get(bucket, "postgres/dev/identity/LATEST.json")
    wrapper = tmp_path / "bin"
    wrapper.mkdir()
    (wrapper / "pg_dump").write_text("#!/bin/bash\n%s/pg_dump \"$@\" | head -c 4096\nexit 1\n" % seeded.bin)
    (wrapper / "pg_dump").chmod(0o755)
    proc = run_backup(seeded, s3_server, bucket, databases=["identity"], path_first=wrapper)
    assert proc.returncode != 0 and "the dump or its upload failed" in proc.stderr, proc.stderr
    _no_success(s3_server, bucket, "postgres/dev/identity/", before)
    assert s3_server.get(bucket, "postgres/dev/identity/LATEST.json") == latest


def test_retention_and_one_failing_database(seeded, s3_server, tmp_path):
    """The dumps (and manifests, and partial dumps) older than the retention are deleted, the younger ones and
    other objects kept; a database that fails does not stop the others (the run still exits non-zero)."""
    bucket = s3_server.bucket()
    now = datetime.datetime.now(datetime.timezone.utc)

    def stamp(days):
        return (now - datetime.timedelta(days=days)).strftime("%Y%m%dT%H%M%SZ")

    old = ["postgres/dev/learning/learning-%s.%s" % (stamp(10), ext) for ext in ("dump", "json")]
    old.append("postgres/dev/learning/learning-%s.dump" % stamp(8))  # a partial dump without a manifest
    young = ["postgres/dev/learning/learning-%s.%s" % (stamp(6), ext) for ext in ("dump", "json")]
    other = ["postgres/dev/learning/notes.txt", "postgres/dev/identity/identity-%s.dump" % stamp(30)]
    s3_server.put_many(bucket, {key: b"x" for key in old + young + other}, tmp_path / "tree")
    proc = run_backup(seeded, s3_server, bucket, databases=["nosuchdb", "learning"], days=7)
    assert proc.returncode == 1 and "FAILED: nosuchdb (" in proc.stderr, proc.stderr
    keys = set(s3_server.keys(bucket))
    assert not keys & set(old)
    assert set(young + other) <= keys
    new = keys - set(young + other)
    assert len(new) == 3 and "postgres/dev/learning/LATEST.json" in new  # the new dump, its manifest, LATEST.json
    assert not [k for k in keys if "nosuchdb" in k]


def test_bad_settings_fail_before_any_dump(seeded, s3_server):
    bucket = s3_server.bucket()
    for setting, value, message in [("KEIKO_BACKUP_RETENTION_DAYS", "0", "not a number of days"),
                                    ("KEIKO_BACKUP_DATABASES", "", "nothing to back up"),
                                    ("KEIKO_BACKUP_DATABASES", "bad;name", "not a database name"),
                                    ("KEIKO_BACKUP_BUCKET", "Bad_Bucket", "not a bucket name")]:
        proc = run_backup(seeded, s3_server, bucket, env={setting: value})
        assert proc.returncode == 2 and message in proc.stderr, (setting, proc.stderr)
    assert s3_server.keys(bucket) == []
