"""ovh_emulator.schema as a library, and request validation through the server."""

import pytest
import requests
from ovh.exceptions import BadParametersError

from ovh_emulator import schema

KUBE = "/cloud/project/{serviceName}/kube"


@pytest.fixture(scope="module")
def s():
    return schema.load_schema()


def test_schema_is_read_from_the_mirror(s):
    assert schema.mirror_dir().joinpath("ovh-api", "cloud.json").is_file()
    assert ("POST", KUBE) in s.operations
    assert ("GET", "/auth/time") in s.operations and s.operations[("GET", "/auth/time")].no_auth


def test_match_prefers_literal_segments_and_decodes_parameters(s):
    m = s.match("GET", "/cloud/project/p1/kube/regions")
    assert m.operation.path == KUBE.replace("/kube", "/kube/regions") and m.params == {"serviceName": "p1"}
    m = s.match("GET", "/cloud/project/p1/kube/k1")
    assert m.operation.path == KUBE + "/{kubeId}" and m.params["kubeId"] == "k1"
    m = s.match("DELETE", "/cloud/project/p1/kube/k1/ipRestrictions/10.0.0.0%2F8")
    assert m.params["ip"] == "10.0.0.0/8"
    assert s.match("PATCH", "/cloud/project/p1/kube/k1") is None
    assert s.match("GET", "/cloud/project/p1/nothing/here/at/all") is None


def test_request_validation_issues(s):
    op = s.operation("POST", KUBE)
    assert s.validate_request_body(op, {"region": "GRA7"}) == []
    issues = {i.kind: i for i in s.validate_request_body(op, {"name": "x", "bogus": 1})}
    assert issues["unknown"].message == "Unknown body parameter bogus"
    assert issues["missing"].message == "Missing body parameter region"
    issues = s.validate_request_body(op, {"region": 7})
    assert [i.message for i in issues] == ["Body parameter region isn't formated correctly"]
    issues = s.validate_request_body(op, {"region": "GRA7", "updatePolicy": "SOMETIMES"})
    assert issues[0].kind == "enum" and "updatePolicy" in issues[0].message
    issues = s.validate_request_body(op, {"region": "GRA7", "nodepool": {"desiredNodes": "2"}})
    assert issues[0].path == "nodepool.desiredNodes"
    issues = s.validate_request_body(op, {"region": "GRA7", "privateNetworkId": None})
    assert issues[0].kind == "null"  # canBeNull: false
    assert s.validate_request_body(op, {"region": "GRA7", "updatePolicy": None}) == []  # canBeNull: true
    assert s.validate_request_body(op, [1, 2])[0].kind == "json"


def test_version_enum_follows_the_live_api_only_when_overridden(s):
    op = s.operation("POST", KUBE)
    # the 2024 snapshot lists 1.26-1.29 only
    assert s.validate_request_body(op, {"region": "GRA7", "version": "1.29"}) == []
    assert s.validate_request_body(op, {"region": "GRA7", "version": "1.33"})[0].kind == "enum"
    s2 = schema.load_schema(enum_overrides={"cloud.kube.VersionEnum": ["1.32", "1.33"]})
    assert s2.validate_request_body(s2.operation("POST", KUBE), {"region": "GRA7", "version": "1.33"}) == []


def test_param_validation(s):
    op = s.operation("DELETE", KUBE + "/{kubeId}/ipRestrictions/{ip}")
    assert s.validate_params(op, {"serviceName": "p", "kubeId": "k", "ip": "10.1.0.0/16"}, {}) == []
    bad = s.validate_params(op, {"serviceName": "p", "kubeId": "k", "ip": "not-an-ip"}, {})
    assert bad[0].message == "Parameter ip isn't formated correctly"


def test_response_validation_catches_what_the_model_forbids(s):
    op = s.operation("GET", KUBE + "/{kubeId}/nodepool/{nodePoolId}")
    good = {"antiAffinity": False, "autoscale": False,
            "autoscaling": {"scaleDownUnneededTimeSeconds": 600, "scaleDownUnreadyTimeSeconds": 1200,
                            "scaleDownUtilizationThreshold": 0.5},
            "availableNodes": 1, "createdAt": "2024-01-01T00:00:00Z", "currentNodes": 1, "desiredNodes": 1,
            "flavor": "b2-7", "id": "i", "maxNodes": 100, "minNodes": 0, "monthlyBilled": False, "name": "n",
            "projectId": "p", "sizeStatus": "CAPACITY_OK", "status": "READY",
            "template": {"metadata": {"annotations": {}, "finalizers": [], "labels": {}},
                         "spec": {"taints": [], "unschedulable": False}},
            "upToDateNodes": 1, "updatedAt": "2024-01-01T00:00:00Z"}
    assert s.validate_response(op, good) == []
    bad = dict(good, status="SLEEPING", extra=1)
    del bad["flavor"]
    kinds = sorted(i.kind for i in s.validate_response(op, bad))
    assert kinds == ["enum", "missing", "unknown"]
    assert s.validate_response(op, dict(good, createdAt="yesterday"))[0].kind == "type"
    assert s.validate_response(s.operation("DELETE", KUBE + "/{kubeId}"), None) == []
    assert s.validate_response(s.operation("DELETE", KUBE + "/{kubeId}"), {"x": 1})
    assert s.validate_response(s.operation("GET", "/auth/time"), 1700000000) == []
    assert s.validate_response(s.operation("GET", "/auth/time"), "now")


def test_module_level_helpers():
    assert schema.match_operation("GET", "/cloud/project").operation.response_type == "string[]"
    assert schema.validate_request_body("POST", "/cloud/project/p/kube", {})[0].kind == "missing"
    assert schema.validate_response_body("GET", "/cloud/project", ["a"]) == []
    with pytest.raises(KeyError):
        schema.validate_request_body("POST", "/nope", {})


# -- through the server ----------------------------------------------------------------------------
def _kube(emu):
    return f"/cloud/project/{emu.service_name}/kube"


def test_server_rejects_unknown_missing_and_mistyped_fields(ovh_emulator):
    c = ovh_emulator.ovh_client()
    cases = [
        ({"region": "GRA7", "colour": "blue"}, "Unknown body parameter colour"),
        ({"name": "no-region"}, "Missing body parameter region"),
        ({"region": "GRA7", "nodepool": {"flavorName": "b2-7", "desiredNodes": "two"}},
         "Body parameter nodepool.desiredNodes isn't formated correctly"),
        ({"region": "GRA7", "updatePolicy": "WHENEVER"}, "Body parameter updatePolicy isn't formated correctly"),
        ({"region": "GRA7", "version": "1.20"}, "Body parameter version isn't formated correctly"),
    ]
    for body, message in cases:
        with pytest.raises(BadParametersError) as exc:
            c.post(_kube(ovh_emulator), **body)
        assert str(exc.value).startswith(message), (body, str(exc.value))
    assert c.get(_kube(ovh_emulator)) == []  # nothing was created
    rejected = [e for e in ovh_emulator.requests(kind="api") if e["status"] == 400]
    assert len(rejected) == len(cases) and all(e["validation"] for e in rejected)


def test_server_rejects_a_bad_path_parameter_and_invalid_json(ovh_emulator):
    c = ovh_emulator.ovh_client()
    kube = c.post(_kube(ovh_emulator), region="GRA7")
    with pytest.raises(BadParametersError) as exc:
        c.delete(_kube(ovh_emulator) + f"/{kube['id']}/ipRestrictions/not-an-ip")
    assert str(exc.value).startswith("Parameter ip isn't formated correctly")
    from helpers import sign
    import time

    i = ovh_emulator.info
    url = ovh_emulator.endpoint + _kube(ovh_emulator)
    ts = str(int(time.time()))
    r = requests.post(url, data="{not json", timeout=10, headers={
        "X-Ovh-Application": i["application_key"], "X-Ovh-Consumer": i["consumer_key"], "X-Ovh-Timestamp": ts,
        "X-Ovh-Signature": sign(i["application_secret"], i["consumer_key"], "POST", url, "{not json", ts)})
    assert r.status_code == 400
    assert r.json() == {"class": "Client::BadRequest",
                        "message": "The input that you provided isn't valid JSON or not well formatted"}


def test_unknown_route_and_method(ovh_emulator):
    from helpers import signed

    r = signed(ovh_emulator, "GET", "/cloud/project/x/not/a/route")
    assert r.status_code == 404 and r.json() == {"class": "Client::NotFound",
                                                 "message": "Got an invalid (or empty) URL"}
    assert signed(ovh_emulator, "PATCH", "/cloud/project").status_code == 405
