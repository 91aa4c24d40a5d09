"""The services' CI template (extensions/ci/github/services-release.yml), as the services' team would use it.

actionlint passes on it (and reports a broken copy); it calls only playbooks of this collection, with variables
deploy.yml reads; it never writes to git; its scripts do what they say when run: the changed services of a push,
the skip of a release that a newer commit supersedes, and the AWX launch against an AWX API stand-in on loopback.
actionlint comes from the cache, built by `make actionlint-binary` (hack/actionlint.sh): a missing binary fails.
"""

import json
import os
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jinja2
import jinja2.meta
import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKFLOW = os.path.join(REPO, "extensions", "ci", "github", "services-release.yml")
ENV_NAMES = {"env", "service", "image"}


def load():
    with open(WORKFLOW, encoding="utf-8") as f:
        return yaml.safe_load(f)


def text():
    with open(WORKFLOW, encoding="utf-8") as f:
        return f.read()


def steps(doc=None):
    doc = doc or load()
    return [(job_id, step) for job_id, job in doc["jobs"].items() for step in job.get("steps", [])]


def step(name_part):
    found = [s for _job, s in steps() if name_part in s.get("name", "")]
    assert len(found) == 1, "one step named like %r, found %d" % (name_part, len(found))
    return found[0]


def scripts():
    return [s["run"] for _job, s in steps() if "run" in s]


@pytest.fixture(scope="module")
def actionlint():
    path = subprocess.run([os.path.join(REPO, "hack", "actionlint.sh"), "path"], capture_output=True, text=True,
                          check=True).stdout.strip()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("actionlint is not built: %s is missing. Run `make actionlint-binary` (hack/actionlint.sh build), "
                    "which `make test` and `make unit` do first." % path)
    return path


def lint(actionlint, path):
    return subprocess.run([actionlint, "-no-color", "-oneline", str(path)], capture_output=True, text=True,
                          check=False, cwd=REPO)


# ---------------------------------------------------------------------------------------------------------------
# actionlint

def test_actionlint_passes_on_the_template(actionlint):
    proc = lint(actionlint, WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""


def test_actionlint_checks_the_actions_inputs_on_the_major_versions(actionlint, tmp_path):
    """actionlint knows the inputs of popular actions by major version (@v6), not by full tag: the same workflow
    with each full tag cut to its major is checked against those inputs, and passes."""
    majors = re.sub(r"(uses: [\w.-]+/[\w.-]+)@(v\d+)\.[\d.]+", r"\1@\2", text())
    assert majors != text()
    path = tmp_path / "majors.yml"
    path.write_text(majors, encoding="utf-8")
    proc = lint(actionlint, path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("old, new, reported", [
    ("    needs: changes\n", "    needs: chnages\n", 'job "build" needs job "chnages" which does not exist'),
    ("${{ steps.build.outputs.digest }}", "${{ steps.biuld.outputs.digest }}", 'property "biuld" is not defined'),
    ("  push:\n    branches: [main]", "  pushed:\n    branches: [main]", 'unknown Webhook event "pushed"'),
    ('[ "$status" = successful ]', '[ $status = successful ]', "SC2086"),
    ("          push: true\n", "          push: true\n          pushh: true\n", 'input "pushh" is not defined'),
], ids=["needs", "step-output", "event", "shellcheck", "action-input"])
def test_actionlint_reports_a_broken_copy(actionlint, tmp_path, old, new, reported):
    source = text()
    assert source.count(old) == 1, old
    broken = source.replace(old, new)
    if "pushh" in new:  # inputs are checked on the major versions only (above)
        broken = re.sub(r"(uses: [\w.-]+/[\w.-]+)@(v\d+)\.[\d.]+", r"\1@\2", broken)
    path = tmp_path / "broken.yml"
    path.write_text(broken, encoding="utf-8")
    proc = lint(actionlint, path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert reported in proc.stdout


def test_every_action_is_pinned_by_a_full_version_tag():
    uses = [s["uses"] for _job, s in steps() if "uses" in s]
    assert len(uses) >= 8
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+\.\d+\.\d+", ref), ref


def test_the_template_is_not_a_workflow_of_this_repository():
    assert not os.path.exists(os.path.join(REPO, ".github", "workflows"))
    assert load()["on"]["push"]["paths"] == ["services/**"]


# ---------------------------------------------------------------------------------------------------------------
# what it calls: this collection's playbooks, with the variables they read

def deploy_variables():
    """(every variable deploy.yml reads that the play does not define, those its first check requires)."""
    with open(os.path.join(REPO, "playbooks", "deploy.yml"), encoding="utf-8") as f:
        source = f.read()
    play = yaml.safe_load(source)[0]
    env = jinja2.Environment()
    # Ansible's filters and tests, by name only (what they do does not matter to which variables are read).
    for name in re.findall(r"\|\s*([\w.]+)", source):
        env.filters.setdefault(name, lambda *args, **kwargs: None)
    for name in re.findall(r"\bis\s+(?:not\s+)?([\w.]+)", source):
        env.tests.setdefault(name, lambda *args, **kwargs: None)

    def names(value, raw=False):
        """The variables a value reads: Jinja in strings, and whole expressions under `that:` and `when:`."""
        if isinstance(value, dict):
            return set().union(set(), *(names(v, k in ("that", "when")) for k, v in value.items()))
        if isinstance(value, list):
            return set().union(set(), *(names(v, raw) for v in value))
        if isinstance(value, str) and (raw or "{{" in value):
            return jinja2.meta.find_undeclared_variables(env.parse("{{ %s }}" % value if raw else value))
        return set()

    magic = {"groups", "inventory_hostname", "hostvars"}
    used = (names(play["pre_tasks"]) | names(play["roles"])) - magic
    required = names(play["pre_tasks"][0]["ansible.builtin.assert"]["that"], raw=True) - magic
    return used, required


def test_deploy_variables_are_what_the_test_expects():
    used, required = deploy_variables()
    assert required == ENV_NAMES
    assert used == ENV_NAMES | {"approved"}


def test_the_ansible_playbook_release_runs_deploy_yml_of_this_collection_with_its_variables():
    used, required = deploy_variables()
    calls = [m for run in scripts() for m in re.finditer(r"ansible-playbook\s+(.*?)(?<!\\)\n", run, re.S)]
    assert len(calls) == 1
    call = calls[0].group(1)
    playbooks = re.findall(r"(playbooks/[\w.-]+\.ya?ml)", call)
    assert playbooks == ["playbooks/deploy.yml"]
    for pb in playbooks:
        assert os.path.isfile(os.path.join(REPO, pb))
    env = load()["env"]["KEIKO_ENV"]
    inventory = re.search(r'-i\s+"?inventories/\$KEIKO_ENV"?', call)
    assert inventory and os.path.isfile(os.path.join(REPO, "inventories", env, "hosts.yml"))
    with open(os.path.join(REPO, "inventories", env, "hosts.yml"), encoding="utf-8") as f:
        assert env in yaml.safe_load(f)["all"]["hosts"]
    passed = set(re.findall(r'-e\s+"(\w+)=', call))
    assert required <= passed <= used, passed
    assert re.search(r'-e\s+"env=\$KEIKO_ENV"', call)


def test_the_awx_release_launches_a_job_template_with_deploy_yml_variables():
    used, required = deploy_variables()
    run = step("AWX")["run"]
    assert "/job_templates/$template/launch/" in run
    body = re.search(r"extra_vars: \{([^}]*)\}", run).group(1)
    passed = set(re.findall(r"(\w+): \$", body))
    assert required <= passed <= used, passed


def test_one_environment_everywhere_and_releases_of_a_service_queue():
    doc = load()
    env = doc["env"]["KEIKO_ENV"]
    assert env == "dev"
    for job_id in ("build", "release"):
        assert doc["jobs"][job_id]["environment"] == env
    concurrency = doc["jobs"]["release"]["concurrency"]
    assert concurrency["cancel-in-progress"] is False
    assert concurrency["group"] == "keiko-release-%s-${{ matrix.dir }}" % env
    assert doc["jobs"]["release"]["strategy"]["max-parallel"] == 1


def test_the_ansible_release_uses_the_ansible_the_collection_is_tested_with():
    with open(os.path.join(REPO, "tests", "requirements.txt"), encoding="utf-8") as f:
        pinned = re.search(r"^ansible==(\S+)$", f.read(), re.M).group(1)
    assert load()["env"]["KEIKO_ANSIBLE_VERSION"] == pinned


# ---------------------------------------------------------------------------------------------------------------
# never a write to git

def test_no_step_writes_to_git():
    for run in scripts():
        for forbidden in ("git push", "git commit", "kustomize edit", "git config"):
            assert forbidden not in run, (forbidden, run)
    doc = load()
    assert doc["permissions"] == {"contents": "read"}
    for job in doc["jobs"].values():
        assert "permissions" not in job
    checkouts = [s for _job, s in steps(doc) if s.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) == 4
    for s in checkouts:
        assert s["with"]["persist-credentials"] is False


def test_it_pushes_one_immutable_tag_and_releases_by_digest():
    build = step("Build and push")["with"]
    assert build["tags"] == "${{ steps.image.outputs.name }}:${{ github.sha }}"
    assert ":latest" not in text() and "type=raw,value=latest" not in text()
    record = step("Record the image")["run"]
    assert '"$NAME:$GITHUB_SHA@$DIGEST"' in record


# ---------------------------------------------------------------------------------------------------------------
# the scripts, run

def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t.invalid",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t.invalid"}).stdout.strip()


def commit(repo, files, message):
    for name, content in files.items():
        path = repo / name
        if content is None:
            git(repo, "rm", "-q", "-r", name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        git(repo, "add", name)
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def run_step(script, cwd, tmp_path, **env):
    out = tmp_path / "github_output"
    out.write_text("", encoding="utf-8")
    proc = subprocess.run(["bash", "-e", "-c", script], cwd=cwd, capture_output=True, text=True, check=False,
                          env={**os.environ, "GITHUB_OUTPUT": str(out), **env})
    outputs = dict(line.split("=", 1) for line in out.read_text(encoding="utf-8").splitlines() if "=" in line)
    return proc, outputs


@pytest.fixture()
def services_repo(tmp_path):
    repo = tmp_path / "services-repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    first = commit(repo, {"services/identity-service/Dockerfile": "FROM scratch\n",
                          "services/learning/Dockerfile": "FROM scratch\n",
                          "services/README.md": "docs\n", "docs/x.md": "x\n"}, "first")
    return repo, first


def test_changed_services_of_a_push(services_repo, tmp_path):
    repo, first = services_repo
    script = step("List the services")["run"]
    head = commit(repo, {"services/learning/main.go": "package main\n", "services/README.md": "more\n",
                         "docs/x.md": "y\n"}, "learning")
    proc, out = run_step(script, repo, tmp_path, EVENT="push", BEFORE=first, GITHUB_SHA=head)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out["services"]) == ["learning"]

    # several commits in one push, a directory without a Dockerfile, a removed service
    commit(repo, {"services/identity-service/app.py": "x\n", "services/tools/x.sh": "x\n"}, "two")
    head3 = commit(repo, {"services/learning": None}, "learning removed")
    proc, out = run_step(script, repo, tmp_path, EVENT="push", BEFORE=head, GITHUB_SHA=head3)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out["services"]) == ["identity-service"]
    assert "services/tools has no Dockerfile" in proc.stdout

    # a new branch (or a force push): every service
    proc, out = run_step(script, repo, tmp_path, EVENT="push", BEFORE="0" * 40, GITHUB_SHA=head3)
    assert json.loads(out["services"]) == ["identity-service"]
    # nothing a service has changed: an empty list (the build and release jobs do not run)
    head4 = commit(repo, {"services/README.md": "again\n"}, "readme")
    proc, out = run_step(script, repo, tmp_path, EVENT="push", BEFORE=head3, GITHUB_SHA=head4)
    assert json.loads(out["services"]) == []


def test_changed_services_by_hand_and_bad_names(services_repo, tmp_path):
    repo, first = services_repo
    script = step("List the services")["run"]
    proc, out = run_step(script, repo, tmp_path, EVENT="workflow_dispatch", INPUT_SERVICES="learning, identity-service",
                         GITHUB_SHA=first)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out["services"]) == ["learning", "identity-service"]
    proc, out = run_step(script, repo, tmp_path, EVENT="workflow_dispatch", INPUT_SERVICES="", GITHUB_SHA=first)
    assert json.loads(out["services"]) == ["identity-service", "learning"]
    proc, _output = run_step(script, repo, tmp_path, EVENT="workflow_dispatch", INPUT_SERVICES="search", GITHUB_SHA=first)
    assert proc.returncode != 0 and "services/search/Dockerfile does not exist" in proc.stdout
    head = commit(repo, {"services/Bad_Name/Dockerfile": "FROM scratch\n"}, "bad")
    proc, _output = run_step(script, repo, tmp_path, EVENT="push", BEFORE=first, GITHUB_SHA=head)
    assert proc.returncode != 0 and "services/Bad_Name: a service directory is a DNS label" in proc.stdout


def test_a_release_superseded_by_a_newer_commit_is_skipped(services_repo, tmp_path):
    repo, first = services_repo
    script = step("Skip when a newer commit")["run"]
    release = tmp_path / "release"
    release.mkdir()
    image = "reg.example/keiko/learning:%s@sha256:%s" % (first, "a" * 64)
    (release / "image.json").write_text(json.dumps({"dir": "learning", "service": "learning", "image": image}))
    work = tmp_path / "services-repo"
    assert work == repo  # the script reads ../release/image.json, as in the job's layout
    base = {"DIR": "learning", "GITHUB_SHA": first, "GITHUB_REF_NAME": "main"}

    git(repo, "update-ref", "refs/remotes/origin/main", first)
    proc, out = run_step(script, repo, tmp_path, **base)
    assert proc.returncode == 0, proc.stderr
    assert out == {"release": "true", "service": "learning", "image": image}

    other = commit(repo, {"services/identity-service/x": "1\n"}, "identity only")
    git(repo, "update-ref", "refs/remotes/origin/main", other)
    proc, out = run_step(script, repo, tmp_path, **base)
    assert out["release"] == "true"  # a newer commit of another service does not supersede it

    newer = commit(repo, {"services/learning/x": "1\n"}, "learning again")
    git(repo, "update-ref", "refs/remotes/origin/main", newer)
    proc, out = run_step(script, repo, tmp_path, **base)
    assert proc.returncode == 0, proc.stderr
    assert out["release"] == "false"
    assert "services/learning changed in 1 later commit(s) of main" in proc.stdout


class FakeAWX(BaseHTTPRequestHandler):
    """The part of AWX's API v2 the step uses: launch a job template, read a job, its stdout."""

    launches = []
    statuses = []
    final = "successful"
    ignored = False

    def log_message(self, *args):
        pass

    def reply(self, code, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        if self.headers.get("Authorization") != "Bearer t0ken":
            return self.reply(401, {"detail": "Authentication credentials were not provided."})
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeAWX.launches.append((self.path, body))
        answer = {"job": 42, "ignored_fields": {}}
        if FakeAWX.ignored:
            answer["ignored_fields"] = {"extra_vars": body["extra_vars"]}
        return self.reply(201, answer)

    def do_GET(self):
        if self.path == "/api/v2/jobs/42/":
            status = FakeAWX.statuses.pop(0) if FakeAWX.statuses else FakeAWX.final
            return self.reply(200, {"id": 42, "status": status})
        if self.path == "/api/v2/jobs/42/stdout/?format=txt":
            return self.reply(200, "PLAY RECAP dev ok=12 failed=0\n", "text/plain")
        return self.reply(404, {"detail": "Not found."})


@pytest.fixture()
def awx():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAWX)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeAWX.launches, FakeAWX.statuses, FakeAWX.final, FakeAWX.ignored = [], [], "successful", False
    yield "http://127.0.0.1:%d/" % server.server_address[1]
    server.shutdown()
    server.server_close()


def awx_step(tmp_path, host, template="keiko deploy++Keiko", token="t0ken"):
    # no wait between polls in the test
    script = step("AWX")["run"].replace("sleep 10", "sleep 0")
    return run_step(script, tmp_path, tmp_path, AWX_HOST=host, AWX_TEMPLATE=template, AWX_TOKEN=token,
                    KEIKO_ENV="dev", SERVICE="identity", IMAGE="reg.example/keiko/identity:abc@sha256:" + "b" * 64)


def test_awx_release_launches_and_waits_for_the_job(awx, tmp_path):
    FakeAWX.statuses = ["pending", "running"]
    proc, _output = awx_step(tmp_path, awx)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert FakeAWX.launches == [("/api/v2/job_templates/keiko%20deploy%2B%2BKeiko/launch/", {"extra_vars": {
        "env": "dev", "service": "identity", "image": "reg.example/keiko/identity:abc@sha256:" + "b" * 64}})]
    assert "AWX job 42: successful" in proc.stdout
    assert "PLAY RECAP" in proc.stdout


def test_awx_release_fails_with_the_job_or_ignored_variables(awx, tmp_path):
    FakeAWX.final = "failed"
    proc, _output = awx_step(tmp_path, awx)
    assert proc.returncode != 0
    assert "AWX job 42: failed" in proc.stdout

    FakeAWX.final, FakeAWX.ignored = "successful", True
    proc, _output = awx_step(tmp_path, awx)
    assert proc.returncode != 0
    assert "AWX ignored the extra variables" in proc.stdout

    FakeAWX.ignored = False
    launched = len(FakeAWX.launches)
    proc, _output = awx_step(tmp_path, awx, token="wrong")
    assert proc.returncode != 0 and len(FakeAWX.launches) == launched  # the API refused it: no job
    proc, _output = awx_step(tmp_path, awx, template="")
    assert proc.returncode != 0 and "set the variables AWX_HOST, AWX_DEPLOY_JOB_TEMPLATE" in proc.stdout


# ---------------------------------------------------------------------------------------------------------------
# the GitLab CI equivalent (extensions/ci/gitlab/services-release.gitlab-ci.yml): no linter runs here; its shape,
# what it calls, and its release script, run with a stand-in ansible-playbook

GITLAB = os.path.join(REPO, "extensions", "ci", "gitlab", "services-release.gitlab-ci.yml")


def gitlab():
    with open(GITLAB, encoding="utf-8") as f:
        return yaml.safe_load(f)


def test_gitlab_template_calls_deploy_yml_with_its_variables_and_never_writes_to_git():
    used, required = deploy_variables()
    doc = gitlab()
    lines = [line for job in ("build", "release") for key in ("before_script", "script", "after_script")
             for line in doc[job].get(key, [])]
    body = "\n".join(lines)
    for forbidden in ("git push", "git commit", "kustomize edit", "git config"):
        assert forbidden not in body
    calls = re.findall(r"ansible-playbook\s+(.*?)(?<!\\)\n", body, re.S)
    assert len(calls) == 1
    assert re.findall(r"(playbooks/[\w.-]+\.ya?ml)", calls[0]) == ["playbooks/deploy.yml"]
    passed = set(re.findall(r'-e\s+"(\w+)=', calls[0]))
    assert required <= passed <= used
    assert doc["variables"]["KEIKO_ENV"] == load()["env"]["KEIKO_ENV"]
    assert doc["variables"]["KEIKO_ANSIBLE_VERSION"] == load()["env"]["KEIKO_ANSIBLE_VERSION"]
    assert doc["release"]["resource_group"] == "keiko-release-%s" % doc["variables"]["KEIKO_ENV"]
    assert doc["release"]["environment"]["name"] == doc["build"]["environment"]["name"] == "dev"
    assert ":latest" not in body


def test_gitlab_release_script_deploys_each_image_unless_superseded(services_repo, tmp_path):
    repo, first = services_repo
    git(repo, "remote", "add", "origin", str(repo))
    newer = commit(repo, {"services/learning/x": "1\n"}, "learning again")
    git(repo, "reset", "-q", "--hard", first)  # the pipeline's checkout: the first commit; main has one more
    git(repo, "update-ref", "refs/heads/main", newer)
    (repo / "release").mkdir()
    (repo / "release" / "images.txt").write_text(
        "identity-service identity reg.example/keiko/identity:%s@sha256:%s\n"
        "learning learning reg.example/keiko/learning:%s@sha256:%s\n" % (first, "c" * 64, first, "d" * 64))
    (repo / "keikolatam.gitops").mkdir()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "calls"
    # The stand-in reads its standard input as ansible-playbook may: it must not eat the list of images.
    (bindir / "ansible-playbook").write_text('#!/bin/bash\ncat >/dev/null\necho "$*" >>%s\n' % calls)
    (bindir / "ansible-playbook").chmod(0o755)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\n")
    script = gitlab()["release"]["script"][0]
    proc = subprocess.run(["sh", "-e", "-c", script], cwd=repo, capture_output=True, text=True, check=False, env={
        **os.environ, "PATH": "%s:%s" % (bindir, os.environ["PATH"]), "CI_DEFAULT_BRANCH": "main",
        "CI_COMMIT_SHA": first, "CI_PROJECT_DIR": str(repo), "KEIKO_ENV": "dev", "GITLAB_USER_LOGIN": "ana",
        "KEIKO_KUBECONFIG_DEV": str(kubeconfig)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert calls.read_text().splitlines() == [
        "-i inventories/dev playbooks/deploy.yml -e env=dev -e service=identity "
        "-e image=reg.example/keiko/identity:%s@sha256:%s" % (first, "c" * 64)]
    assert "services/learning changed in 1 later commit(s)" in proc.stdout
    assert (repo / ".keiko-secrets" / "dev" / "kubeconfig").stat().st_mode & 0o077 == 0
