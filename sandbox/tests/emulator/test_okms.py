"""OVHcloud Secret Manager's Vault KV2-compatible API on the sandbox's OKMS domain (``ovh_emulator/okms.py``):
token auth, versions, check-and-set, soft delete and destroy, Vault's answer and error shapes."""

import requests


def _kv(emu, kind, path, okms_id=None):
    return "%s/api/%s/v1/secret/%s/%s" % (emu.info["okms_server"], okms_id or emu.info["okms_id"], kind, path)


def _h(emu, token=None):
    return {"X-Vault-Token": emu.info["okms_token"] if token is None else token}


def test_versions_cas_delete_and_destroy(ovh_emulator):
    emu = ovh_emulator
    url, meta = _kv(emu, "data", "keiko/api/database"), _kv(emu, "metadata", "keiko/api/database")
    assert requests.get(url, headers=_h(emu), timeout=10).status_code == 404

    r = requests.post(url, json={"data": {"user": "api", "password": "s3cr3t-one"}, "options": {"cas": 0}},
                      headers=_h(emu), timeout=10)
    assert r.status_code == 200 and r.json()["data"]["version"] == 1 and r.json()["data"]["destroyed"] is False
    # cas 0 on an existing secret, and a stale cas, are refused with Vault's message
    for cas in (0, 2):
        r = requests.post(url, json={"data": {"user": "x"}, "options": {"cas": cas}}, headers=_h(emu), timeout=10)
        assert r.status_code == 400
        assert r.json() == {"errors": ["check-and-set parameter did not match the current version"]}
    r = requests.post(url, json={"data": {"user": "api", "password": "s3cr3t-two"}, "options": {"cas": 1}},
                      headers=_h(emu), timeout=10)
    assert r.json()["data"]["version"] == 2

    got = requests.get(url, headers=_h(emu), timeout=10).json()["data"]
    assert got["data"] == {"user": "api", "password": "s3cr3t-two"} and got["metadata"]["version"] == 2
    md = requests.get(meta, headers=_h(emu), timeout=10).json()["data"]
    assert md["current_version"] == 2 and sorted(md["versions"]) == ["1", "2"]

    # the request log holds the keys of a write, never its values nor the token
    log = emu.requests(kind="okms")
    assert log and all("s3cr3t" not in str(e) and emu.info["okms_token"] not in str(e) for e in log)
    assert any((e.get("body") or {}).get("data_keys") == ["password", "user"] for e in log)

    # soft delete of the latest version: 404 with its metadata; a new version with the right cas revives it
    assert requests.delete(url, headers=_h(emu), timeout=10).status_code == 204
    r = requests.get(url, headers=_h(emu), timeout=10)
    assert r.status_code == 404 and r.json()["data"]["metadata"]["deletion_time"] and r.json()["data"]["data"] is None
    r = requests.post(url, json={"data": {"user": "api"}, "options": {"cas": 2}}, headers=_h(emu), timeout=10)
    assert r.json()["data"]["version"] == 3

    # destroy: the secret and all its versions are gone
    assert requests.delete(meta, headers=_h(emu), timeout=10).status_code == 204
    assert requests.get(meta, headers=_h(emu), timeout=10).status_code == 404
    r = requests.post(url, json={"data": {"user": "api"}, "options": {"cas": 0}}, headers=_h(emu), timeout=10)
    assert r.json()["data"]["version"] == 1


def test_token_domain_and_body_are_checked(ovh_emulator):
    emu = ovh_emulator
    url = _kv(emu, "data", "keiko/registry")
    for headers in ({}, _h(emu, "not-the-token")):
        for method in ("GET", "POST", "DELETE"):
            r = requests.request(method, url, json={"data": {"a": "b"}}, headers=headers, timeout=10)
            assert (r.status_code, r.json()) == (403, {"errors": ["permission denied"]})
    other = _kv(emu, "data", "keiko/registry", okms_id="00000000-0000-4000-8000-000000000000")
    assert requests.get(other, headers=_h(emu), timeout=10).status_code == 404
    for body in ({"user": "a"}, {"data": "x"}, {"data": {"a": "b"}, "options": {"cas": "1"}}):
        r = requests.post(url, json=body, headers=_h(emu), timeout=10)
        assert r.status_code == 400 and r.json()["errors"], body
    r = requests.post(_kv(emu, "data", "keiko//registry"), json={"data": {"a": "b"}}, headers=_h(emu), timeout=10)
    assert (r.status_code, r.json()) == (400, {"errors": ["invalid secret path"]})
    assert requests.get(_kv(emu, "metadata", "keiko/registry"), headers=_h(emu), timeout=10).status_code == 404
