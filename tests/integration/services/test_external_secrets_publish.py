"""The external_secrets role's publication (tasks/publish.yml) against the emulator's OVHcloud Secret Manager: the
rendered ExternalSecrets' remote keys get the database role's and the registry role's passwords, a second run
writes nothing, missing input is refused with every problem before any request, and no password is in the -vvv
--diff output."""

import json
import secrets
import subprocess
import sys

import requests
import yaml
from ovh_scenario import BIN, REPO, env_for


def test_publish_writes_what_the_externalsecrets_read(emu, tmp_path):
    i = emu.info
    pw = {"api": secrets.token_hex(16), "billing": secrets.token_hex(16), "ci": secrets.token_hex(16)}
    db_file, reg_file = tmp_path / "database-users.yml", tmp_path / "registry-users.yml"
    db_file.write_text(yaml.safe_dump({"service": "keiko-pg", "passwords": {"api": pw["api"], "billing_rw": pw["billing"]}}))
    reg_file.write_text(yaml.safe_dump({"registry": "keiko", "url": "https://abc.gra9.container-registry.ovh.net",
                                        "passwords": {"ci": pw["ci"]}}))
    for f in (db_file, reg_file):
        f.chmod(0o600)
    render = {"external_secrets_environment": "staging", "external_secrets_url": "file:///nonexistent",
              "external_secrets_branch": "staging", "external_secrets_services": ["gateway", "api", "billing"],
              "external_secrets_ovh_server": "https://eu-west-rbx.okms.ovh.net",
              "external_secrets_ovh_okms_id": i["okms_id"]}
    publish = dict(render, external_secrets_ovh_server=i["okms_server"], external_secrets_publish_token=i["okms_token"],
                   external_secrets_publish_database_secrets_file=str(db_file),
                   external_secrets_publish_database_host="pg.keiko.example.test",
                   external_secrets_publish_database_port="20184",
                   external_secrets_publish_database_users={"billing": "billing_rw"},
                   external_secrets_publish_registry_secrets_file=str(reg_file),
                   external_secrets_publish_registry_user="ci")
    role = "keikolatam.gitops.external_secrets"
    out = tmp_path / "results.json"
    tasks = [
        {"ansible.builtin.include_role": {"name": role, "tasks_from": "render"}, "vars": render},
        {"ansible.builtin.include_role": {"name": role, "tasks_from": "publish"}, "vars": publish},
        {"ansible.builtin.set_fact": {"first": "{{ external_secrets_published.results | map(attribute='changed') }}"}},
        {"ansible.builtin.include_role": {"name": role, "tasks_from": "publish"}, "vars": publish},
        {"ansible.builtin.set_fact": {"second": "{{ external_secrets_published.results | map(attribute='changed') }}"}},
        {"block": [{"ansible.builtin.include_role": {"name": role, "tasks_from": "publish"},
                    "vars": dict(publish, external_secrets_publish_token="",
                                 external_secrets_publish_database_secrets_file=str(tmp_path / "missing.yml"),
                                 external_secrets_publish_database_host="")}],
         "rescue": [{"ansible.builtin.set_fact": {"refused": "{{ ansible_failed_result.msg }}"}}]},
        {"ansible.builtin.copy": {"content": "{{ {'first': first, 'second': second, 'refused': refused} | to_json }}",
                                  "dest": str(out)}, "no_log": True},
    ]
    book = tmp_path / "publish.yml"
    book.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "connection": "local",
                                     "tasks": tasks}], sort_keys=False))
    before = len(emu.requests(kind="okms"))
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-e",
                           "ansible_python_interpreter=" + sys.executable, str(book), "--diff", "-vvv"],
                          cwd=str(REPO), env=env_for(emu), capture_output=True, text=True, timeout=300, check=False)
    assert out.exists(), proc.stdout[-5000:] + proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["first"] == [True, True, True] and res["second"] == [False, False, False]
    for problem in ("external_secrets_publish_token", "no password for keiko/staging/api/database", "no host for"):
        assert problem in res["refused"], res["refused"]
    log = emu.requests(kind="okms")[before:]
    assert [e["method"] for e in log] == ["GET", "POST"] * 3 + ["GET"] * 3, "the refused run sent a request"

    def read(path):
        r = requests.get("%s/api/%s/v1/secret/data/%s" % (i["okms_server"], i["okms_id"], path),
                         headers={"X-Vault-Token": i["okms_token"]}, timeout=10)
        return r.json()["data"]["data"]

    assert read("keiko/staging/api/database") == {"user": "api", "password": pw["api"], "host": "pg.keiko.example.test",
                                                  "port": "20184", "database": "api", "sslmode": "require"}
    assert read("keiko/staging/billing/database")["user"] == "billing_rw"
    assert read("keiko/staging/billing/database")["password"] == pw["billing"]
    assert read("keiko/staging/registry") == {"server": "abc.gra9.container-registry.ovh.net", "username": "ci",
                                              "password": pw["ci"]}
    output = proc.stdout + proc.stderr
    for what, value in dict(pw, token=i["okms_token"]).items():
        assert value not in output, "%s leaked in the -vvv --diff output" % what
