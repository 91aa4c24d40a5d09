"""Unit tests of OvhModule's own jobs (no HTTP): the look-up by ID or name and its one message, the fields that
cannot change, the options every module checks, the read-back after apply, and what an authentication refusal
says."""

import pytest

from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhApiError
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import (
    Immutable,
    OvhModule,
    Plan,
    camel_keys,
    normalize_time,
    parse_datetime,
)
from module_fakes import Failed, FakeClient, make_module

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


class Timed(OvhModule):
    formats = {"at": (normalize_time, "a time of day"),
               "fork.when": (lambda v: v if parse_datetime(v) else None, "an ISO 8601 date and time")}
    refused = ((lambda p: p.get("state") == "absent" and p.get("fork"), "fork needs state=present."),)

    def validate(self):
        if self.params.get("size") == 0:
            self.fail("size must be positive.")
        if self.params.get("early"):
            self.check_formats(("at",))
            self.fail("after at")


@pytest.mark.parametrize("params, message", [
    (dict(at="25:00"), "at must be a time of day, got '25:00'."),
    (dict(fork={"when": "yesterday"}), "fork.when must be an ISO 8601 date and time, got 'yesterday'."),
    (dict(fork={"when": "2025-01-31T12:00:00Z"}, state="absent"), "fork needs state=present."),
    (dict(at="25:00", size=0), "size must be positive."),  # validate() comes first...
    (dict(at="25:00", early=True), "at must be a time of day, got '25:00'."),  # ...unless it checks a format itself
])
def test_formats_and_refused_combinations_after_validate(params, message):
    params.setdefault("state", "present")
    with pytest.raises(Failed) as exc:
        make_module(Timed, **params).check_input()
    assert str(exc.value) == message


def test_formats_normalize_the_value_the_module_uses():
    mod = make_module(Timed, at="2:00", fork={"when": "2025-01-31T12:00:00Z"}, state="present")
    mod.check_input()
    assert mod.params["at"] == "02:00:00" and mod.params["fork"]["when"] == "2025-01-31T12:00:00Z"


class Sized(OvhModule):
    what = "node pool"
    collection_path = "/pools"

    def label(self, obj=None):
        return "p"


def test_fields_take_the_options_as_camel_case_else_the_base_object():
    mod = make_module(Sized, min_nodes=2, max_nodes=None, update_policy="NEVER_UPDATE")
    assert mod.fields(("min_nodes", "max_nodes")) == {"minNodes": 2, "maxNodes": None}
    assert mod.fields(("min_nodes", "max_nodes"), {"maxNodes": 9}) == {"minNodes": 2, "maxNodes": 9}
    assert camel_keys({"update_policy": 1, "scale_down_unneeded_time_seconds": 2}) == {
        "updatePolicy": 1, "scaleDownUnneededTimeSeconds": 2}


def test_create_step_runs_before_then_creates_or_adopts_at_the_collection_path():
    client = FakeClient([{"id": "n1", "name": "web"}])
    mod = make_module(Sized, client, wait=False)
    order = []
    created = mod.create_step({"name": "web"}, lambda: None, "node pool web", before=lambda: order.append("before"))()
    assert created == {"id": "n1", "name": "web"} and order == ["before"] and client.sent == [("POST", "/pools")]


def test_plan_put_predicts_the_body_or_the_part_it_replaces():
    mod = make_module(Sized, wait=False)
    plan = Plan({"id": "c", "policy": "A", "custom": {"x": 1, "y": 2}})
    mod.plan_put(plan, "c", {"policy": "B"}, "set policy B", "/policy")
    mod.plan_put(plan, "c", {"x": 3}, "update custom", "/custom", part="custom")
    assert plan.summaries == ["set policy B", "update custom"]
    assert plan.after == {"id": "c", "policy": "B", "custom": {"x": 3, "y": 2}}


class Deleting(OvhModule):
    what = "database service"
    collection_path = "/services"
    deleting = ("DELETING",)
    delete_missing_ok = True
    noun = "service"


def test_absent_on_an_object_being_deleted_plans_nothing_and_a_delete_names_the_noun():
    mod = make_module(Deleting, wait=False, state="absent")
    assert not mod.plan_absent({"id": "s1", "name": "pg", "status": "DELETING"}).changed
    plan = mod.plan_absent({"id": "s1", "name": "pg", "status": "READY"})
    assert plan.summaries == ["delete service pg"] and plan.after is None
