"""ovh_private_network and ovh_private_network_subnet against the emulator, in the fixed order; the IDs they
return are the ones a database (and a Kubernetes cluster) attach to."""

from ovh_playbook import Step

NETS = "/cloud/project/{serviceName}/network/private"
NET = NETS + "/{networkId}"
SUBNETS = NET + "/subnet"


def test_network_subnet_and_a_database_on_them(play, emu):
    net = {"name": "keiko-prod", "regions": ["GRA7"], "vlan_id": 42}
    subnet = {"network": "keiko-prod", "region": "GRA7", "cidr": "10.42.0.0/16"}
    database = {"description": "keiko-private", "plan": "essential", "flavor": "db1-4", "version": "16", "nodes": 1,
                "region": "GRA", "network_id": "{{ step_net_create.openstack_ids.GRA7 }}",
                "subnet_id": "{{ step_subnet_create.subnet.id }}"}
    run = play([
        Step("net_invalid", "ovh_private_network", dict(net, vlan_id=5000), fails=True),
        Step("net_check_create", "ovh_private_network", net, check=True),
        Step("net_create", "ovh_private_network", net),
        Step("net_create_again", "ovh_private_network", net),
        Step("net_update", "ovh_private_network", dict(net, regions=["GRA7", "GRA9"])),
        Step("net_update_again", "ovh_private_network", dict(net, regions=["GRA9", "GRA7"])),
        Step("net_vlan_change", "ovh_private_network", dict(net, vlan_id=43), fails=True),
        Step("net_region_removal", "ovh_private_network", dict(net, regions=["GRA9"]), fails=True),
        Step("subnet_invalid", "ovh_private_network_subnet", dict(subnet, cidr="10.42.0.0/33"), fails=True),
        Step("subnet_check_create", "ovh_private_network_subnet", subnet, check=True),
        Step("subnet_create", "ovh_private_network_subnet", subnet),
        Step("subnet_create_again", "ovh_private_network_subnet", subnet),
        Step("subnet_change", "ovh_private_network_subnet", dict(subnet, dhcp=False), fails=True),
        Step("database", "ovh_database", database),
        Step("database_again", "ovh_database", database),
        Step("database_network_change", "ovh_database", dict(database, subnet_id="0" * 8 + "-0000-4000-8000-" + "0" * 12),
             fails=True),
        Step("database_delete", "ovh_database", {"description": "keiko-private", "state": "absent",
                                                 "deletion_protection": False}),
        Step("subnet_delete", "ovh_private_network_subnet", dict(subnet, state="absent")),
        Step("subnet_delete_again", "ovh_private_network_subnet", dict(subnet, state="absent")),
        Step("net_delete", "ovh_private_network", {"name": "keiko-prod", "state": "absent"}),
        Step("net_delete_again", "ovh_private_network", {"name": "keiko-prod", "state": "absent"}),
    ])
    assert "vlan_id must be between 0 and 4000" in run["net_invalid"]["msg"] and run.requests["net_invalid"] == []
    assert run.writes("net_check_create") == [] and run["net_check_create"]["openstack_ids"] == {"GRA7": None}
    assert run.writes("net_create") == [("POST", NETS)]
    created = run["net_create"]
    assert created["network"]["status"] == "ACTIVE" and created["network"]["vlanId"] == 42
    os_id = created["openstack_ids"]["GRA7"]
    assert len(os_id) == 36
    assert run["net_create_again"]["changed"] is False and run.writes("net_create_again") == []
    assert run.writes("net_update") == [("POST", NET + "/region")]
    assert sorted(run["net_update"]["openstack_ids"]) == ["GRA7", "GRA9"]
    assert run["net_update"]["network"]["regions"][1]["status"] == "ACTIVE"
    assert run["net_update_again"]["changed"] is False and run.writes("net_update_again") == []
    assert "VLAN ID" in run["net_vlan_change"]["msg"] and run.writes("net_vlan_change") == []
    assert "cannot leave regions GRA7" in run["net_region_removal"]["msg"]
    assert run.writes("net_region_removal") == []

    assert run.requests["subnet_invalid"] == []
    assert run.writes("subnet_check_create") == []
    assert run.writes("subnet_create") == [("POST", SUBNETS)]
    assert run.bodies("subnet_create", "POST") == [{"network": "10.42.0.0/16", "region": "GRA7", "start": "10.42.0.2",
                                                   "end": "10.42.255.254", "dhcp": True, "noGateway": False}]
    sub = run["subnet_create"]
    assert sub["openstack_id"] == os_id and sub["network_id"] == created["network"]["id"]
    assert sub["subnet"]["gatewayIp"] == "10.42.0.1"
    assert run["subnet_create_again"]["changed"] is False and run.writes("subnet_create_again") == []
    assert "cannot be updated" in run["subnet_change"]["msg"] and run.writes("subnet_change") == []

    # The IDs the network modules return are what the database module takes.
    post = run.bodies("database", "POST")[0]
    assert post["networkId"] == os_id and post["subnetId"] == sub["subnet"]["id"]
    assert run["database"]["database"]["networkType"] == "private"
    assert run["database_again"]["changed"] is False
    assert "subnet_id of database service" in run["database_network_change"]["msg"]
    assert run.writes("database_network_change") == []

    assert run.writes("subnet_delete") == [("DELETE", SUBNETS + "/{subnetId}")]
    assert run["subnet_delete_again"]["changed"] is False and run.writes("subnet_delete_again") == []
    assert run.writes("net_delete") == [("DELETE", NET)]
    assert run["net_delete_again"]["changed"] is False and run.writes("net_delete_again") == []
    assert emu.ovh_client().get("/cloud/project/%s/network/private" % emu.service_name) == []
