"""roles/postgres_backup renders the CronJob, its script's ConfigMap and its Application into a GitOps repository
(a bare repository on disk, file://): one commit, none the second time, none in check mode; bad input fails with all
its problems before anything is written; no credential value in any manifest."""

import subprocess
import sys

import pytest
import yaml

from backup_data import SCRIPT, ansible_playbook

DIR = "k8s/platform/postgres-backup/dev/"
APP = "argocd/dev/platform-postgres-backup.yaml"
VARS = {
    "postgres_backup_environment": "dev",
    "postgres_backup_branch": "main",
    "postgres_backup_known_databases": ["identity", "learning", "reputation"],
    "postgres_backup_bucket": "keikolatam-dev-backups",
    "postgres_backup_endpoint_url": "https://s3.gra.io.cloud.ovh.net",
    "postgres_backup_region": "gra",
}


def git(bare, *args):
    return subprocess.run(["git", "--git-dir", str(bare), *args], capture_output=True, text=True, check=False).stdout


def commits(bare):
    out = git(bare, "rev-list", "--count", "main").strip()
    return int(out) if out else 0


def render(tmp_path, bare, *extra, **overrides):
    play = [{"hosts": "localhost", "gather_facts": False, "roles": [{
        "role": "keikolatam.gitops.postgres_backup",
        "vars": {**VARS, "postgres_backup_repo_url": "file://" + str(bare), **overrides}}]}]
    path = tmp_path / ("play-%d.yml" % len(list(tmp_path.glob("play-*.yml"))))
    path.write_text(yaml.safe_dump(play))
    return ansible_playbook(["-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
                             str(path), *extra])


@pytest.fixture
def bare(tmp_path):
    path = tmp_path / "gitops.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    return path


def test_one_commit_then_none(tmp_path, bare):
    proc = render(tmp_path, bare, postgres_backup_databases=["identity", "learning"])
    assert proc.returncode == 0 and "changed=1" in proc.stdout, proc.stdout[-3000:]
    assert commits(bare) == 1
    assert git(bare, "log", "-1", "--format=%s", "main").strip() == (
        "render dev: postgres-backup (k8s/platform/postgres-backup/dev, argocd/dev/platform-postgres-backup.yaml)")
    files = git(bare, "ls-tree", "-r", "--name-only", "main").split()
    assert sorted(files) == sorted([DIR + "kustomization.yaml", DIR + "configmap.yaml", DIR + "cronjob.yaml", APP])

    configmap = yaml.safe_load(git(bare, "show", "main:" + DIR + "configmap.yaml"))
    assert configmap["data"]["keiko-backup.sh"] == SCRIPT.read_text(encoding="utf-8")  # the exact file the tests run
    cron = yaml.safe_load(git(bare, "show", "main:" + DIR + "cronjob.yaml"))
    assert cron["metadata"]["name"] == "postgres-backup" and cron["metadata"]["namespace"] == "keiko-backup"
    spec = cron["spec"]
    assert spec["schedule"] == "0 */6 * * *" and spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == 1800 and spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 3600
    assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 3
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    for container in pod["containers"] + pod["initContainers"]:
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False and ctx["readOnlyRootFilesystem"] is True
        assert ctx["capabilities"]["drop"] == ["ALL"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["KEIKO_BACKUP_DATABASES"]["value"] == "identity learning"
    assert env["AWS_REQUEST_CHECKSUM_CALCULATION"]["value"] == "WHEN_REQUIRED"
    # Credentials only as references to the Secrets: no value of theirs in any manifest.
    secrets = {"PGHOST": "postgres-backup-db", "PGPORT": "postgres-backup-db", "PGUSER": "postgres-backup-db",
               "PGPASSWORD": "postgres-backup-db", "AWS_ACCESS_KEY_ID": "postgres-backup-s3",
               "AWS_SECRET_ACCESS_KEY": "postgres-backup-s3"}
    for name, secret in secrets.items():
        assert "value" not in env[name] and env[name]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": name}
    app = yaml.safe_load(git(bare, "show", "main:" + APP))
    assert app["spec"]["project"] == "platform" and app["spec"]["source"]["path"] == "k8s/platform/postgres-backup/dev"
    assert app["spec"]["destination"]["namespace"] == "keiko-backup"

    proc = render(tmp_path, bare, postgres_backup_databases=["identity", "learning"])
    assert proc.returncode == 0 and "changed=0" in proc.stdout, proc.stdout[-3000:]
    assert commits(bare) == 1


def test_check_mode_commits_nothing(tmp_path, bare):
    proc = render(tmp_path, bare, "--check", "--diff")
    assert proc.returncode == 0 and "changed=1" in proc.stdout, proc.stdout[-3000:]
    assert "+  schedule: \"0 */6 * * *\"" in proc.stdout  # the diff shows the CronJob to come
    assert commits(bare) == 0


def test_bad_input_fails_with_every_problem_before_any_write(tmp_path, bare):
    proc = render(tmp_path, bare, postgres_backup_schedule="61 */6 * * mon-xyz", postgres_backup_retention_days=0,
                  postgres_backup_databases=["identity", "billing"])
    assert proc.returncode != 0
    out = " ".join(proc.stdout.split())
    assert ('the schedule "61 */6 * * mon-xyz" is not a cron expression: minute "61" (0-59), day of week "mon-xyz" (0-7)'
            in out)
    assert "the retention (postgres_backup_retention_days) is 0: at least 1 day" in out
    assert "unknown database billing (the inventory's: identity, learning, reputation)" in out
    assert "Nothing was changed." in out and commits(bare) == 0
    proc = render(tmp_path, bare, postgres_backup_schedule="0 */6 * *")
    assert proc.returncode != 0 and "(five fields" in proc.stdout and commits(bare) == 0
