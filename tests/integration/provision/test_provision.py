"""playbooks/provision.yml (site.yml without the bootstrap), playbooks/destroy.yml and the ovh_cloud inventory plugin on the sandbox inventory, end to end.

The tests run in this order and share one emulator: converge from nothing, converge again (no change, no
write), check mode on the converged sandbox, one changed value, the dynamic inventory, the destroy guard of
production, destroy as the "Keiko destroy" AWX job template runs it (its survey, its OVH credential), destroy again.
"""

import json
import stat
from pathlib import Path

import pytest
import yaml

import awx_job

REPO = Path(__file__).resolve().parents[3]


SERVICES = ["identity", "learning", "reputation", "passport", "governance", "marketplace"]
PROJECT = "/cloud/project/{serviceName}"
POOL = PROJECT + "/kube/{kubeId}/nodepool/{nodePoolId}"
CLUSTER_NAME = "keikolatam-sandbox"


def api(sandbox, path):
    return sandbox.emu.ovh_client().get(PROJECT.format(serviceName=sandbox.emu.service_name) + path)


def cluster_of(sandbox):
    for kube_id in api(sandbox, "/kube"):
        cluster = api(sandbox, "/kube/%s" % kube_id)
        if cluster["name"] == CLUSTER_NAME:
            return cluster
    return None


def postgres_of(sandbox):
    for service_id in api(sandbox, "/database/postgresql"):
        service = api(sandbox, "/database/postgresql/%s" % service_id)
        if service["description"] == CLUSTER_NAME:
            return service
    return None


def assert_no_change(run):
    assert run.rc == 0, run.summary()
    assert run.changed_tasks() == [], run.summary()
    assert run.data["stats"]["sandbox"]["changed"] == 0
    assert run.writes == [], run.writes


def test_a_location_instead_of_a_region_is_refused_before_any_write(sandbox):
    run = sandbox.playbook("playbooks/provision.yml", "inventories/sandbox", "-e", "keiko_region=GRA")
    assert run.rc != 0, run.summary()
    assert run.writes == []
    failed = [result for name, result in run.tasks() if result.get("failed")]
    assert len(failed) == 1 and "GRA11" in failed[0]["msg"] and "location" in failed[0]["msg"], run.summary()


def test_site_converges_from_nothing(sandbox):
    run = sandbox.playbook("playbooks/provision.yml")
    assert run.rc == 0, run.summary()
    print("provision.yml from nothing: %.0fs" % run.seconds)

    # The region and flavors were checked against the capabilities before the first write (the play's
    # preflight; each module reads them again before its own writes).
    first_write = min(e["seq"] for e in run.api_requests if e["method"] != "GET")
    for capability in ("/capabilities/kube/flavors", "/capabilities/kube/regions"):
        reads = [e["seq"] for e in run.api_requests if e["operation"].endswith(capability)]
        assert reads and min(reads) < first_write, capability

    cluster = cluster_of(sandbox)
    assert cluster["status"] == "READY" and cluster["region"] == "GRA11"
    pools = dict((p["name"], p) for p in api(sandbox, "/kube/%s/nodepool" % cluster["id"]))
    assert sorted(pools) == ["applications", "system"]
    assert (pools["system"]["flavor"], pools["system"]["minNodes"], pools["system"]["maxNodes"]) == ("b2-7", 1, 2)
    assert pools["applications"]["desiredNodes"] == 2 and pools["applications"]["autoscale"] is True
    networks = api(sandbox, "/network/private")
    assert [n["name"] for n in networks] == [CLUSTER_NAME]
    assert cluster["privateNetworkId"] == networks[0]["regions"][0]["openstackId"]

    pg = postgres_of(sandbox)
    assert pg["status"] == "READY" and pg["plan"] == "essential"
    pg_path = "/database/postgresql/%s" % pg["id"]
    names = sorted(api(sandbox, "%s/database/%s" % (pg_path, d))["name"] for d in api(sandbox, pg_path + "/database"))
    assert sorted(set(names) - {"defaultdb"}) == sorted(SERVICES)
    users = sorted(api(sandbox, "%s/user/%s" % (pg_path, u))["username"] for u in api(sandbox, pg_path + "/user"))
    assert set(SERVICES) <= set(users)
    # The IP restrictions admit the cluster's nodes (their subnet) and nothing else.
    assert [r["ip"] for r in pg["ipRestrictions"]] == ["10.100.0.0/16"]

    registries = [api(sandbox, "/containerRegistry/%s" % r["id"]) if isinstance(r, dict) else
                  api(sandbox, "/containerRegistry/%s" % r) for r in api(sandbox, "/containerRegistry")]
    assert [r["name"] for r in registries] == [CLUSTER_NAME]
    assert [b["name"] for b in api(sandbox, "/region/GRA/storage")] == ["keikolatam-sandbox-backups"]

    # The generated secrets are kept, private, outside git; none of them reached the output.
    secrets = sandbox.secrets_dir
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    for name in ("kubeconfig", "database-users.yml", "registry-users.yml", "backup-s3.yml"):
        assert stat.S_IMODE((secrets / name).stat().st_mode) == 0o600, name
    passwords = yaml.safe_load((secrets / "database-users.yml").read_text())["passwords"]
    assert sorted(passwords) == sorted(SERVICES) and all(len(p) >= 12 for p in passwords.values())
    s3 = yaml.safe_load((secrets / "backup-s3.yml").read_text())
    assert s3["s3"]["access"] and s3["s3"]["secret"] and s3["bucket"] == "keikolatam-sandbox-backups"
    registry = yaml.safe_load((secrets / "registry-users.yml").read_text())
    assert list(registry["passwords"]) == ["ci-pusher"]
    output = run.stdout + run.stderr
    for secret in list(passwords.values()) + [s3["s3"]["secret"], registry["passwords"]["ci-pusher"]]:
        assert secret not in output
    assert "client-key-data" in (secrets / "kubeconfig").read_text()


def test_second_run_changes_nothing_and_sends_no_write(sandbox):
    run = sandbox.playbook("playbooks/provision.yml")
    assert_no_change(run)
    # The cluster and the service are looked up by name once each (their own tasks); the node-pool and the
    # database tasks name them by the ID those tasks returned, which lists nothing (issue 11).
    lists = [e["operation"] for e in run.api_requests if e["method"] == "GET"]
    assert lists.count(PROJECT + "/kube") == 1, lists
    assert lists.count(PROJECT + "/database/service") == 1, lists
    print("provision.yml on a converged sandbox: %.0fs" % run.seconds)


def test_check_diff_on_converged_sandbox_reports_no_change(sandbox):
    run = sandbox.playbook("playbooks/provision.yml", "inventories/sandbox", "--check", "--diff")
    assert_no_change(run)


def test_one_changed_value_is_one_update_with_its_diff(sandbox, tmp_path):
    inventory = tmp_path / "sandbox"
    (inventory / "host_vars" / "sandbox").mkdir(parents=True)
    (inventory / "hosts.yml").write_text((REPO / "inventories" / "sandbox" / "hosts.yml").read_text())
    for name in ("ovh.yml", "platform.yml"):
        src = (REPO / "inventories" / "sandbox" / "host_vars" / "sandbox" / name).read_text()
        (inventory / "host_vars" / "sandbox" / name).write_text(src)
    platform = inventory / "host_vars" / "sandbox" / "platform.yml"
    data = yaml.safe_load(platform.read_text())
    pool = [p for p in data["keiko_node_pools"] if p["name"] == "applications"][0]
    assert pool["max_nodes"] == 3
    pool["max_nodes"] = 4
    platform.write_text(yaml.safe_dump(data, sort_keys=False))

    run = sandbox.playbook("playbooks/provision.yml", inventory, "--diff")
    assert run.rc == 0, run.summary()
    assert run.writes == [("PUT", POOL)], run.writes
    put = [e for e in run.api_requests if e["method"] == "PUT"][0]
    assert put["body"]["maxNodes"] == 4
    assert run.changed_tasks() == ["keikolatam.gitops.kube_cluster : Node pools | " + CLUSTER_NAME], run.summary()
    items = run.result("Node pools | ").get("results")
    changed = [i for i in items if i.get("changed")]
    assert [i["item"]["name"] for i in changed] == ["applications"]
    diff = changed[0]["diff"]
    assert diff["before"]["maxNodes"] == 3 and diff["after"]["maxNodes"] == 4


def test_inventory_plugin_lists_the_sandbox(sandbox, tmp_path):
    config = tmp_path / "sandbox.ovh_cloud.yml"
    config.write_text((REPO / "inventories" / "sandbox.ovh_cloud.yml").read_text())
    run = sandbox.inventory(config, "--list")
    assert run.rc == 0, run.stderr
    assert run.writes == []
    inv = json.loads(run.stdout)

    def hosts(group):
        return sorted(inv.get(group, {}).get("hosts", []))

    pools = ["%s/applications" % CLUSTER_NAME, "%s/system" % CLUSTER_NAME]
    assert hosts("ovh_clusters") == [CLUSTER_NAME]
    assert hosts("ovh_nodepools") == pools
    nodes = hosts("ovh_nodes")
    assert len([n for n in nodes if n.startswith(CLUSTER_NAME + "/system/")]) == 1
    assert len([n for n in nodes if n.startswith(CLUSTER_NAME + "/applications/")]) == 2
    assert hosts("ovh_databases") == ["postgresql/" + CLUSTER_NAME]
    assert hosts("postgresql_services") == ["postgresql/" + CLUSTER_NAME]
    everything = sorted([CLUSTER_NAME] + pools + nodes + ["postgresql/" + CLUSTER_NAME])
    assert hosts("env_sandbox") == everything
    assert hosts("status_ready") == everything
    assert hosts("region_gra11") == sorted([CLUSTER_NAME] + pools + nodes)
    assert hosts("region_gra") == ["postgresql/" + CLUSTER_NAME]
    assert hosts("cluster_keikolatam_sandbox") == sorted([CLUSTER_NAME] + pools + nodes)
    # ansible-inventory --list marks the values that came from an inventory source as unsafe.
    hostvars = json.loads(json.dumps(inv["_meta"]["hostvars"]),
                          object_hook=lambda d: d["__ansible_unsafe"] if set(d) == {"__ansible_unsafe"} else d)
    assert hostvars[CLUSTER_NAME]["ovh_kind"] == "cluster" and hostvars[CLUSTER_NAME]["ansible_connection"] == "local"
    assert hostvars[pools[0]]["ovh_flavor"] == "b2-7" and hostvars[pools[0]]["ovh_cluster_name"] == CLUSTER_NAME
    assert hostvars[nodes[0]]["ovh_kind"] == "node" and hostvars[nodes[0]]["ovh_environment"] == "sandbox"
    assert hostvars["postgresql/" + CLUSTER_NAME]["ovh_engine"] == "postgresql"


def test_inventory_plugin_constructs_groups_and_caches(sandbox, tmp_path):
    config = tmp_path / "cached.ovh_cloud.yml"
    config.write_text(yaml.safe_dump({
        "plugin": "keikolatam.gitops.ovh_cloud",
        "include": ["clusters", "databases"],
        "keyed_groups": [{"key": "ovh_kind", "prefix": "kind"}],
        "groups": {"pg": "ovh_engine | default('') == 'postgresql'"},
        "compose": {"api_url": "'https://' ~ ovh_resource.url if ovh_kind == 'cluster' else 'none'"},
        "cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(tmp_path / "cache"),
        "cache_timeout": 600}))
    first = sandbox.inventory(config, "--list")
    assert first.rc == 0, first.stderr
    assert first.api_requests, "the first run did not read the API"
    second = sandbox.inventory(config, "--list")
    assert second.rc == 0, second.stderr
    assert second.api_requests == [], "the cached run read the API again"
    inv = json.loads(second.stdout)
    assert inv["kind_cluster"]["hosts"] == [CLUSTER_NAME]
    assert inv["kind_database"]["hosts"] == inv["pg"]["hosts"] == ["postgresql/" + CLUSTER_NAME]
    assert "ovh_nodepools" not in inv and "ovh_nodes" not in inv
    url = inv["_meta"]["hostvars"][CLUSTER_NAME]["api_url"]
    assert (url.get("__ansible_unsafe") if isinstance(url, dict) else url).startswith("https://")
    flushed = sandbox.inventory(config, "--list", "--flush-cache")
    assert flushed.rc == 0 and flushed.api_requests


def test_destroy_production_needs_the_confirmation_before_any_request(sandbox):
    for extra in ([], ["-e", "confirm_destroy=staging"]):
        run = sandbox.playbook("playbooks/destroy.yml", "inventories/production", *extra)
        assert run.rc != 0, run.summary()
        assert run.requests == [], run.requests
        ran = run.tasks()
        assert len(ran) == 1 and ran[0][1].get("failed"), run.summary()
        assert "confirm_destroy=production" in ran[0][1]["msg"]


def destroy_job(sandbox, tmp_path, answers):
    """The job template "Keiko destroy" launched on inventories/sandbox, run as AWX runs it (tests/e2e/awx_job.py):
    its survey checks the answers, the "OVHcloud API" credential's injector gives the only OVH variables, no terminal.
    Returns the job and the emulator's API requests it sent."""
    template = awx_job.template("Keiko destroy")
    credentials = awx_job.ovh_credentials(sandbox.emu.env_signature)
    extra_vars = awx_job.survey_answers(template["survey"], answers)
    since = sandbox.last_seq()
    job = awx_job.run(tmp_path / "awx", template["playbook"], "inventories/sandbox", extra_vars, credentials,
                      {"KEIKO_SECRETS_DIR": str(sandbox.secrets_dir)}, timeout=600)
    return job, [e for e in sandbox.emu.requests(since=since) if e.get("kind") == "api"]


def test_destroy_as_an_awx_job_refuses_a_confirmation_that_is_not_the_environment_before_any_request(sandbox, tmp_path):
    with pytest.raises(awx_job.SurveyRefused, match="is required"):
        destroy_job(sandbox, tmp_path, {"confirm_destroy": ""})
    job, requests = destroy_job(sandbox, tmp_path, {"confirm_destroy": "production"})
    text = " ".join(job.stdout.split())
    assert job.rc != 0 and job.stats["failures"] == {"sandbox": 1}, text[-3000:]
    assert "Refusing to destroy sandbox" in text and "(confirm_destroy names production)" in text, text[-3000:]
    assert requests == [], requests
    assert cluster_of(sandbox) is not None


def test_destroy_removes_everything_but_the_protected_database(sandbox, tmp_path):
    pg = postgres_of(sandbox)
    # As the "Keiko destroy" job template runs it: the survey's confirmation names the environment.
    job, requests = destroy_job(sandbox, tmp_path, {"confirm_destroy": "sandbox"})
    assert job.rc == 0 and job.status == "successful", job.stdout[-4000:]
    assert job.stats["changed"]["sandbox"] > 0 and job.stats["failures"] == {}, job.stats
    deleted = sorted(e["operation"] for e in requests if e["method"] == "DELETE")
    assert deleted, requests
    assert not [op for op in deleted if "/database/" in op], deleted
    assert cluster_of(sandbox) is None
    assert api(sandbox, "/containerRegistry") == []
    assert api(sandbox, "/region/GRA/storage") == []
    assert [u for u in api(sandbox, "/user") if u.get("status") != "deleted"] == []
    # The protected service stays, with the private network it is attached to.
    assert postgres_of(sandbox)["id"] == pg["id"]
    assert [n["name"] for n in api(sandbox, "/network/private")] == [CLUSTER_NAME]
    assert not (sandbox.secrets_dir / "kubeconfig").exists()
    assert (sandbox.secrets_dir / "database-users.yml").exists()

    again = sandbox.playbook("playbooks/destroy.yml", "inventories/sandbox", "-e", "confirm_destroy=sandbox")
    assert_no_change(again)


def test_destroy_without_protection_removes_the_database_and_the_network(sandbox):
    run = sandbox.playbook("playbooks/destroy.yml", "inventories/sandbox", "-e", "keiko_database_deletion_protection=false")
    assert run.rc == 0, run.summary()
    assert postgres_of(sandbox) is None
    assert api(sandbox, "/network/private") == []
    assert not (sandbox.secrets_dir / "database-users.yml").exists()
