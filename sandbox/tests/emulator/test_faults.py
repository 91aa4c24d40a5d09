"""Switchable faults: 429, 5xx, latency, "500 but created", determinism."""

import time

import pytest
import requests
from ovh.exceptions import APIError

from helpers import signed


def _base(emu):
    return f"/cloud/project/{emu.service_name}"


def _statuses(emu, n):
    return [signed(emu, "GET", _base(emu) + "/region").status_code for _i in range(n)]


@pytest.mark.ovh_emulator(fault_429_rate=1.0)
def test_429_answers_have_no_effect(ovh_emulator):
    r = signed(ovh_emulator, "POST", _base(ovh_emulator) + "/kube", {"region": "GRA7"})
    assert r.status_code == 429
    assert r.json() == {"class": "Client::TooManyRequests", "message": "Too many requests"}
    assert "Retry-After" not in r.headers and r.headers["X-Ovh-Queryid"]
    ovh_emulator.set_faults(fault_429_rate=0)
    assert signed(ovh_emulator, "GET", _base(ovh_emulator) + "/kube").json() == []
    log = ovh_emulator.requests(kind="api")
    assert log[0]["fault"] == "429" and log[-1]["fault"] is None


@pytest.mark.ovh_emulator(fault_429_rate=1.0, fault_5xx_rate=0.0)
def test_faults_never_hit_auth_time_token_or_admin(ovh_emulator):
    assert requests.get(ovh_emulator.endpoint + "/auth/time", timeout=10).status_code == 200
    assert ovh_emulator.ovh_client().get("/auth/time")
    assert ovh_emulator.ovh_client("oauth2")._oauth2.token  # token endpoint not faulted
    assert ovh_emulator.violations() == []
    assert signed(ovh_emulator, "GET", "/auth/currentCredential").status_code == 200


def test_fault_rates_are_applied_and_deterministic(ovh_emulator_factory):
    a = ovh_emulator_factory(fault_429_rate=0.25, fault_5xx_rate=0.25, seed=42)
    b = ovh_emulator_factory(fault_429_rate=0.25, fault_5xx_rate=0.25, seed=42)
    sa, sb = _statuses(a, 200), _statuses(b, 200)
    assert sa == sb  # same seed, same requests: same faults
    n429 = sa.count(429)
    n5xx = sum(1 for s in sa if s >= 500)
    assert 25 <= n429 <= 75 and 25 <= n5xx <= 75, (n429, n5xx)
    assert {s for s in sa if s >= 500} <= {500, 502, 503}
    assert sa.count(200) == 200 - n429 - n5xx
    # a different seed gives a different sequence; re-seeding at runtime replays it
    a.set_faults(seed=42)
    assert _statuses(a, 50) == sa[:50]
    a.set_faults(seed=7)
    assert _statuses(a, 50) != sa[:50]


@pytest.mark.ovh_emulator(fault_5xx_rate=1.0)
def test_5xx_answers_have_no_effect(ovh_emulator):
    c = ovh_emulator.ovh_client()
    for _i in range(5):
        with pytest.raises(APIError):
            c.post(_base(ovh_emulator) + "/network/private", name="x")
    ovh_emulator.set_faults(fault_5xx_rate=0.0)
    assert c.get(_base(ovh_emulator) + "/network/private") == []
    assert {e["status"] for e in ovh_emulator.requests(kind="api")[:5]} <= {500, 502, 503}


@pytest.mark.ovh_emulator(fault_500_created_rate=1.0)
def test_500_but_created(ovh_emulator):
    c = ovh_emulator.ovh_client()
    with pytest.raises(APIError) as exc:
        c.post(_base(ovh_emulator) + "/kube", region="GRA7", name="ghost")
    assert str(exc.value).startswith("Internal server error")
    r = signed(ovh_emulator, "POST", _base(ovh_emulator) + "/network/private", {"name": "ghost-net"})
    assert r.status_code == 500 and r.json() == {"message": "Internal server error"}
    # ...but both exist
    clusters = c.get(_base(ovh_emulator) + "/kube")
    assert len(clusters) == 1 and c.get(_base(ovh_emulator) + f"/kube/{clusters[0]}")["name"] == "ghost"
    assert [n["name"] for n in c.get(_base(ovh_emulator) + "/network/private")] == ["ghost-net"]
    writes = ovh_emulator.writes()
    assert [w["fault"] for w in writes] == ["500_created", "500_created"]
    assert writes[0]["resources"] == [clusters[0]]
    # non-create calls are not affected
    c.put(_base(ovh_emulator) + f"/kube/{clusters[0]}", name="renamed")


@pytest.mark.ovh_emulator(latency_ms=1500)
def test_latency(ovh_emulator):
    t0 = time.monotonic()
    assert signed(ovh_emulator, "GET", _base(ovh_emulator) + "/region").status_code == 200
    assert time.monotonic() - t0 >= 1.5
    assert ovh_emulator.requests()[-1]["latency_ms"] == 1500
    t0 = time.monotonic()
    requests.get(ovh_emulator.endpoint + "/auth/time", timeout=10)
    assert time.monotonic() - t0 < 1.5  # /auth is never slowed down
    ovh_emulator.set_faults(latency_ms=0)
    t0 = time.monotonic()
    signed(ovh_emulator, "GET", _base(ovh_emulator) + "/region")
    assert time.monotonic() - t0 < 1.5


def test_faults_from_environment(ovh_emulator_factory):
    import os

    env = dict(os.environ, OVH_EMULATOR_FAULT_429_RATE="1", OVH_EMULATOR_TRANSITION_SECONDS="7",
               OVH_EMULATOR_NOT_FOUND_AFTER_CREATE_SECONDS="3")
    emu = ovh_emulator_factory(env=env, transition_seconds=None)
    assert signed(emu, "GET", _base(emu) + "/region").status_code == 429
    settings = emu.admin("GET", "settings")
    assert settings["fault_429_rate"] == 1.0 and settings["transition_seconds"] == 7.0
    assert settings["not_found_after_create_seconds"] == 3.0


def test_invalid_fault_values_are_refused(ovh_emulator):
    from ovh_emulator.testing import EmulatorError

    with pytest.raises(EmulatorError):
        ovh_emulator.set_faults(fault_429_rate=1.5)
    with pytest.raises(EmulatorError):
        ovh_emulator.set_faults(transition_seconds=1)  # a setting, not a fault
    with pytest.raises(EmulatorError):
        ovh_emulator.set_settings(nonsense=1)
    assert ovh_emulator.set_settings(transition_seconds=0.1)["transition_seconds"] == 0.1
