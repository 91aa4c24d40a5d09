"""Bad input, as a new user types it, is refused before any write: in check mode and in a real run, with the same
message, and without a write request in the emulator's log.

The table ``CASES`` holds one row per mistake: the module, its arguments, and a part of the message it must fail
with. Each row runs twice against one emulator that holds a READY object of every kind (``WORLD``): once in
check mode, once for real. The rows of one module run as one playbook (ansible-playbook starts once per module
and worker); a marker request before each run splits the request log. The module-level cache keeps the
playbook's results for the other rows of the module.

The message may differ only by the OVH query id of an API answer (each request has its own).
"""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

import ovh_scenario
from ovh_emulator.testing import EmulatorProcess

UUID = "0c1f8e34-51a2-4d6b-8a3e-7f9b0c2d1e4a"
UUID2 = "0c1f8e34-51a2-4d6b-8a3e-7f9b0c2d1e4b"
PG_CREATE = {"description": "bi-pg2", "plan": "business", "flavor": "db1-7", "version": "16", "nodes": 2,
             "region": "GRA"}
OIDC = {"cluster": "bi-kube", "oidc_client_id": "keiko", "issuer_url": "https://id.keiko.example"}
PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"


class Case(object):
    def __init__(self, label, module, args, message):
        self.label = label
        self.module = module
        self.args = args
        self.message = message


CASES = [
    # ovh_cloud_user
    Case("cu_empty_description", "ovh_cloud_user", {"description": "", "roles": ["objectstore_operator"]},
         "description must not be empty"),
    Case("cu_no_roles", "ovh_cloud_user", {"description": "bi-new", "roles": []}, "set roles"),
    Case("cu_unknown_id", "ovh_cloud_user", {"id": 4242, "roles": ["objectstore_operator"]},
         "No Public Cloud user with the ID 4242"),
    Case("cu_description_change", "ovh_cloud_user", {"id": "{{ world.user_id }}", "description": "bi-other"},
         "The description of Public Cloud user bi-user cannot be updated"),
    # ovh_container_registry
    Case("reg_unknown_region", "ovh_container_registry", {"name": "bi-reg2", "region": "XX"},
         "Region XX does not offer managed registries (regions: BHS, DE, GRA"),
    Case("reg_unknown_plan", "ovh_container_registry", {"name": "bi-reg2", "region": "GRA", "plan": "HUGE"},
         "Unknown registry plan HUGE in GRA"),
    Case("reg_id_shape", "ovh_container_registry", {"id": "bi-reg"}, "id must be a UUID"),
    Case("reg_region_change", "ovh_container_registry", {"name": "bi-reg", "region": "DE"},
         "The region of registry bi-reg cannot be updated"),
    # ovh_container_registry_user
    Case("ru_empty_login", "ovh_container_registry_user", {"registry": "bi-reg", "login": "", "email": "ci@k.example"},
         "login must not be empty"),
    Case("ru_login_charset", "ovh_container_registry_user",
         {"registry": "bi-reg", "login": "ci pusher!", "email": "ci@k.example"}, "login must be 2 to 255"),
    Case("ru_email", "ovh_container_registry_user", {"registry": "bi-reg", "login": "ci", "email": "ci-at-keiko"},
         "email must be an email address"),
    Case("ru_unknown_registry", "ovh_container_registry_user",
         {"registry": "nope", "login": "ci", "email": "ci@k.example"}, "No registry with the ID or name nope"),
    # ovh_database
    Case("db_empty_description", "ovh_database", dict(PG_CREATE, description=""), "description must not be empty"),
    Case("db_unknown_flavor", "ovh_database", dict(PG_CREATE, flavor="db9-99"), "Flavor db9-99 is not offered"),
    Case("db_unknown_plan", "ovh_database", dict(PG_CREATE, plan="gold"), "Plan gold is not offered"),
    Case("db_unknown_version", "ovh_database", dict(PG_CREATE, version="12"), "Version 12 of postgresql is not"),
    Case("db_unknown_region", "ovh_database", dict(PG_CREATE, region="XYZ"),
         "Region XYZ does not offer postgresql"),
    Case("db_flavor_not_in_plan", "ovh_database", dict(PG_CREATE, plan="essential", flavor="db1-30", nodes=1),
         "Flavor db1-30 is not offered with plan essential"),
    Case("db_nodes_for_plan", "ovh_database", {"description": "bi-pg", "nodes": 5},
         "Plan business takes 2 to 3 nodes, not 5"),
    Case("db_disk_for_flavor", "ovh_database", dict(PG_CREATE, disk_size=100),
         "disk_size 100 is not allowed for flavor db1-7 in GRA (160 to 480 GB, by 10 GB)"),
    Case("db_disk_shrink", "ovh_database", {"description": "bi-pg", "disk_size": 200},
         "disk_size 200 is smaller than the disk of database service bi-pg (320 GB)"),
    Case("db_downgrade", "ovh_database", {"description": "bi-pg", "version": "15"},
         "version 15 is older than the version of database service bi-pg (16)"),
    Case("db_network_alone", "ovh_database", dict(PG_CREATE, network_id=UUID),
         "parameters are required together: network_id, subnet_id"),
    Case("db_node_regions", "ovh_database", dict(PG_CREATE, nodes=[{"region": "GRA"}, {"region": "SBG"}]),
         "All nodes of a service are in one region"),
    Case("db_backup_region", "ovh_database", {"description": "bi-pg", "backup_regions": ["MARS"]},
         "backup_regions: MARS does not offer postgresql"),
    Case("db_advanced_unknown", "ovh_database", {"description": "bi-pg", "advanced_configuration": {"no_such": 1}},
         "advanced_configuration: no_such is not a setting of database service bi-pg"),
    Case("db_advanced_range", "ovh_database", {"description": "bi-pg", "advanced_configuration": {"work_mem": 99999}},
         "advanced_configuration: work_mem must be between 1 and 1024"),
    Case("db_region_change", "ovh_database", {"description": "bi-pg", "region": "SBG"},
         "The region of database service bi-pg cannot be updated"),
    # ovh_database_user
    Case("dbu_empty_name", "ovh_database_user", {"service": "bi-pg", "name": ""}, "name must not be empty"),
    Case("dbu_long_name", "ovh_database_user", {"service": "bi-pg", "name": "u" * 64},
         "name must be at most 63 characters"),
    Case("dbu_unknown_role", "ovh_database_user", {"service": "bi-pg", "name": "app", "roles": ["superuser"]},
         "superuser is not a role of database service bi-pg (roles: replication)"),
    Case("dbu_unknown_service", "ovh_database_user", {"service": "nope", "name": "app"},
         "No database service with the ID or description nope"),
    # ovh_database_database
    Case("dbd_empty_name", "ovh_database_database", {"service": "bi-pg", "name": " "}, "name must not be empty"),
    Case("dbd_long_name", "ovh_database_database", {"service": "bi-pg", "name": "d" * 64},
         "name must be at most 63 characters"),
    Case("dbd_default", "ovh_database_database", {"service": "bi-pg", "name": "defaultdb", "state": "absent"},
         "default database"),
    # ovh_database_connection_pool
    Case("pool_empty_name", "ovh_database_connection_pool",
         {"service": "bi-pg", "name": "", "database": "defaultdb", "mode": "session", "size": 5},
         "name must not be empty"),
    Case("pool_size", "ovh_database_connection_pool",
         {"service": "bi-pg", "name": "p", "database": "defaultdb", "mode": "session", "size": 20000},
         "size must be at least 1 and at most 10000"),
    Case("pool_unknown_database", "ovh_database_connection_pool",
         {"service": "bi-pg", "name": "p", "database": "nope", "mode": "session", "size": 5},
         "No database nope in database service bi-pg"),
    # ovh_kube_cluster
    Case("kc_location", "ovh_kube_cluster", {"name": "bi-new", "region": "GRA"},
         "GRA is not a Managed Kubernetes region of project"),
    Case("kc_unknown_version", "ovh_kube_cluster", {"name": "bi-new", "region": "GRA11", "version": "1.25"},
         "Kubernetes 1.25 is not offered (versions: 1.30, 1.31, 1.32, 1.33)"),
    Case("kc_network_shape", "ovh_kube_cluster", {"name": "bi-new", "region": "GRA11", "private_network_id": "pn-1_4"},
         "private_network_id must be a UUID (the OpenStack ID of the private network in the region"),
    Case("kc_subnet_alone", "ovh_kube_cluster", {"name": "bi-new", "region": "GRA11", "nodes_subnet_id": UUID},
         "nodes_subnet_id needs private_network_id"),
    Case("kc_plugin_twice", "ovh_kube_cluster",
         {"name": "bi-new", "region": "GRA11", "customization": {"api_server": {"admission_plugins": {
             "enabled": ["NodeRestriction"], "disabled": ["NodeRestriction"]}}}},
         "both enabled and disabled: NodeRestriction"),
    Case("kc_unknown_plugin", "ovh_kube_cluster",
         {"name": "bi-kube", "customization": {"api_server": {"admission_plugins": {"enabled": ["Foo"]}}}},
         "Foo is not an admission plugin of Managed Kubernetes (plugins: AlwaysPullImages, NodeRestriction)"),
    Case("kc_never_update", "ovh_kube_cluster", {"name": "bi-kube", "version": "1.32", "update_policy": "NEVER_UPDATE"},
         "update policy NEVER_UPDATE"),
    Case("kc_no_private_network", "ovh_kube_cluster",
         {"name": "bi-kube", "private_network_configuration": {"private_network_routing_as_default": True}},
         "Kubernetes cluster bi-kube has no private network"),
    Case("kc_id_shape", "ovh_kube_cluster", {"name": "bi-kube", "id": "bi-kube"}, "id must be a UUID"),
    Case("kc_region_change", "ovh_kube_cluster", {"name": "bi-kube", "region": "GRA9"},
         "The region of Kubernetes cluster bi-kube cannot be updated"),
    # ovh_kube_nodepool
    Case("np_long_name", "ovh_kube_nodepool", {"cluster": "bi-kube", "name": "n" * 41, "flavor": "b2-7"},
         "name must be at most 40 characters"),
    Case("np_max_nodes", "ovh_kube_nodepool", {"cluster": "bi-kube", "name": "big", "flavor": "b2-7", "max_nodes": 101},
         "max_nodes must be at most 100"),
    Case("np_anti_affinity", "ovh_kube_nodepool",
         {"cluster": "bi-kube", "name": "spread", "flavor": "b2-7", "anti_affinity": True, "desired_nodes": 6},
         "at most 5 nodes with anti_affinity"),
    Case("np_desired_over_max", "ovh_kube_nodepool", {"cluster": "bi-kube", "name": "bi-pool", "desired_nodes": 8},
         "desired_nodes (8) is outside min_nodes..max_nodes (1..3)"),
    Case("np_unknown_flavor", "ovh_kube_nodepool", {"cluster": "bi-kube", "name": "new", "flavor": "zz9-99"},
         "Flavor zz9-99 is not available for Kubernetes cluster bi-kube"),
    Case("np_flavor_change", "ovh_kube_nodepool", {"cluster": "bi-kube", "name": "bi-pool", "flavor": "b3-8"},
         "The flavor of node pool bi-pool cannot be updated"),
    # ovh_kube_oidc
    Case("oidc_ca_encoding", "ovh_kube_oidc", dict(OIDC, ca_content=PEM),
         "ca_content must be the base64 encoding of a PEM certificate"),
    Case("oidc_empty_client", "ovh_kube_oidc", dict(OIDC, oidc_client_id=""), "oidc_client_id must not be empty"),
    Case("oidc_http", "ovh_kube_oidc", dict(OIDC, issuer_url="http://id.keiko.example"), "https://"),
    # ovh_kube_iprestrictions
    Case("ipr_host_bits", "ovh_kube_iprestrictions", {"cluster": "bi-kube", "ips": ["10.0.0.1/8"]}, "10.0.0.1/8"),
    Case("ipr_unknown_cluster", "ovh_kube_iprestrictions", {"cluster": "nope", "ips": ["10.0.0.0/8"]},
         "No Kubernetes cluster with the ID or name nope"),
    # ovh_kube_kubeconfig: the local side is checked before the reset revokes the old kubeconfig
    Case("kcfg_dest_unwritable", "ovh_kube_kubeconfig",
         {"cluster": "bi-kube", "reset": True, "dest": "{{ world.tmp }}/a-file/kubeconfig"},
         "cannot be written: {{ world.tmp }}/a-file is not a directory"),
    Case("kcfg_dest_directory", "ovh_kube_kubeconfig", {"cluster": "bi-kube", "reset": True, "dest": "{{ world.tmp }}"},
         "is a directory"),
    # ovh_private_network
    Case("pn_empty_name", "ovh_private_network", {"name": ""}, "name must not be empty"),
    Case("pn_unknown_region", "ovh_private_network", {"name": "bi-net2", "regions": ["XX9"]},
         "XX9 is not a region of project"),
    Case("pn_id_shape", "ovh_private_network", {"id": "net-1"}, "id must be a private network ID (pn-"),
    Case("pn_vlan_used", "ovh_private_network", {"name": "bi-net2", "vlan_id": 42},
         "vlan_id 42 is used by private network bi-net"),
    Case("pn_vlan_change", "ovh_private_network", {"name": "bi-net", "vlan_id": 43},
         "The vlan_id of private network bi-net cannot be updated"),
    # ovh_private_network_subnet
    Case("sn_overlap", "ovh_private_network_subnet", {"network": "bi-net", "region": "GRA7", "cidr": "10.42.128.0/17"},
         "10.42.128.0/17 overlaps subnet 10.42.0.0/16 of private network bi-net in GRA7"),
    Case("sn_region", "ovh_private_network_subnet", {"network": "bi-net", "region": "GRA9", "cidr": "10.9.0.0/16"},
         "does not exist in region GRA9"),
    Case("sn_dhcp_change", "ovh_private_network_subnet",
         {"network": "bi-net", "region": "GRA7", "cidr": "10.42.0.0/16", "dhcp": False},
         "The dhcp of subnet 10.42.0.0/16 cannot be updated"),
    # ovh_s3_bucket
    Case("s3_unknown_region", "ovh_s3_bucket", {"name": "bi-bucket", "region": "MARS", "owner": "bi-user"},
         "Region MARS does not offer S3 object storage"),
    Case("s3_unknown_owner", "ovh_s3_bucket", {"name": "bi-bucket", "region": "GRA", "owner": "nobody"},
         "No Public Cloud user with the ID or description nobody"),
    # ovh_s3_credentials
    Case("s3c_unknown_user", "ovh_s3_credentials", {"user": "nobody"},
         "No Public Cloud user with the ID or description nobody"),
    Case("s3c_unknown_access", "ovh_s3_credentials", {"user": "bi-user", "access": "nope"}, "has no S3 key pair nope"),
    # credentials: a refusal of the authentication layer says which credential, and is never retried
    Case("auth_application_secret", "ovh_private_network",
         {"name": "bi-net", "application_secret": "secret-of-another-application"},
         "the application secret is probably wrong"),
    Case("auth_client_secret", "ovh_private_network",
         {"name": "bi-net", "client_id": "{{ world.client_id }}", "client_secret": "secret-of-another-account"},
         "client_id or client_secret is wrong"),
]
RESOURCE_MODULES = sorted(name[:-3] for name in os.listdir(ovh_scenario.MODULES)
                          if name.startswith("ovh_") and not name.endswith("_info.py"))
QUERY_ID = re.compile(r" ?\[query id [^\]]*\]")


def test_the_table_covers_every_resource_module():
    assert len(CASES) >= 40 and len(set(c.label for c in CASES)) == len(CASES)
    assert sorted(set(c.module for c in CASES)) == RESOURCE_MODULES


def build_world(emu, tmp):
    """A READY object of every kind, created through the API (not through the modules under test)."""
    client = emu.ovh_client()
    project = "/cloud/project/%s" % emu.service_name
    kube = client.post(project + "/kube", region="GRA11", name="bi-kube", version="1.31")
    kube_path = "%s/kube/%s" % (project, kube["id"])
    ovh_scenario.wait_status(client, kube_path)
    pool = client.post(kube_path + "/nodepool", name="bi-pool", flavorName="b2-7", desiredNodes=1, minNodes=1,
                       maxNodes=3)
    pg = client.post(project + "/database/postgresql", description="bi-pg", plan="business", version="16",
                     disk={"size": 320}, nodesPattern={"flavor": "db1-7", "number": 2, "region": "GRA"})
    reg = client.post(project + "/containerRegistry", name="bi-reg", region="GRA")
    user = client.post(project + "/user", description="bi-user", roles=["objectstore_operator"])
    net = client.post(project + "/network/private", name="bi-net", vlanId=42, regions=["GRA7"])
    net_path = "%s/network/private/%s" % (project, net["id"])
    ovh_scenario.wait_status(client, net_path, wanted=("ACTIVE",))
    client.post(net_path + "/subnet", network="10.42.0.0/16", region="GRA7", start="10.42.0.2",
                end="10.42.255.254", dhcp=True, noGateway=False)
    ovh_scenario.wait_status(client, "%s/kube/%s/nodepool/%s" % (project, kube["id"], pool["id"]))
    ovh_scenario.wait_status(client, "%s/database/postgresql/%s" % (project, pg["id"]))
    ovh_scenario.wait_status(client, "%s/containerRegistry/%s" % (project, reg["id"]))
    ovh_scenario.wait_status(client, "%s/user/%s" % (project, user["id"]), wanted=("ok",))
    (tmp / "a-file").write_text("not a directory\n")
    return {"user_id": user["id"], "client_id": emu.info["client_id"], "tmp": str(tmp)}


class World(object):
    """One emulator with WORLD's objects for this worker; the playbook of each module runs once."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.emu = EmulatorProcess(state_dir=tmp / "emulator", transition_seconds=ovh_scenario.TRANSITION,
                                   check_requests=True).start()
        self.facts = build_world(self.emu, tmp)
        self.runs = {}

    def run(self, module):
        if module not in self.runs:
            self.runs[module] = run_module_cases(self, [c for c in CASES if c.module == module])
        return self.runs[module]

    def close(self):
        try:
            self.emu.assert_no_violations()
            self.emu.assert_requests_conform()
        finally:
            self.emu.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("bad-input"))
    yield w
    w.close()


def run_module_cases(world, cases):
    """One playbook: every case of a module in check mode, then for real, each after a marker request."""
    emu, tmp = world.emu, world.tmp
    out = tmp / ("%s-results.json" % cases[0].module)
    tasks = []
    labels = []
    for case in cases:
        for mode in ("check", "real"):
            label = "%s_%s" % (case.label, mode)
            labels.append(label)
            tasks.append(ovh_scenario._marker(emu, label))  # pylint: disable=protected-access
            tasks.append({"name": label, "keikolatam.gitops." + case.module: case.args, "register": "step_" + label,
                          "check_mode": mode == "check", "ignore_errors": True})
    tasks.append(ovh_scenario._marker(emu, "__end__"))  # pylint: disable=protected-access
    tasks.append({"name": "dump results", "no_log": True, "check_mode": False, "ansible.builtin.copy": {
        "content": "{{ {%s} | to_json }}" % ", ".join("%s: step_%s" % (json.dumps(x), x) for x in labels),
        "dest": str(out)}})
    play = [{"name": "bad input", "hosts": "localhost", "gather_facts": False, "connection": "local",
             "vars": {"world": world.facts},
             "module_defaults": {"group/keikolatam.gitops.ovh_wait": dict(ovh_scenario.FAST)}, "tasks": tasks}]
    book = tmp / ("%s.yml" % cases[0].module)
    book.write_text(yaml.safe_dump(play, sort_keys=False))
    proc = subprocess.run([str(ovh_scenario.BIN / "ansible-playbook"), "-i", "localhost,", "-e",
                           "ansible_python_interpreter=" + sys.executable, str(book)],
                          cwd=str(ovh_scenario.REPO), env=ovh_scenario.env_for(emu), capture_output=True, text=True,
                          timeout=900, check=False)
    if not out.exists():
        raise AssertionError("the playbook did not finish (rc %s):\n%s\n%s" % (
            proc.returncode, proc.stdout[-6000:], proc.stderr[-3000:]))
    results = json.loads(out.read_text())
    # The whole log (API requests and OAuth2 token requests), split at the markers.
    requests = {}
    current = None
    for entry in emu.requests():
        mark = entry.get("query", {}).get("mark") if entry.get("path", "").endswith("/auth/time") else None
        if mark:
            current = mark
            requests[current] = []
        elif current:
            requests[current].append(entry)
    run = ovh_scenario.Run(proc, results, [], [ovh_scenario.Step(x, cases[0].module, {}) for x in labels])
    ovh_scenario.check_returns(run)
    return results, requests


def _render(text, facts):
    for key, value in facts.items():
        text = text.replace("{{ world.%s }}" % key, str(value))
    return text


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_bad_input_is_refused_before_any_write(world, case):
    results, requests = world.run(case.module)
    check, real = results[case.label + "_check"], results[case.label + "_real"]
    expected = _render(case.message, world.facts)
    for mode, result in (("check mode", check), ("a real run", real)):
        assert result.get("failed"), "%s: %s was not refused:\n%s" % (case.label, mode, json.dumps(result)[:3000])
        assert expected in result["msg"], "%s: %s said %r" % (case.label, mode, result["msg"])
    assert QUERY_ID.sub("", check["msg"]) == QUERY_ID.sub("", real["msg"])
    for mode in ("check", "real"):
        writes = [(e["method"], e["path"]) for e in requests["%s_%s" % (case.label, mode)]
                  if e.get("kind") == "api" and e["method"] != "GET"]
        assert writes == [], "%s (%s) wrote: %s" % (case.label, mode, writes)
    if case.label == "auth_client_secret":
        # A refused client secret is not retried: one token request per run.
        for mode in ("check", "real"):
            tokens = [e for e in requests["%s_%s" % (case.label, mode)] if e.get("kind") == "token"]
            assert len(tokens) == 1, tokens
