"""Authentication as the real API does it: python-ovh signatures, OAuth2, error shapes."""

import time

import ovh
import pytest
import requests
from ovh.exceptions import BadParametersError, InvalidCredential, InvalidKey, OAuth2FailureError

from helpers import sign, signed


def _project_path(emu):
    return f"/cloud/project/{emu.service_name}"


def test_python_ovh_signature_accepted_for_get_query_and_body(ovh_emulator):
    client = ovh_emulator.ovh_client()
    assert client.get("/cloud/project") == [ovh_emulator.service_name]
    # a query string is part of the signed URL
    flavors = client.get(_project_path(ovh_emulator) + "/capabilities/kube/flavors", region="GRA7")
    assert {f["name"] for f in flavors} >= {"b2-7", "b2-15"}
    # a body is part of the signature
    net = client.post(_project_path(ovh_emulator) + "/network/private", name="signed-body", vlanId=7)
    assert net["vlanId"] == 7
    log = ovh_emulator.requests(kind="api")
    assert [e["auth"] for e in log] == ["signature"] * len(log)


def test_raw_signature_computed_independently_is_accepted(ovh_emulator):
    r = signed(ovh_emulator, "GET", "/cloud/project")
    assert r.status_code == 200, r.text
    assert r.json() == [ovh_emulator.service_name]


def test_unsigned_request_is_rejected(ovh_emulator):
    r = requests.get(ovh_emulator.endpoint + "/cloud/project", timeout=10)
    assert r.status_code == 401
    assert r.json() == {"errorCode": "NOT_AUTHENTICATED", "httpCode": "401 Unauthorized",
                        "message": "You must login first"}
    assert r.headers["X-Ovh-Queryid"].startswith("EU.ext-")


def test_bad_signature_is_rejected_with_invalid_signature(ovh_emulator):
    r = signed(ovh_emulator, "GET", "/cloud/project", secret="not-the-secret")
    assert r.status_code == 400
    assert r.json() == {"errorCode": "INVALID_SIGNATURE", "httpCode": "400 Bad Request",
                        "message": "Invalid signature"}
    # signing another URL than the one requested is also a bad signature
    other = sign(ovh_emulator.info["application_secret"], ovh_emulator.info["consumer_key"], "GET",
                 ovh_emulator.endpoint + "/cloud", "", str(int(time.time())))
    r = signed(ovh_emulator, "GET", "/cloud/project", signature=other)
    assert r.status_code == 400 and r.json()["errorCode"] == "INVALID_SIGNATURE"


def test_tampered_body_is_rejected(ovh_emulator):
    i = ovh_emulator.info
    ts = str(int(time.time()))
    url = ovh_emulator.endpoint + _project_path(ovh_emulator) + "/network/private"
    sig = sign(i["application_secret"], i["consumer_key"], "POST", url, '{"name":"a"}', ts)
    r = requests.post(url, data='{"name":"b"}', timeout=10, headers={
        "X-Ovh-Application": i["application_key"], "X-Ovh-Consumer": i["consumer_key"],
        "X-Ovh-Timestamp": ts, "X-Ovh-Signature": sig, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["errorCode"] == "INVALID_SIGNATURE"
    assert ovh_emulator.state()["projects"][ovh_emulator.service_name]["networks"] == {}


def test_stale_timestamp_is_rejected_with_query_time_out(ovh_emulator):
    r = signed(ovh_emulator, "GET", "/cloud/project", ts=int(time.time()) - 3600)
    assert r.status_code == 400
    assert r.json()["errorCode"] == "QUERY_TIME_OUT"
    assert r.json()["httpCode"] == "400 Bad Request"
    # a small skew (python-ovh corrects its clock with /auth/time anyway) is tolerated
    assert signed(ovh_emulator, "GET", "/cloud/project", ts=int(time.time()) - 30).status_code == 200


def test_unknown_application_key_is_rejected(ovh_emulator):
    client = ovh_emulator.ovh_client(application_key="unknownAppKey123")
    with pytest.raises(InvalidKey) as exc:
        client.get("/cloud/project")
    assert "This application key is invalid" in str(exc.value)
    r = signed(ovh_emulator, "GET", "/cloud/project", ak="unknownAppKey123")
    assert r.status_code == 403
    assert r.json() == {"errorCode": "INVALID_KEY", "httpCode": "403 Forbidden",
                        "message": "This application key is invalid"}


def test_unknown_consumer_key_is_rejected(ovh_emulator):
    client = ovh_emulator.ovh_client(consumer_key="x" * 32)
    with pytest.raises(InvalidCredential):
        client.get("/cloud/project")
    r = signed(ovh_emulator, "GET", "/cloud/project", ck="y" * 32)
    assert r.status_code == 403
    assert r.json() == {"errorCode": "INVALID_CREDENTIAL", "httpCode": "403 Forbidden",
                        "message": "This credential is not valid"}


def test_missing_consumer_key_header(ovh_emulator):
    r = requests.get(ovh_emulator.endpoint + "/cloud/project", timeout=10,
                     headers={"X-Ovh-Application": ovh_emulator.info["application_key"]})
    assert r.status_code == 401 and r.json()["errorCode"] == "NOT_AUTHENTICATED"


def test_auth_time_is_unauthenticated_and_current(ovh_emulator):
    r = requests.get(ovh_emulator.endpoint + "/auth/time", timeout=10)
    assert r.status_code == 200
    assert abs(r.json() - time.time()) < 5
    assert r.headers["X-Ovh-Queryid"].startswith("EU.ext-")


def test_server_clock_offset_is_followed_by_python_ovh(ovh_emulator):
    ovh_emulator.set_settings(clock_offset_seconds=1200)
    client = ovh_emulator.ovh_client()  # computes its time delta from /auth/time
    assert client.get("/cloud/project") == [ovh_emulator.service_name]
    # a client with the machine clock is now 20 minutes off
    r = signed(ovh_emulator, "GET", "/cloud/project")
    assert r.status_code == 400 and r.json()["errorCode"] == "QUERY_TIME_OUT"


def test_current_credential(ovh_emulator):
    cred = ovh_emulator.ovh_client().get("/auth/currentCredential")
    assert cred["status"] == "validated"
    assert {"method": "GET", "path": "/*"} in cred["rules"]


def test_oauth2_client_credentials_and_bearer(ovh_emulator):
    client = ovh_emulator.ovh_client("oauth2")
    assert client.get("/cloud/project") == [ovh_emulator.service_name]
    log = ovh_emulator.requests()
    token_calls = [e for e in log if e["kind"] == "token"]
    assert len(token_calls) == 1 and token_calls[0]["status"] == 200
    assert token_calls[0]["body"].get("client_secret", "**REDACTED**") == "**REDACTED**"
    api = [e for e in log if e["kind"] == "api"]
    assert api[-1]["auth"] == "oauth2"


def test_oauth2_token_endpoint_shapes(ovh_emulator):
    i = ovh_emulator.info
    r = requests.post(i["token_url"], data={"grant_type": "client_credentials", "scope": "all"},
                      auth=(i["client_id"], i["client_secret"]), timeout=10)
    assert r.status_code == 200
    tok = r.json()
    assert tok["token_type"] == "Bearer" and tok["expires_in"] > 0 and tok["access_token"]
    # client id/secret as form fields work too
    r = requests.post(i["token_url"], data={"grant_type": "client_credentials", "scope": "all",
                                            "client_id": i["client_id"], "client_secret": i["client_secret"]},
                      timeout=10)
    assert r.status_code == 200
    bearer = {"Authorization": "Bearer " + tok["access_token"]}
    assert requests.get(ovh_emulator.endpoint + "/cloud/project", headers=bearer, timeout=10).status_code == 200
    bad = requests.post(i["token_url"], data={"grant_type": "client_credentials", "scope": "all"},
                        auth=(i["client_id"], "wrong"), timeout=10)
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    grant = requests.post(i["token_url"], data={"grant_type": "password"}, auth=(i["client_id"], i["client_secret"]),
                          timeout=10)
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    r = requests.get(ovh_emulator.endpoint + "/cloud/project", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert r.status_code == 401 and r.json()["errorCode"] == "INVALID_CREDENTIAL"


def test_oauth2_wrong_secret_fails_in_python_ovh(ovh_emulator):
    client = ovh_emulator.ovh_client("oauth2", client_secret="wrong")
    with pytest.raises(OAuth2FailureError):
        client.get("/cloud/project")


def test_oauth2_token_is_refetched_after_expiry(ovh_emulator):
    ovh_emulator.set_settings(token_ttl_seconds=1)
    client = ovh_emulator.ovh_client("oauth2")
    client.get("/cloud/project")
    time.sleep(1.5)
    client.get("/cloud/project")
    tokens = [e for e in ovh_emulator.requests() if e["kind"] == "token"]
    assert len(tokens) == 2


def test_every_answer_has_a_query_id(ovh_emulator):
    client = ovh_emulator.ovh_client()
    with pytest.raises(BadParametersError) as exc:
        client.post(_project_path(ovh_emulator) + "/kube", region="GRA7", nope=1)
    assert "OVH-Query-ID: EU.ext-" in str(exc.value)
    for path in ("/auth/time", "/nope", "/cloud/project"):
        assert requests.get(ovh_emulator.endpoint + path, timeout=10).headers["X-Ovh-Queryid"].startswith("EU.ext-")


def test_python_ovh_rejects_urls_so_clients_set_the_endpoint(ovh_emulator):
    # documents why ovh_client() sets _endpoint: python-ovh only knows endpoint names
    with pytest.raises(ovh.exceptions.InvalidRegion):
        ovh.Client(endpoint=ovh_emulator.endpoint, application_key="a", application_secret="b", consumer_key="c")
