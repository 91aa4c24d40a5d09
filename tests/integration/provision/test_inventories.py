"""Environments are inventory hosts: the inventories compose (-i dev -i staging -i production), each host keeps
its own variables, inventories/sandbox-envs holds three environments, and a play on several environments refuses
a secrets directory they share before any request. (tests/e2e/test_promotion.py runs site.yml on the three
sandbox environments at once.)

With a fresh emulator of its own (the provisioning scenario of test_provision.py keeps its emulator)."""

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
ENVS = ["dev", "staging", "production"]
SANDBOX_ENVS = REPO / "inventories" / "sandbox-envs"
# The composed runs of the real inventories talk to the emulator (never to OVH), without their client-side rate limit.
TO_EMULATOR = ("-e", "keiko_ovh_rate_limit=0", "-e", "keiko_wait_timeout=60", "-e", "keiko_wait_sleep=0.5")


def inventories(*names):
    return [a for name in names for a in ("-i", str(REPO / "inventories" / name))]


def listing(sandbox, *names, env=None):
    run = sandbox._run([str(BIN / "ansible-inventory"), *inventories(*names), "--list"],
                       env=dict({"ANSIBLE_STDOUT_CALLBACK": "default"}, **(env or {})))
    assert run.rc == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(run.stdout)


def hostvars(inventory):
    return inventory["_meta"]["hostvars"]


def resolved(sandbox, names, hosts, expr, env=None):
    """``expr`` templated for each of ``hosts`` (``ansible -m debug``) of the inventories ``names``: {host: value}."""
    run = sandbox._run([str(BIN / "ansible"), *inventories(*names), ",".join(hosts),
                        "-m", "ansible.builtin.debug", "-a", "msg={{ %s | to_json }}" % expr],
                       env=dict({"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"},
                                **(env or {})))
    assert run.rc == 0, run.summary()
    return {h: json.loads(r["msg"]) if isinstance(r["msg"], str) else r["msg"]
            for h, r in run.data["plays"][0]["tasks"][0]["hosts"].items()}


def test_composed_inventories_give_each_environment_its_own_variables(sandbox):
    inv = listing(sandbox, *ENVS)
    assert sorted(inv["ungrouped"]["hosts"]) == sorted(ENVS), inv
    hv = hostvars(inv)
    assert sorted(hv) == sorted(ENVS)
    for env in ENVS:
        assert hv[env]["keiko_environment"] == env
        assert hv[env]["keiko_cluster"]["name"] == "keikolatam-" + env
        assert hv[env]["keiko_network"]["name"] == "keikolatam-" + env
        assert hv[env]["ansible_connection"] == "local"
    assert len({hv[e]["keiko_network"]["vlan_id"] for e in ENVS}) == 3
    assert "from" not in hv["dev"]["keiko_promotion"]
    assert hv["staging"]["keiko_promotion"]["from"] == "dev"
    assert hv["production"]["keiko_promotion"]["from"] == "staging"
    assert [hv[e]["keiko_promotion"]["require_approval"] for e in ENVS] == [False, False, True]
    assert hv["production"]["keiko_database_deletion_protection"] is True
    # Nothing of an environment reaches the others through group "all".
    assert not inv["all"].get("vars"), inv["all"]


def test_composed_environments_have_their_own_secrets_directories(sandbox, tmp_path):
    home = {"HOME": str(tmp_path), "KEIKO_SECRETS_DIR": ""}  # the fixture sets one
    dirs = resolved(sandbox, ENVS, ENVS, "keiko_secrets_dir | expanduser", env=home)
    assert dirs == {e: str(tmp_path / ".config" / "keikolatam-gitops" / e) for e in ENVS}, dirs
    # KEIKO_SECRETS_DIR_<ENV> sets one environment's; KEIKO_SECRETS_DIR the others' (for a run of one alone).
    dirs = resolved(sandbox, ENVS, ENVS, "keiko_secrets_dir | expanduser",
                    env=dict(home, KEIKO_SECRETS_DIR_STAGING=str(tmp_path / "s"), KEIKO_SECRETS_DIR=str(tmp_path / "x")))
    assert dirs == {"dev": str(tmp_path / "x"), "staging": str(tmp_path / "s"), "production": str(tmp_path / "x")}


def test_sandbox_envs_holds_three_small_environments(sandbox, tmp_path):
    clusters = tmp_path / "clusters"
    (clusters / "keikolatam-staging" / "argocd").mkdir(parents=True)
    (clusters / "keikolatam-staging" / "argocd" / "url").write_text("http://127.0.0.1:18080\n")
    (clusters / "keikolatam-staging" / "argocd" / "admin-password").write_text("not-a-real-one\n")
    env = {"KEIKO_SECRETS_DIR": str(tmp_path / "secrets"), "KEIKO_SANDBOX_CLUSTERS_DIR": str(clusters),
           "KEIKO_SMOKE_URL_STAGING": "http://127.0.0.1:18081/"}
    hv = hostvars(listing(sandbox, "sandbox-envs", env=env))
    assert sorted(hv) == sorted(ENVS)
    names = {e: hv[e]["keiko_cluster"]["name"] for e in ENVS}
    assert names == {e: "keikolatam-" + e for e in ENVS}
    for env_name in ENVS:
        v = hv[env_name]
        assert v["keiko_environment"] == env_name
        assert {p["name"]: p["desired_nodes"] for p in v["keiko_node_pools"]} == {"system": 1, "applications": 1}
        assert v["keiko_database"]["description"] == v["keiko_registry"]["name"] == "keikolatam-" + env_name
        assert v["keiko_backup"]["bucket"] == "keikolatam-%s-backups" % env_name
    vlans = sorted((hv[e]["keiko_network"]["vlan_id"], hv[e]["keiko_network"]["subnet_cidr"]) for e in ENVS)
    assert vlans == [(110, "10.110.0.0/16"), (120, "10.120.0.0/16"), (130, "10.130.0.0/16")]

    facts = resolved(sandbox, ["sandbox-envs"], ENVS, "{'secrets': keiko_secrets_dir, 'url': keiko_argocd.api_url, "
                     "'promotion': keiko_promotion}", env=env)
    for env_name in ENVS:
        assert facts[env_name]["secrets"] == str(tmp_path / "secrets" / env_name)
    assert facts["staging"]["url"] == "http://127.0.0.1:18080"
    # Absent files: the URL says which file and why, instead of pointing anywhere.
    absent = str(clusters / "keikolatam-dev" / "argocd" / "url")
    assert facts["dev"]["url"].startswith("(not running: " + absent + " is absent"), facts["dev"]["url"]
    assert facts["dev"]["promotion"] == {"require_approval": False, "smoke_checks": []}
    assert facts["staging"]["promotion"]["from"] == "dev" and facts["staging"]["promotion"]["require_approval"] is False
    assert facts["production"]["promotion"]["from"] == "staging"
    assert facts["production"]["promotion"]["require_approval"] is True
    checks = facts["staging"]["promotion"]["smoke_checks"]
    assert {c["name"] for c in checks} == {"identity", "learning", "reputation", "passport", "governance",
                                           "marketplace", "gateway"}
    assert {c["url"] for c in checks if c["name"] == "identity"} == {"http://127.0.0.1:18081/identity/healthz"}
    assert facts["production"]["promotion"]["smoke_checks"] == []

    passwords = resolved(sandbox, ["sandbox-envs"], ["staging"], "keiko_argocd.password", env=env)
    assert passwords == {"staging": "not-a-real-one"}


def test_sandbox_envs_password_is_refused_clearly_while_absent(sandbox, tmp_path):
    run = sandbox._run([str(BIN / "ansible"), "-i", str(SANDBOX_ENVS), "dev",
                        "-m", "ansible.builtin.debug", "-a", "msg={{ keiko_argocd.password | length }}"],
                       env={"KEIKO_SANDBOX_CLUSTERS_DIR": str(tmp_path), "ANSIBLE_STDOUT_CALLBACK": "default"})
    assert run.rc != 0
    out = " ".join((run.stdout + run.stderr).split())
    assert str(tmp_path / "keikolatam-dev" / "argocd" / "admin-password") + " is absent" in out, out
    assert "Argo CD of keikolatam-dev (dev) is not running yet" in out, out


def test_a_secrets_directory_shared_by_two_environments_is_refused_before_any_request(sandbox, tmp_path):
    # One KEIKO_SECRETS_DIR for the composed dev and staging: their kubeconfigs would overwrite each other.
    # Their OVH endpoint is the emulator's (-e): nothing may reach it before the refusal.
    env = {"KEIKO_SECRETS_DIR": str(tmp_path / "one")}
    for playbook in ("playbooks/provision.yml", "playbooks/destroy.yml"):
        run = sandbox.playbook(playbook, "inventories/dev", "-i", "inventories/staging",
                               "-e", "keiko_ovh_endpoint=" + sandbox.emu.endpoint, *TO_EMULATOR, "--check", env=env)
        assert run.rc != 0, run.summary()
        assert run.requests == [], run.requests
        for env_name in ("dev", "staging"):
            failed = [r for dummy, r in run.tasks(env_name) if r.get("failed")]
            assert len(failed) == 1, run.summary()
            assert "shares its secrets directory %s" % (tmp_path / "one") in failed[0]["msg"], failed[0]["msg"]
            assert "KEIKO_SECRETS_DIR_%s" % env_name.upper() in failed[0]["msg"]
