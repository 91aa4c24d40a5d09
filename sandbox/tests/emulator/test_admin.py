"""Admin API: request log, redaction, state, reset, violations."""

import json

from helpers import signed


def _base(emu):
    return f"/cloud/project/{emu.service_name}"


def test_request_log_records_every_api_request(ovh_emulator):
    c = ovh_emulator.ovh_client()
    c.get("/auth/time")
    kube = c.post(_base(ovh_emulator) + "/kube", region="GRA7", name="logged")
    c.get(_base(ovh_emulator) + f"/kube/{kube['id']}", extra="1")
    log = ovh_emulator.requests()
    assert [e["seq"] for e in log] == sorted(e["seq"] for e in log) and len({e["seq"] for e in log}) == len(log)
    assert all(e["monotonic"] > 0 and e["time"] > 1.6e9 and e["query_id"].startswith("EU.ext-") for e in log)
    post = [e for e in log if e["method"] == "POST"][0]
    assert post["status"] == 200 and post["fault"] is None and post["resources"] == [kube["id"]]
    assert post["operation"] == "/cloud/project/{serviceName}/kube" and post["body"]["name"] == "logged"
    get = log[-1]
    assert get["query"] == {"extra": "1"} and get["path"].endswith(kube["id"])
    assert [w["method"] for w in ovh_emulator.writes()] == ["POST"]
    assert ovh_emulator.requests(since=log[-2]["seq"]) == [log[-1]]
    assert ovh_emulator.requests(method="POST") == [post]
    lines = (ovh_emulator.state_dir / "requests.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [e["seq"] for e in log]


def test_secret_looking_fields_are_redacted(ovh_emulator):
    r = signed(ovh_emulator, "POST", _base(ovh_emulator) + "/region",
               {"region": "GRA1", "password": "hunter2", "nested": {"clientSecret": "s3cr3t", "ok": "visible"}})
    assert r.status_code == 400  # unknown fields, but the body is still logged
    entry = ovh_emulator.requests()[-1]
    assert entry["body"]["password"] == "**REDACTED**"
    assert entry["body"]["nested"] == {"clientSecret": "**REDACTED**", "ok": "visible"}
    text = (ovh_emulator.state_dir / "requests.jsonl").read_text()
    assert "hunter2" not in text and "s3cr3t" not in text
    # the application secret and consumer key never reach the log either
    assert ovh_emulator.info["application_secret"] not in text
    assert ovh_emulator.info["consumer_key"] not in text


def test_state_reset_and_info(ovh_emulator):
    c = ovh_emulator.ovh_client()
    c.post(_base(ovh_emulator) + "/kube", region="GRA7")
    state = ovh_emulator.state()
    assert len(state["projects"][ovh_emulator.service_name]["kube"]) == 1
    on_disk = json.loads((ovh_emulator.state_dir / "state.json").read_text())
    assert on_disk["projects"] == state["projects"]
    ovh_emulator.reset()
    assert ovh_emulator.requests() == []
    assert c.get(_base(ovh_emulator) + "/kube") == []  # same credentials still work
    info = ovh_emulator.admin("GET", "info")
    assert info["service_name"] == ovh_emulator.service_name and "application_secret" not in info
    routes = ovh_emulator.admin("GET", "routes")
    assert {"method": "POST", "path": "/cloud/project/{serviceName}/kube", "create": True,
            "module": "ovh_emulator.routes.kube"} in routes


def test_unimplemented_schema_route_is_a_violation(ovh_emulator_factory):
    emu = ovh_emulator_factory(check_violations=False)
    r = signed(emu, "GET", _base(emu) + "/kube/x/metrics/etcdUsage")
    assert r.status_code == 501
    v = emu.violations()
    assert v and v[0]["kind"] == "unimplemented" and v[0]["operation"].endswith("/metrics/etcdUsage")
    emu.reset()
    assert emu.violations() == []


def test_credentials_file_is_private(ovh_emulator):
    path = ovh_emulator.state_dir / "credentials.json"
    creds = json.loads(path.read_text())
    assert set(creds) >= {"application_key", "application_secret", "consumer_key", "client_id", "client_secret",
                          "service_name"}
    assert len(creds["service_name"]) == 32 and int(creds["service_name"], 16) >= 0
    assert path.stat().st_mode & 0o077 == 0
    ready = json.loads((ovh_emulator.state_dir / "ready.json").read_text())
    assert ready["endpoint"] == ovh_emulator.endpoint and ready["pid"] > 0 and ready["token_url"].endswith(
        "/auth/oauth2/token")
    assert ovh_emulator.env["OVH_CLOUD_PROJECT_SERVICE"] == creds["service_name"]
    assert set(ovh_emulator.env) >= {"OVH_ENDPOINT", "OVH_APPLICATION_KEY", "OVH_APPLICATION_SECRET",
                                     "OVH_CONSUMER_KEY", "OVH_CLOUD_PROJECT_SERVICE", "OVH_CLIENT_ID",
                                     "OVH_CLIENT_SECRET"}
    assert "OVH_CLIENT_ID" not in ovh_emulator.env_signature
    assert "OVH_APPLICATION_KEY" not in ovh_emulator.env_oauth2
