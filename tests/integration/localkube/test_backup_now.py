"""playbooks/backup.yml, the job template "Keiko backup now", run as AWX runs it (tests/e2e/awx_job.py: its survey,
ansible-runner, no terminal) on the session's control plane: a Job made from the environment's backup CronJob, waited
for until it completes (kwok completes a Job's pods, or never starts one whose image tag ends in -broken).

The CronJob stands for the one bootstrap.yml renders (roles/postgres_backup): this test is about the playbook that
starts it now, not about the dumps (tests/integration/backup runs the CronJob's script for real).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import yaml

import awx_job

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
NAMESPACE = "keiko-backup"


def cronjob(image: str) -> dict:
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "postgres-backup", "namespace": NAMESPACE},
            "spec": {"schedule": "0 */6 * * *", "suspend": True, "concurrencyPolicy": "Forbid",
                     "jobTemplate": {
                         "metadata": {"labels": {"app.kubernetes.io/name": "postgres-backup",
                                                 "keikolatam.io/environment": "dev"}},
                         "spec": {"backoffLimit": 0, "activeDeadlineSeconds": 600, "template": {"spec": {
                             "restartPolicy": "Never",
                             "containers": [{"name": "backup", "image": image}]}}}}}}


class Cluster:
    def __init__(self, kubeconfig: str):
        self.kubeconfig = kubeconfig

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([KUBECTL, f"--kubeconfig={self.kubeconfig}", *args], input=stdin, capture_output=True,
                              text=True, timeout=60, check=check)

    def apply(self, obj: dict) -> None:
        self.kubectl("apply", "-f", "-", stdin=json.dumps(obj))

    def jobs(self) -> list[dict]:
        return json.loads(self.kubectl("-n", NAMESPACE, "get", "jobs", "-o", "json").stdout)["items"]


@pytest.fixture(scope="module")
def env(localkube, tmp_path_factory):
    """An inventory of one environment (dev) whose secrets directory holds the session cluster's kubeconfig."""
    root = tmp_path_factory.mktemp("backup-now")
    secrets = root / "secrets"
    secrets.mkdir(mode=0o700)
    shutil.copy(localkube.kubeconfig, secrets / "kubeconfig")
    (root / "host_vars").mkdir()
    (root / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"dev": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    (root / "host_vars" / "dev.yml").write_text(yaml.safe_dump({
        "keiko_environment": "dev", "keiko_secrets_dir": str(secrets),
        # A failed Job never completes: the wait outlasts its activeDeadlineSeconds by default (an hour); here, not.
        "postgres_backup_run_timeout": 30}))
    cluster = Cluster(str(secrets / "kubeconfig"))
    cluster.kubectl("create", "namespace", NAMESPACE, check=False)
    yield {"root": root, "inventory": str(root / "hosts.yml"), "cluster": cluster,
           "template": awx_job.template("Keiko backup now")}
    cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def launch(env, answers: dict, job: str) -> awx_job.Job:
    template = env["template"]
    return awx_job.run(env["root"] / "awx" / job, template["playbook"], env["inventory"],
                       awx_job.survey_answers(template["survey"], answers), {}, {}, timeout=300)


def test_backup_now_refuses_an_environment_outside_its_choices_and_without_a_cronjob(env):
    with pytest.raises(awx_job.SurveyRefused, match="'qa' is not a valid choice"):
        launch(env, {"env": "qa"}, "refused")
    # No CronJob yet (bootstrap.yml without keiko_backups.enabled): a clear failure, and no Job.
    job = launch(env, {"env": "dev"}, "no-cronjob")
    text = " ".join(job.stdout.split())
    assert job.rc != 0 and "dev has no CronJob keiko-backup/postgres-backup: enable keiko_backups" in text, text[-3000:]
    assert env["cluster"].jobs() == []


def test_backup_now_runs_a_job_from_the_cronjob_and_waits_until_it_completes(env):
    cluster = env["cluster"]
    cluster.apply(cronjob("registry.invalid/keiko/backup:1.0"))
    uid = json.loads(cluster.kubectl("-n", NAMESPACE, "get", "cronjob", "postgres-backup", "-o", "json").stdout)[
        "metadata"]["uid"]
    job = launch(env, {"env": "dev"}, "completes")
    assert job.rc == 0 and job.status == "successful", job.stdout[-4000:]
    assert job.stats["changed"] == {"dev": 1} and job.stats["failures"] == {}, job.stats
    (made,) = cluster.jobs()
    assert made["metadata"]["name"].startswith("postgres-backup-manual-")
    assert made["metadata"]["ownerReferences"][0]["uid"] == uid
    assert made["metadata"]["labels"]["keikolatam.io/environment"] == "dev"
    assert made["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.invalid/keiko/backup:1.0"
    # It returned once the Job had completed, not when it was created.
    assert [c["type"] for c in made["status"].get("conditions", []) if c["status"] == "True"] == ["SuccessCriteriaMet",
                                                                                                  "Complete"]


def test_a_backup_job_that_does_not_complete_fails_the_job_and_says_where_its_logs_are(env):
    cluster = env["cluster"]
    cluster.kubectl("-n", NAMESPACE, "delete", "jobs", "--all", "--wait=true")
    cluster.apply(cronjob("registry.invalid/keiko/backup:1.0-broken"))
    job = launch(env, {"env": "dev"}, "broken")
    text = " ".join(job.stdout.split())
    assert job.rc != 0 and job.stats["failures"] == {"dev": 1}, text[-4000:]
    (made,) = cluster.jobs()
    name = made["metadata"]["name"]
    assert f"The backup Job keiko-backup/{name} of dev did not complete" in text, text[-4000:]
    assert f"kubectl -n keiko-backup logs job/{name}" in text, text[-4000:]
