"""Keystone v3 and Neutron v2.0 of the emulated project (``ovh_emulator/openstack.py``), driven by the real
openstacksdk (what ``openstack.cloud`` modules use) and by raw requests for the error shapes."""

import json

import openstack
import pytest
import requests
from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as os_exc

from helpers import wait_for

REGION = "GRA11"


def _user(emu, roles=("network_operator",), description="ingress"):
    c = emu.ovh_client()
    path = f"/cloud/project/{emu.service_name}/user"
    user = c.post(path, description=description, roles=list(roles))
    wait_for(lambda: c.get(path + f"/{user['id']}")["status"] == "ok", timeout=10)
    return user


def _connect(emu, user, region=REGION, password=None):
    return openstack.connect(region_name=region, auth=emu.openstack_auth(user["username"],
                                                                         password or user["password"]))


def _token(emu, user, scope=True):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user["username"], "domain": {"name": "Default"}, "password": user["password"]}}}}}
    if scope:
        body["auth"]["scope"] = {"project": {"id": emu.service_name}}
    return requests.post(emu.openstack_auth_url + "/auth/tokens", json=body, timeout=10)


def _neutron(emu, region=REGION):
    return f"{emu.base_url}/openstack/network/{region}/v2.0"


def test_floating_ip_lifecycle_with_openstacksdk(ovh_emulator):
    emu = ovh_emulator
    user = _user(emu)
    conn = _connect(emu, user)
    ext = list(conn.network.networks(name="Ext-Net"))
    assert len(ext) == 1 and ext[0].is_router_external and ext[0].subnet_ids
    assert [n.name for n in conn.search_networks("Ext-Net")] == ["Ext-Net"]
    assert list(conn.network.networks(is_router_external=False)) == []

    ip = conn.network.create_ip(floating_network_id=ext[0].id, description="keiko-dev-ingress")
    assert ip.status == "DOWN" and ip.port_id is None and ip.project_id == emu.service_name
    assert ip.floating_ip_address.startswith("198.18.")
    found = list(conn.network.ips(description="keiko-dev-ingress", floating_network_id=ext[0].id))
    assert [f.id for f in found] == [ip.id]
    assert list(conn.network.ips(description="another")) == []
    assert conn.network.get_ip(ip.id).floating_ip_address == ip.floating_ip_address
    second = conn.network.create_ip(floating_network_id=ext[0].id)
    assert second.floating_ip_address != ip.floating_ip_address
    updated = conn.network.update_ip(ip, description="renamed")
    assert updated.description == "renamed" and updated.revision_number == 1
    # another region has its own Ext-Net and floating IPs
    gra9 = _connect(emu, _user(emu, description="gra9"), region="GRA9")
    assert list(gra9.network.ips()) == []
    assert list(gra9.network.networks(name="Ext-Net"))[0].id != ext[0].id

    conn.network.delete_ip(ip)
    assert conn.network.find_ip(ip.id) is None
    with pytest.raises(os_exc.NotFoundException):
        conn.network.get_ip(ip.id)
    with pytest.raises(os_exc.NotFoundException):
        conn.network.delete_ip(ip.id, ignore_missing=False)
    logged = emu.requests(kind="openstack")
    assert {e["service"] for e in logged} == {"identity", "network"}
    assert [e["body"]["auth"]["identity"]["password"] for e in logged
            if e["method"] == "POST" and e["service"] == "identity"] == ["**REDACTED**"] * 2
    assert user["password"] not in json.dumps(logged)


def test_keystone_token_and_catalog(ovh_emulator):
    emu = ovh_emulator
    user = _user(emu)
    r = _token(emu, user)
    assert r.status_code == 201 and r.headers["X-Subject-Token"]
    tok = r.json()["token"]
    assert tok["project"]["id"] == emu.service_name and tok["user"]["name"] == user["username"]
    assert [x["name"] for x in tok["roles"]] == ["network_operator"]
    network = [s for s in tok["catalog"] if s["type"] == "network"][0]
    url = [e["url"] for e in network["endpoints"] if e["region_id"] == REGION and e["interface"] == "public"]
    assert url == [f"{emu.base_url}/openstack/network/{REGION}/"]
    # validate, then revoke: the token no longer opens Neutron
    head = {"X-Auth-Token": r.headers["X-Subject-Token"], "X-Subject-Token": r.headers["X-Subject-Token"]}
    assert requests.get(emu.openstack_auth_url + "/auth/tokens", headers=head, timeout=10).status_code == 200
    assert requests.get(_neutron(emu) + "/floatingips", headers=head, timeout=10).status_code == 200
    assert requests.delete(emu.openstack_auth_url + "/auth/tokens", headers=head, timeout=10).status_code == 204
    assert requests.get(_neutron(emu) + "/floatingips", headers=head, timeout=10).status_code == 401
    # an unscoped token has no catalog and does not open Neutron
    unscoped = _token(emu, user, scope=False)
    assert unscoped.status_code == 201 and "catalog" not in unscoped.json()["token"]
    assert requests.get(_neutron(emu) + "/floatingips", headers={
        "X-Auth-Token": unscoped.headers["X-Subject-Token"]}, timeout=10).status_code == 401


def test_error_shapes(ovh_emulator):
    emu = ovh_emulator
    user = _user(emu)
    unauthorized = {"error": {"code": 401, "title": "Unauthorized",
                              "message": "The request you have made requires authentication."}}
    bad = _token(emu, dict(user, password="wrong"))
    assert bad.status_code == 401 and bad.json() == unauthorized and "X-Subject-Token" not in bad.headers
    with pytest.raises(ks_exc.Unauthorized) as err:  # keystoneauth's, raised by the login under the SDK
        list(_connect(emu, user, password="wrong").network.ips())
    assert err.value.http_status == 401

    for headers in ({}, {"X-Auth-Token": "not-a-token"}):
        r = requests.get(_neutron(emu) + "/floatingips", headers=headers, timeout=10)
        assert r.status_code == 401 and r.json() == unauthorized
        assert r.headers["WWW-Authenticate"].startswith('Keystone uri="')
        assert requests.post(_neutron(emu) + "/floatingips", json={"floatingip": {}}, headers=headers,
                             timeout=10).status_code == 401

    auth = {"X-Auth-Token": _token(emu, user).headers["X-Subject-Token"]}
    missing = "0b8b3a8c-0000-4000-8000-000000000000"
    r = requests.get(_neutron(emu) + f"/floatingips/{missing}", headers=auth, timeout=10)
    assert r.status_code == 404
    assert r.json() == {"NeutronError": {"type": "FloatingIPNotFound",
                                         "message": f"Floating IP {missing} could not be found", "detail": ""}}
    for method in ("PUT", "DELETE"):
        r = requests.request(method, _neutron(emu) + f"/floatingips/{missing}", headers=auth,
                             json={"floatingip": {"description": "x"}} if method == "PUT" else None, timeout=10)
        assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "FloatingIPNotFound"
    r = requests.get(_neutron(emu) + f"/networks/{missing}", headers=auth, timeout=10)
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "NetworkNotFound"

    ext = requests.get(_neutron(emu) + "/networks?name=Ext-Net", headers=auth, timeout=10).json()["networks"][0]
    cases = [
        ({"floatingip": {"floating_network_id": ext["id"], "colour": "blue"}}, 400, "Unrecognized attribute(s) 'colour'"),
        ({"floatingip": {"floating_network_id": ext["id"], "status": "ACTIVE"}}, 400, "Attribute 'status' not allowed"),
        ({"floatingip": {"description": "no network"}}, 400, "'floating_network_id' not specified"),
        ({"floatingip": {"floating_network_id": missing}}, 404, f"Network {missing} could not be found."),
        ({"floatingip": {"floating_network_id": ext["id"], "port_id": missing}}, 404, f"Port {missing}"),
        ({"floatingip": {"floating_network_id": ext["id"], "floating_ip_address": "192.0.2.1"}}, 400,
         "not a valid IP"),
    ]
    for body, status, message in cases:
        r = requests.post(_neutron(emu) + "/floatingips", json=body, headers=auth, timeout=10)
        assert r.status_code == status and message in r.json()["NeutronError"]["message"], (body, r.text)
    r = requests.get(_neutron(emu) + "/floatingips?colour=blue", headers=auth, timeout=10)
    assert r.status_code == 400 and "invalid attribute for filtering" in r.json()["NeutronError"]["message"]
    assert requests.get(_neutron(emu) + "/floatingips", headers=auth, timeout=10).json() == {"floatingips": []}

    # a reader gets, but cannot create; a user of another role is refused by Neutron's policy
    reader = _connect(emu, _user(emu, roles=("infrastructure_supervisor",), description="reader"))
    assert list(reader.network.ips()) == []
    with pytest.raises(os_exc.ForbiddenException):
        reader.network.create_ip(floating_network_id=ext["id"])
    storage = _connect(emu, _user(emu, roles=("objectstore_operator",), description="storage"))
    with pytest.raises(os_exc.ForbiddenException):
        list(storage.network.ips())


def test_password_is_checked_after_regeneration_and_while_creating(ovh_emulator):
    emu = ovh_emulator
    emu.set_settings(transition_seconds=30)
    c = emu.ovh_client()
    path = f"/cloud/project/{emu.service_name}/user"
    fresh = c.post(path, description="fresh", roles=["network_operator"])
    assert _token(emu, fresh).status_code == 401  # still "creating"
    emu.advance(31)
    assert _token(emu, fresh).status_code == 201
    new = c.post(path + f"/{fresh['id']}/regeneratePassword")
    assert _token(emu, fresh).status_code == 401
    assert _token(emu, dict(fresh, password=new["password"])).status_code == 201


def test_unserved_openstack_path_is_a_violation(ovh_emulator_factory):
    emu = ovh_emulator_factory(check_violations=False)
    user = _user(emu)
    auth = {"X-Auth-Token": _token(emu, user).headers["X-Subject-Token"]}
    r = requests.get(_neutron(emu) + "/routers", headers=auth, timeout=10)
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "HTTPNotFound"
    assert [v["kind"] for v in emu.violations()] == ["unimplemented"]
