"""Unit tests of the database, storage and network modules' own rules (no HTTP)."""

import pytest

from ansible_collections.keikolatam.gitops.plugins.module_utils import _module
from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhApiError
from ansible_collections.keikolatam.gitops.plugins.modules import ovh_database as database
from ansible_collections.keikolatam.gitops.plugins.modules import ovh_database_user as db_user
from ansible_collections.keikolatam.gitops.plugins.modules import ovh_private_network_subnet as subnet
from ansible_collections.keikolatam.gitops.plugins.modules import ovh_s3_credentials as s3
from ansible_collections.keikolatam.gitops.plugins.plugin_utils._secret_result import carries_secret
from module_fakes import Failed, FakeClient, ambiguous, make_module


def _conflict():
    return OvhApiError("User 'app' already exists", http_status=409,
                       error_class="Client::Conflict::PostgresUserAlreadyExist")


@pytest.mark.parametrize("text, norm", [("2:00", "02:00:00"), ("02:00", "02:00:00"), ("23:59:59", "23:59:59"),
                                        ("24:00", None), ("2h", None), ("12:60", None), ("", None)])
def test_times_are_normalised_to_the_api_format(text, norm):
    assert _module.normalize_time(text) == norm


def test_blocks_and_points_in_time():
    assert _module.normalize_block("203.0.113.7") == "203.0.113.7/32"
    assert _module.normalize_block("10.42.1.2/16") == "10.42.0.0/16"
    assert _module.normalize_block("2001:db8::1") == "2001:db8::1/128"
    assert _module.normalize_block("nope") is None
    assert _module.parse_datetime("2025-01-31T12:00:00Z") is not None
    assert _module.parse_datetime("2025-01-31") is None and _module.parse_datetime("yesterday") is None
    assert _module.stringify(True) == "true" and _module.stringify(64) == "64"


SERVICE = {"id": "s", "description": "pg", "engine": "postgresql", "plan": "business", "flavor": "db1-7",
           "version": "16", "nodeNumber": 2, "region": "GRA", "disk": {"size": 160, "type": "network-ssd"},
           "maintenanceTime": "04:00:00", "backups": {"time": "02:00:00", "regions": ["GRA"]},
           "ipRestrictions": [{"ip": "10.0.0.0/16", "description": "kube", "status": "READY"}],
           "networkId": None, "subnetId": None}


def _db_module(**params):
    base = dict(id=None, description="pg", engine="postgresql", plan=None, flavor=None, version=None, nodes=None,
                region=None, network_id=None, subnet_id=None, disk_size=None, backup_time=None, backup_regions=None,
                maintenance_time=None, ip_restrictions=None, purge_ip_restrictions=True,
                advanced_configuration=None, deletion_protection=True, fork_from=None, state="present")
    base.update(params)
    mod = make_module(database.OvhDatabase, **base)
    mod.check_input()
    return mod


def test_update_body_holds_only_what_differs():
    mod = _db_module(plan="production", nodes="3", disk_size=160, version="16", backup_time="3:00",
                     ip_restrictions=[{"ip": "10.0.0.0/16", "description": None}])
    assert mod.update_body(SERVICE) == {"plan": "production", "nodeNumber": 3,
                                        "backups": {"time": "03:00:00", "regions": ["GRA"]}}
    assert _db_module(plan="business", nodes=2).update_body(SERVICE) == {}


def test_ip_restrictions_purge_or_add():
    purge = _db_module(ip_restrictions=[{"ip": "192.0.2.1", "description": "vpn"}])
    assert purge.update_body(SERVICE) == {"ipRestrictions": [{"ip": "192.0.2.1/32", "description": "vpn"}]}
    add = _db_module(ip_restrictions=[{"ip": "192.0.2.1", "description": "vpn"}], purge_ip_restrictions=False)
    assert add.update_body(SERVICE)["ipRestrictions"] == [{"ip": "192.0.2.1/32", "description": "vpn"},
                                                          {"ip": "10.0.0.0/16", "description": "kube"}]
    same = _db_module(ip_restrictions=[{"ip": "10.0.0.0/16", "description": None}], purge_ip_restrictions=False)
    assert same.update_body(SERVICE) == {}
    assert _db_module(ip_restrictions=[]).update_body(SERVICE) == {"ipRestrictions": []}


@pytest.mark.parametrize("params, text", [
    (dict(engine="mysql"), "The engine of database service pg cannot be updated (it is postgresql, the task asks "
                           "for mysql)"),
    (dict(region="SBG"), "The region of database service pg cannot be updated"),
    (dict(nodes=[{"region": "DE"}]),
     "The region of database service pg cannot be updated (it is GRA, the task asks for DE)"),
    (dict(network_id="0c1f8e34-51a2-4d6b-8a3e-7f9b0c2d1e4a", subnet_id="0c1f8e34-51a2-4d6b-8a3e-7f9b0c2d1e4b"),
     "The network_id of database service pg cannot be updated (it is unset"),
])
def test_unchangeable_fields_fail(params, text):
    with pytest.raises(Failed) as exc:
        _db_module(**params).check_immutable(SERVICE)
    assert text in str(exc.value) and str(exc.value).endswith("Nothing was changed.")


@pytest.mark.parametrize("params, text", [
    (dict(nodes=True), "not a boolean"), (dict(nodes=0), "at least 1"), (dict(nodes=[{"size": 1}]), "unknown keys"),
    (dict(nodes=[{"role": "LEADER"}]), "role must be"), (dict(maintenance_time="noon"), "maintenance_time"),
    (dict(ip_restrictions=[{"ip": "300.1.1.1", "description": None}]), "not an IP"),
    (dict(network_id="pn-1_2"), "OpenStack ID"),
    (dict(fork_from={"service": "x", "backup_id": "b", "point_in_time": None}), "backup_id must be a UUID"),
    (dict(fork_from={"service": "x", "backup_id": None, "point_in_time": "yesterday"}), "ISO 8601"),
    (dict(nodes=[{"region": "GRA"}, {"region": "SBG"}]), "All nodes of a service are in one region"),
])
def test_invalid_input_fails_in_validate(params, text):
    with pytest.raises(Failed) as exc:
        _db_module(**params)
    assert text in str(exc.value)


def _user_module(posts, users):
    client = FakeClient(posts)
    mod = make_module(db_user.OvhDatabaseUser, client, name="app", wait_sleep=0.01, wait=True, wait_timeout=5)
    mod.service = {"id": "c", "status": "READY", "engine": "postgresql"}
    mod.params["engine"] = "postgresql"
    mod.params["service_name"] = "p"
    found = iter(users)
    mod.find = lambda: next(found)
    return mod, client


def test_user_500_but_created_is_adopted_and_its_password_reset():
    mod, client = _user_module([ambiguous()], [{"id": "u", "username": "app"}])
    user, reset = mod.send_create({"name": "app"})
    assert user["id"] == "u" and reset is True and len(client.sent) == 1
    assert mod.result["adopted"] is True and "password reset" in mod.module.warnings[0]


def test_user_create_not_applied_is_sent_again():
    mod, client = _user_module([ambiguous(), {"id": "u", "password": "p"}], [None] * 50)
    user, reset = mod.send_create({"name": "app"})
    assert user == {"id": "u", "password": "p"} and reset is False and len(client.sent) == 2


def test_user_500_then_409_is_our_user():
    mod, client = _user_module([ambiguous(), _conflict()], [])
    # Not visible during the grace period: the create is sent again, and answers 409: it was applied after all.
    mod.find = lambda: {"id": "u", "username": "app"} if len(client.sent) == 2 else None
    user, reset = mod.send_create({"name": "app"})
    assert user["id"] == "u" and reset is True and len(client.sent) == 2
    assert "then User 'app' already exists" in mod.module.warnings[0]


def test_user_409_at_once_is_adopted_without_changing_its_password():
    mod, client = _user_module([_conflict()], [{"id": "u", "username": "app"}])
    user, reset = mod.send_create({"name": "app"})
    assert user["id"] == "u" and reset is False and "without changing its password" in mod.module.warnings[0]


def test_user_other_errors_are_not_adopted():
    mod = _user_module([OvhApiError("bad", http_status=400)], [{"id": "u"}])[0]
    with pytest.raises(OvhApiError):
        mod.send_create({"name": "app"})


def test_s3_pair_of_an_ambiguous_create_is_adopted_with_its_secret():
    calls = {"list": 0}

    def gets(path):
        calls["list"] += 1
        return [{"access": "a1", "tenantId": "t", "userId": "u"}]

    client = FakeClient([ambiguous(), {"secret": "s3cr3t"}], gets)
    mod = make_module(s3.OvhS3Credentials, client, wait_sleep=0.01, service_name="p")
    mod.user = {"id": 7}
    pair = mod.send_create()
    assert pair == {"access": "a1", "tenantId": "t", "userId": "u", "secret": "s3cr3t"}
    base = "/cloud/project/p/user/7/s3Credentials"
    assert client.sent == [("POST", base), ("POST", base + "/a1/secret")] and mod.result["adopted"]


def test_subnet_pool_defaults_and_checks():
    mod = make_module(subnet.OvhPrivateNetworkSubnet, cidr="10.42.7.9/16", start=None, end=None)
    mod.validate()
    assert mod.params["cidr"] == "10.42.0.0/16" and mod.pool == ("10.42.0.2", "10.42.255.254")
    with pytest.raises(Failed):
        make_module(subnet.OvhPrivateNetworkSubnet, cidr="10.42.0.0/16", start="10.43.0.1", end=None).validate()
    with pytest.raises(Failed):
        make_module(subnet.OvhPrivateNetworkSubnet, cidr="10.42.0.0/16", start="10.42.0.9", end="10.42.0.3").validate()


def test_results_carrying_a_secret_are_recognised():
    assert carries_secret({"user": {"username": "app", "password": "x"}})
    assert carries_secret({"credentials": [{"secret": "y"}]})
    assert not carries_secret({"user": {"username": "app", "password": None}})
    assert not carries_secret({"user": {"password": ""}, "reset_password": False})
