"""ovh_kube_iprestrictions, ovh_kube_oidc and the info modules against the emulator."""

from conftest import TRANSITION, Step, run_steps

from ovh_emulator.testing import EmulatorProcess

IPS = "/cloud/project/{serviceName}/kube/{kubeId}/ipRestrictions"
OIDC = "/cloud/project/{serviceName}/kube/{kubeId}/openIdConnect"


def test_iprestrictions_and_oidc_in_the_fixed_order(play, cluster):
    m = "ovh_kube_iprestrictions"
    c = {"cluster": "keiko-test"}
    o = "ovh_kube_oidc"
    oidc = dict(c, oidc_client_id="kubernetes", issuer_url="https://sso.example.com/realms/keiko",
                groups_claim=["groups"], username_claim="email")
    run = play([
        Step("ip_invalid", m, dict(c, ips=["10.0.0.1/8"]), fails=True),
        Step("ip_check", m, dict(c, ips=["203.0.113.0/24", "198.51.100.7"]), check=True, diff=True),
        Step("ip_create", m, dict(c, ips=["203.0.113.0/24", "198.51.100.7"])),
        Step("ip_create_again", m, dict(c, ips=["198.51.100.7/32", "203.0.113.0/24"])),
        Step("ip_add", m, dict(c, ips=["192.0.2.10"], purge=False)),
        Step("ip_add_again", m, dict(c, ips=["192.0.2.10"], purge=False)),
        Step("ip_purge", m, dict(c, ips=["192.0.2.10/32"])),
        Step("ip_delete", m, dict(c, state="absent")),
        Step("ip_delete_again", m, dict(c, state="absent")),
        Step("oidc_invalid", o, dict(oidc, issuer_url="http://sso.example.com"), fails=True),
        Step("oidc_check", o, oidc, check=True, diff=True),
        Step("oidc_create", o, oidc),
        Step("oidc_create_again", o, oidc),
        Step("oidc_update", o, dict(c, oidc_client_id="kubernetes", issuer_url=oidc["issuer_url"], groups_prefix="oidc:")),
        Step("oidc_update_again", o, dict(oidc, groups_prefix="oidc:")),
        Step("oidc_delete", o, dict(c, state="absent")),
        Step("oidc_delete_again", o, dict(c, state="absent")),
    ])
    assert "10.0.0.1/8" in run["ip_invalid"]["msg"] and run.requests["ip_invalid"] == []
    assert run["ip_check"]["changed"] is True and run.writes("ip_check") == []
    assert run["ip_check"]["ip_restrictions"] == ["203.0.113.0/24", "198.51.100.7/32"]
    assert run.writes("ip_create") == [("PUT", IPS)]
    assert run["ip_create"]["ip_restrictions"] == ["203.0.113.0/24", "198.51.100.7/32"]
    for label in ("ip_create_again", "ip_add_again", "ip_delete_again"):
        assert run[label]["changed"] is False and run.writes(label) == [], label
    assert run["ip_add"]["ip_restrictions"] == ["203.0.113.0/24", "198.51.100.7/32", "192.0.2.10/32"]
    assert run["ip_purge"]["ip_restrictions"] == ["192.0.2.10/32"]
    assert run.writes("ip_delete") == [("DELETE", IPS + "/{ip}")]
    assert run["ip_delete"]["ip_restrictions"] == []

    assert "https://" in run["oidc_invalid"]["msg"] and run.requests["oidc_invalid"] == []
    assert run["oidc_check"]["changed"] is True and run.writes("oidc_check") == []
    assert run.writes("oidc_create") == [("POST", OIDC)]
    assert run["oidc_create"]["oidc"]["groupsClaim"] == ["groups"]
    assert run["oidc_create_again"]["changed"] is False and run.writes("oidc_create_again") == []
    assert run.writes("oidc_update") == [("PUT", OIDC)]
    body = [e for e in run.requests["oidc_update"] if e["method"] == "PUT"][0]["body"]
    assert body["groupsPrefix"] == "oidc:" and body["usernameClaim"] == "email"  # the unset fields are kept
    assert run["oidc_update_again"]["changed"] is False and run.writes("oidc_update_again") == []
    assert run.writes("oidc_delete") == [("DELETE", OIDC)] and "oidc" not in run["oidc_delete"]
    assert run["oidc_delete_again"]["changed"] is False and run.writes("oidc_delete_again") == []
    # Each change redeploys the API server: the module waited until the cluster was READY again.
    assert run["oidc_create"]["waited"]["status"] == "READY"


def test_info_and_capabilities(play, emu, cluster):
    client = emu.ovh_client()
    client.post(cluster["path"] + "/nodepool", name="apps", flavorName="b3-8", desiredNodes=2)
    run = play([
        Step("clusters", "ovh_kube_cluster_info", {}),
        Step("one_cluster", "ovh_kube_cluster_info", {"name": "keiko-test"}),
        Step("no_cluster", "ovh_kube_cluster_info", {"name": "nope"}),
        Step("pools", "ovh_kube_nodepool_info", {"cluster": "keiko-test"}),
        Step("caps", "ovh_kube_capabilities_info", {"region": "BHS5", "versions": False}),
        Step("caps_cluster", "ovh_kube_capabilities_info", {"cluster": "keiko-test", "versions": False}),
        Step("missing_cluster", "ovh_kube_nodepool_info", {"cluster": "nope"}, fails=True),
    ])
    for label in ("clusters", "one_cluster", "pools", "caps", "caps_cluster"):
        assert run[label]["changed"] is False and run.writes(label) == []
    assert [c["id"] for c in run["clusters"]["clusters"]] == [cluster["id"]]
    assert run["one_cluster"]["clusters"][0]["version"] == "1.31"
    assert run["no_cluster"]["clusters"] == []
    pool = run["pools"]["nodepools"][0]
    assert pool["name"] == "apps" and len(pool["nodes"]) == 2 and pool["nodes"][0]["nodePoolId"] == pool["id"]
    caps = run["caps"]
    assert "GRA11" in caps["regions"] and "AlwaysPullImages" in caps["admission_plugins"]
    assert "b3-8" in caps["unavailable_flavors"] and "b3-8" not in [f["name"] for f in caps["flavors"]]
    assert "b2-7" in [f["name"] for f in caps["flavors"]]
    assert caps["versions"] is None and run["caps_cluster"]["versions"] is None
    assert "b3-8" in [f["name"] for f in run["caps_cluster"]["flavors"]]  # GRA11 has it
    assert "not found" in run["missing_cluster"]["msg"]


def test_versions_without_a_served_schema_are_null_with_a_warning(tmp_path):
    # The emulator does not serve /1.0/cloud.json (the real API does): that GET is its only
    # request outside the schema, so this emulator does not check the requests' conformance.
    with EmulatorProcess(state_dir=tmp_path / "emulator", transition_seconds=TRANSITION) as emu:
        run = run_steps(emu, tmp_path, [Step("caps", "ovh_kube_capabilities_info", {})])
    assert run["caps"]["versions"] is None and any("cloud.json" in w for w in run["caps"]["warnings"])
    assert [e["path"] for e in run.requests["caps"]][-1] == "/1.0/cloud.json"
