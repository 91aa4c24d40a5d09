"""Unit tests of OvhModule's own jobs (no HTTP): the look-up by ID or name and its one message, the fields that
cannot change, the options every module checks, the read-back after apply, and what an authentication refusal
says."""

import pytest

from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhApiError
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import Immutable, OvhModule, Plan
from module_fakes import Failed, make_module

OBJECTS = [{"id": "a1", "name": "web", "status": "READY"}, {"id": "a2", "name": "web", "status": "READY"},
           {"id": "b1", "name": "db", "status": "READY"}, {"id": "c1", "name": "old", "status": "DELETING"}]


class Thing(OvhModule):
    what = "registry"
    immutable = (Immutable("region", "region", "create a new one"),
                 Immutable("zones", "zones", "replace it", applies=lambda m: not m.params.get("replace")))
    not_empty = ("name",)
    uuid_options = {"id": "the registry's ID"}


def _thing(**params):
    params.setdefault("service_name", "p")
    params.setdefault("state", "present")
    return make_module(Thing, **params)


def test_find_by_id_or_name_has_one_message_for_several():
    mod = _thing()
    assert mod.find_by_id_or_name(OBJECTS, name="db")["id"] == "b1"
    assert mod.find_by_id_or_name(OBJECTS, name="old") is None  # going away: not "the one named old"
    assert mod.find_by_id_or_name(lambda: OBJECTS, oid="a2")["id"] == "a2"
    with pytest.raises(Failed) as exc:
        mod.find_by_id_or_name(OBJECTS, name="web", option="registry")
    assert str(exc.value) == "2 registries have the name web (a1, a2); set registry to the ID of the one to use."


def test_resolve_by_id_then_name_and_fails_when_unknown():
    mod = _thing()
    calls = []

    def listing():
        calls.append(1)
        return OBJECTS

    assert mod.resolve("b1", "registry", "registry", listing)["name"] == "db"
    assert mod.resolve("db", "registry", "registry", listing)["id"] == "b1"
    assert len(calls) == 2  # one listing per look-up, whether by ID or by name
    with pytest.raises(Failed) as exc:
        mod.resolve("nope", "registry", "registry", OBJECTS)
    assert str(exc.value) == "No registry with the ID or name nope (not found in project p)."


def test_an_unknown_id_fails_with_state_present_only():
    with pytest.raises(Failed) as exc:
        _thing(id="zz").find_own(OBJECTS)
    assert "No registry with the ID zz in project p; to create one, leave id unset" in str(exc.value)
    assert _thing(id="zz", state="absent").find_own(OBJECTS) is None


def test_immutable_fields_fail_with_one_message_before_any_plan():
    current = {"id": "a1", "name": "web", "region": "GRA", "zones": ["a", "b"]}
    assert _thing(name="web", region="GRA", zones=["b", "a"]).immutable_changes(current) == []
    assert _thing(name="web", region=None, zones=None).immutable_changes(current) == []
    assert _thing(name="web", region="GRA", zones=["c"], replace=True).immutable_changes(current) == []
    assert _thing(name="web", region="GRA", zones=["c"], replace=True).immutable_changes(current, always=True)
    assert _thing(name="web", region="SBG", zones=None).immutable_changes({"id": "x", "name": "web"}) == []
    with pytest.raises(Failed) as exc:
        _thing(name="web", region="SBG", zones=["c"]).check_immutable(current)
    assert str(exc.value) == (
        "The region of registry web cannot be updated (it is GRA, the task asks for SBG); The zones of registry web "
        "cannot be updated (it is [\"a\", \"b\"], the task asks for [\"c\"]); create a new one; replace it. Nothing "
        "was changed.")


@pytest.mark.parametrize("params, message", [
    (dict(name=" "), "name must not be empty."),
    (dict(name="web", id="web"), "id must be a UUID (the registry's ID), not 'web'."),
])
def test_declared_option_rules(params, message):
    with pytest.raises(Failed) as exc:
        _thing(**params).check_options()
    assert str(exc.value) == message
    _thing(name="web", id="0c1f8e34-51a2-4d6b-8a3e-7f9b0c2d1e4a").check_options()


class Pool(OvhModule):
    resource_key = "pool"
    model = None

    def item_path(self, oid):
        return "/pools/%s" % oid


class Reads(object):
    def __init__(self, objects):
        self.objects = objects
        self.paths = []

    def get_or_none(self, path):
        self.paths.append(path)
        return self.objects.get(path)

    def get(self, path, retry_not_found=0.0):
        found = self.get_or_none(path)
        if found is None:
            raise OvhApiError("not found", http_status=404)
        return found


def test_apply_reads_the_object_back_from_what_the_create_step_returned():
    client = Reads({"/pools/new": {"id": "new", "status": "READY", "size": 3}})
    mod = make_module(Pool, client, state="present", wait=False)
    plan = Plan(None).add("create", lambda: {"id": "new", "password": "once"}, after={"size": 3}, creates=True)
    mod.apply(plan, None)
    assert client.paths == ["/pools/new"]
    assert mod.result["pool"] == {"id": "new", "status": "READY", "size": 3, "password": "once"}


def test_apply_in_check_mode_returns_the_prediction_and_reads_nothing():
    client = Reads({})
    mod = make_module(Pool, client, state="present", wait=False)
    mod.module.check_mode = True
    mod.apply(Plan({"id": "p", "size": 1}).add("resize", lambda: None, patch={"size": 2}), {"id": "p", "size": 1})
    assert mod.result["pool"] == {"id": "p", "size": 2} and mod.result["changed"] and client.paths == []


@pytest.mark.parametrize("error_code, error_class, status, hint", [
    ("INVALID_SIGNATURE", None, 400, "the application secret is probably wrong"),
    ("INVALID_KEY", None, 403, "check application_key"),
    ("INVALID_CREDENTIAL", None, 403, "check consumer_key"),
    (None, "OAuth2FailureError", 401, "client_id or client_secret is wrong"),
    (None, None, 500, None),
])
def test_authentication_refusals_say_which_credential(error_code, error_class, status, hint):
    text = OvhModule.describe_failure(OvhApiError("refused", http_status=status, error_code=error_code,
                                                  error_class=error_class))
    assert text.startswith("OVH API error: ")
    assert (hint in text) if hint else text == "OVH API error: %s refused" % status
