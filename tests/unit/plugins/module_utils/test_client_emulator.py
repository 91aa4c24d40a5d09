"""The client layer against the OVH API emulator: real signatures, OAuth2, and the real error shapes."""

import pytest

from ovh_emulator.testing import EmulatorProcess

from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhApiError, OvhClient
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import Clock


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    with EmulatorProcess(state_dir=tmp_path_factory.mktemp("emu"), transition_seconds=0.2) as emulator:
        yield emulator


def signed(emu, **over):
    kw = dict(endpoint=emu.endpoint, application_key=emu.info["application_key"],
              application_secret=emu.info["application_secret"], consumer_key=emu.info["consumer_key"],
              clock=Clock(sleep=lambda s: None))
    kw.update(over)
    return OvhClient(**kw)


def test_signed_requests_are_accepted(emu):
    client = signed(emu)
    assert client.get("/cloud/project/%s/kube" % emu.service_name) == []
    assert client.get("/auth/currentCredential")["status"] == "validated"


def test_oauth2_client_credentials_on_a_url_endpoint(emu):
    client = OvhClient.from_params({"endpoint": emu.endpoint, "client_id": emu.info["client_id"],
                                    "client_secret": emu.info["client_secret"],
                                    "oauth2_token_url": emu.token_url}, clock=Clock(sleep=lambda s: None))
    assert client.get("/cloud/project/%s/kube" % emu.service_name) == []


def test_bad_oauth2_secret_fails_without_leaking_it(emu):
    client = OvhClient(endpoint=emu.endpoint, client_id=emu.info["client_id"], client_secret="wrong-secret-value",
                       oauth2_token_url=emu.token_url, clock=Clock(sleep=lambda s: None))
    with pytest.raises(OvhApiError) as err:
        client.get("/cloud/project/%s/kube" % emu.service_name)
    assert "wrong-secret-value" not in str(err.value)


@pytest.mark.parametrize("override,status,code", [
    ({"consumer_key": "not-a-consumer-key"}, 403, "INVALID_CREDENTIAL"),
    ({"application_key": "not-an-app-key"}, 403, "INVALID_KEY"),
    ({"application_secret": "not-the-secret"}, 400, "INVALID_SIGNATURE"),
])
def test_auth_failures_carry_code_and_query_id_and_are_not_retried(emu, override, status, code):
    client = signed(emu, **override)
    with pytest.raises(OvhApiError) as err:
        client.get("/cloud/project/%s/kube" % emu.service_name)
    failure = err.value.to_failure()
    assert failure["http_status"] == status
    assert failure["error_class"] == code
    assert failure["query_id"]
    assert client.stats["retries"] == 0
    for secret in override.values():
        assert secret not in str(failure)


def test_not_found_answers_in_ovh_shape(emu):
    client = signed(emu)
    with pytest.raises(OvhApiError) as err:
        client.get("/cloud/project/%s/kube/00000000-0000-0000-0000-000000000000" % emu.service_name)
    assert err.value.http_status == 404
    assert err.value.error_class and err.value.error_class.startswith("Client::NotFound")


def test_retries_converge_under_injected_faults(emu):
    client = signed(emu, max_attempts=12)
    start = max([e["seq"] for e in emu.requests()] or [0])
    emu.set_faults(fault_429_rate=0.3, fault_5xx_rate=0.2, seed=7)
    try:
        for dummy in range(10):
            assert client.get("/cloud/project/%s/kube" % emu.service_name) == []
    finally:
        emu.set_faults(fault_429_rate=0, fault_5xx_rate=0)
    assert client.stats["retries"] > 0
    # Every injected fault was retried once, and nothing else.
    assert len([e for e in emu.requests(since=start) if e.get("fault")]) == client.stats["retries"]
