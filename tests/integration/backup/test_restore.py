"""playbooks/restore.yml on what the CronJob's script uploaded: Debian's PostgreSQL server, moto's S3 server, the AWS
CLI from PyPI, an inventory of one environment; a drill as the "Keiko restore" AWX job template runs it."""

import json
import sys

import pytest
import yaml

import awx_job
from backup_data import CHECKSUMS, ansible_playbook


@pytest.fixture(scope="module")
def backups(backed_up, pg_server, s3_server, tmp_path_factory):
    """The databases backed up by the script; an inventory of one environment whose keiko_backups points at them."""
    assert backed_up["proc"].returncode == 0, backed_up["proc"].stderr
    inv = tmp_path_factory.mktemp("inventory")
    (inv / "host_vars").mkdir()
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"dev": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    (inv / "host_vars" / "dev.yml").write_text(yaml.safe_dump({
        "keiko_environment": "dev",
        "keiko_secrets_dir": str(inv / "secrets"),
        "keiko_services": ["identity", "learning", "gateway"],
        "keiko_backup": {"bucket": backed_up["bucket"]},
        "keiko_backups": {
            "endpoint_url": s3_server.url, "region": "us-east-1",
            "s3": {"access_key": s3_server.env["AWS_ACCESS_KEY_ID"], "secret_key": s3_server.env["AWS_SECRET_ACCESS_KEY"]},
            "restore": {"host": "127.0.0.1", "port": pg_server.port, "user": pg_server.user,
                        "password": pg_server.password, "sslmode": "disable", "pg_bin_dir": pg_server.bin,
                        "aws_command": s3_server.tools["aws"]}}}))
    return {"bucket": backed_up["bucket"], "inventory": str(inv / "hosts.yml"), "sums": backed_up["sums"]}


def failure(proc):
    """The failed task's part of the output (or its end)."""
    out = proc.stdout + proc.stderr
    at = out.find("fatal: ")
    return out[at:at + 3000] if at >= 0 else out[-3000:]


def restore(backups, *extra, verbose=False):
    args = ["-i", backups["inventory"], "playbooks/restore.yml"]
    for item in extra:
        args += ["-e", item]
    return ansible_playbook(args + (["-vvv"] if verbose else []))


def test_restores_every_row_into_a_new_database(backups, pg_server, s3_server):
    latest = json.loads(s3_server.get(backups["bucket"], "postgres/dev/identity/LATEST.json"))
    before = pg_server.databases()
    proc = restore(backups, "database=identity", "date=" + latest["time"][:10], verbose=True)
    assert proc.returncode == 0, failure(proc)
    target = "identity_restore_" + latest["stamp"].lower()
    assert pg_server.databases() - before == {target}
    restored = pg_server.checksums(target, CHECKSUMS)
    assert restored == backups["sums"]["identity"]
    assert set(restored) == {"public.users", "public.empty_table", "audit.events"}
    rows = sum(int(count) for count, _checksum in restored.values())
    assert ("Restored s3://%s/%s (%d bytes, dumped %s) into %s: 3 tables, %d rows."
            % (backups["bucket"], latest["key"], latest["size"], latest["time"], target, rows)) in " ".join(proc.stdout.split())
    # -vvv shows neither password (the credentials are in private files, never in a command line or the environment)
    assert pg_server.password not in proc.stdout + proc.stderr
    assert s3_server.env["AWS_SECRET_ACCESS_KEY"] not in proc.stdout + proc.stderr
    pg_server.psql("postgres", 'DROP DATABASE "%s"' % target)


def test_a_drill_as_the_awx_job_template_runs_it_passes_and_leaves_no_scratch_database(backups, pg_server, tmp_path):
    """The job template "Keiko restore", run as AWX runs it (tests/e2e/awx_job.py): its survey checks the answers
    (the API gateway has no database to choose), then ansible-runner runs restore.yml with no terminal."""
    template = awx_job.template("Keiko restore")
    with pytest.raises(awx_job.SurveyRefused, match="'gateway' is not a valid choice of database"):
        awx_job.survey_answers(template["survey"], {"database": "gateway"})
    before = pg_server.databases()
    job = awx_job.run(tmp_path / "awx", template["playbook"], backups["inventory"],
                      awx_job.survey_answers(template["survey"], {"database": "learning", "drill": "true"}), {}, {},
                      timeout=300)
    assert job.rc == 0 and job.status == "successful", job.stdout[-4000:]
    assert job.stats["failures"] == {} and set(job.stats["ok"]) == {"dev"}, job.stats
    assert "every table equal (rows and checksums)" in job.stdout
    assert pg_server.databases() == before


def test_a_drill_fails_on_a_difference_and_still_drops_its_scratch_database(backups, pg_server):
    before = pg_server.databases()
    pg_server.psql("learning", "UPDATE users SET score = score + 1 WHERE id = 7")
    try:
        proc = restore(backups, "database=learning", "drill=true")
    finally:
        pg_server.psql("learning", "UPDATE users SET score = score - 1 WHERE id = 7")
    assert proc.returncode != 0
    assert "public.users: the same 3000 rows, other content (checksum)" in proc.stdout, failure(proc)
    assert pg_server.databases() == before


def test_the_live_database_only_with_the_confirmation_naming_it(backups, pg_server):
    before = pg_server.databases()
    pg_server.psql("identity", "DELETE FROM audit.events WHERE what LIKE 'x%'; INSERT INTO empty_table VALUES (1, 'new')")
    changed = pg_server.checksums("identity", CHECKSUMS)
    for extra in ([], ["confirm_restore=learning"]):
        proc = restore(backups, "database=identity", "target=identity", *extra)
        assert proc.returncode != 0
        assert "replaces its data: run again with -e confirm_restore=identity" in " ".join(proc.stdout.split())
        assert pg_server.checksums("identity", CHECKSUMS) == changed and pg_server.databases() == before
    proc = restore(backups, "database=identity", "confirm_restore=identity")  # the confirmation names the target
    assert proc.returncode == 0, failure(proc)
    assert pg_server.checksums("identity", CHECKSUMS) == backups["sums"]["identity"]
    assert pg_server.databases() == before


def test_bad_input_fails_before_anything(backups, pg_server):
    before = pg_server.databases()
    proc = restore(backups, "database=gateway", "date=yesterday")
    assert proc.returncode != 0
    out = " ".join(proc.stdout.split())
    assert 'the database "gateway" is not one of the inventory\'s (identity, learning)' in out
    assert 'the date "yesterday" is YYYY-MM-DD' in out
    assert pg_server.databases() == before
