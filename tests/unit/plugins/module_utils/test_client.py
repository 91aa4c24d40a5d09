"""The client layer against a scripted HTTP server on loopback (real sockets, real python-ovh)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.keikolatam.gitops.plugins.module_utils._client import (
    OvhAmbiguousWrite,
    OvhApiError,
    OvhClient,
    OvhConfigError,
    resolve_settings,
)

from module_fakes import FakeClock


class Script:
    """Answers requests from a list of (status, body) in order; records what it got."""

    def __init__(self):
        self.answers = []
        self.seen = []


@pytest.fixture
def server():
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            if self.path.endswith("/auth/time"):
                payload, status = b"1700000000", 200
            else:
                script.seen.append((self.command, self.path, body, dict(self.headers)))
                status, obj = script.answers.pop(0) if script.answers else (200, {})
                payload = json.dumps(obj).encode() if obj is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Ovh-Queryid", "EU.ext-1.test%d" % len(script.seen))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    script.url = "http://127.0.0.1:%d/1.0" % httpd.server_address[1]
    yield script
    httpd.shutdown()


def make_client(url, **kw):
    clock = FakeClock()
    kw.setdefault("max_attempts", 5)
    client = OvhClient(endpoint=url, application_key="ak", application_secret="as", consumer_key="ck",
                       clock=clock, **kw)
    return client, clock.sleeps


def test_signed_request_reaches_the_url_endpoint(server):
    server.answers = [(200, {"id": "x"})]
    client, dummy = make_client(server.url)
    assert client.get("/cloud/project/p/kube/x") == {"id": "x"}
    method, path, dummy, headers = server.seen[0]
    assert (method, path) == ("GET", "/1.0/cloud/project/p/kube/x")
    assert headers["X-Ovh-Signature"].startswith("$1$")
    assert headers["X-Ovh-Application"] == "ak"


def test_429_and_5xx_are_retried_with_growing_jittered_delays(server):
    server.answers = [(429, {"message": "Too many requests"}), (503, {"message": "busy"}),
                      (500, {"message": "Internal server error"}), (200, {"ok": True})]
    client, sleeps = make_client(server.url)
    assert client.get("/x") == {"ok": True}
    assert client.stats == {"retries": 3} and len(server.seen) == 4
    assert len(sleeps) == 3
    # base 0.5 s: attempt n sleeps within [c/2, c] with c = 0.5 * 2**(n-1)
    for n, delay in enumerate(sleeps, start=1):
        ceiling = 0.5 * 2 ** (n - 1)
        assert ceiling / 2 <= delay <= ceiling


def test_busy_integrity_error_is_retried_but_a_plain_400_is_not(server):
    server.answers = [(400, {"class": "Client::BadRequest",
                             "message": "[IntegrityError] 400: Cannot delete NodePool: NodePool status is UPSCALING"}),
                      (200, None)]
    client, dummy = make_client(server.url)
    client.delete("/pool")
    assert client.stats["retries"] == 1

    server.answers = [(400, {"class": "Client::BadRequest", "message": "Invalid flavor"})]
    with pytest.raises(OvhApiError) as err:
        client.put("/pool", {"desiredNodes": 1})
    assert err.value.http_status == 400 and err.value.error_class == "Client::BadRequest"
    assert client.stats["retries"] == 1


def test_already_exists_conflict_is_not_busy(server):
    server.answers = [(409, {"class": "Client::Conflict::PostgresUserAlreadyExist",
                             "message": "User already exists"})]
    client, dummy = make_client(server.url)
    with pytest.raises(OvhApiError) as err:
        client.post("/user", {"name": "u"})
    assert err.value.is_conflict and not err.value.is_busy
    assert len(server.seen) == 1


def test_a_create_that_got_a_5xx_is_never_resent(server):
    server.answers = [(500, {"message": "Internal server error"}), (200, {"id": "dup"})]
    client, dummy = make_client(server.url)
    with pytest.raises(OvhAmbiguousWrite) as err:
        client.post("/kube", {"name": "c"})
    assert err.value.ambiguous and err.value.http_status == 500
    assert [s[0] for s in server.seen] == ["POST"]


def test_a_create_that_got_429_is_resent(server):
    server.answers = [(429, {"message": "slow down"}), (200, {"id": "c1"})]
    client, dummy = make_client(server.url)
    assert client.post("/kube", {"name": "c"}) == {"id": "c1"}
    assert len(server.seen) == 2


def test_idempotent_post_is_retried_after_5xx(server):
    server.answers = [(502, {"message": "Bad gateway"}), (200, {"content": "kubeconfig"})]
    client, dummy = make_client(server.url)
    assert client.post("/kube/x/kubeconfig", idempotent=True) == {"content": "kubeconfig"}


def test_attempts_are_bounded(server):
    server.answers = [(503, {"message": "down"})] * 10
    client, sleeps = make_client(server.url, max_attempts=3)
    with pytest.raises(OvhApiError) as err:
        client.get("/x")
    assert err.value.http_status == 503
    assert len(server.seen) == 3 and len(sleeps) == 2


def test_failure_carries_query_id_and_class(server):
    server.answers = [(404, {"class": "Client::NotFound", "message": "This service does not exist"})]
    client, dummy = make_client(server.url)
    with pytest.raises(OvhApiError) as err:
        client.get("/cloud/project/p/kube/nope")
    failure = err.value.to_failure()
    assert failure["http_status"] == 404
    assert failure["error_class"] == "Client::NotFound"
    assert failure["query_id"] == "EU.ext-1.test1"
    assert failure["message"] == "This service does not exist"


def test_not_found_is_never_retried_by_the_client(server):
    """A 404 right after a create is waited for by the waiter (until_ready(appear_within=...)), not resent here."""
    server.answers = [(404, {"message": "not yet"}), (200, {"id": "n"})]
    client, sleeps = make_client(server.url)
    assert client.get_or_none("/n") is None
    assert len(server.seen) == 1 and sleeps == []


def test_connection_refused_create_is_not_ambiguous():
    client, dummy = make_client("http://127.0.0.1:9/1.0", max_attempts=2)
    with pytest.raises(OvhApiError) as err:
        client.post("/kube", {"name": "c"})
    assert err.value.http_status is None and not err.value.ambiguous
    assert client.stats["retries"] == 1


@pytest.mark.parametrize("params,message", [
    ({"endpoint": "ovh-eu"}, "Missing OVH credentials: application_key, application_secret, consumer_key"),
    ({"endpoint": "ovh-mars", "application_key": "a", "application_secret": "b", "consumer_key": "c"},
     "Unknown endpoint 'ovh-mars'"),
    ({"endpoint": "ovh-eu", "client_id": "id"}, "OAuth2 needs both client_id and client_secret"),
    ({"endpoint": "kimsufi-eu", "client_id": "id", "client_secret": "s"}, "OAuth2 client credentials work with"),
    ({"endpoint": "ovh-eu", "client_id": "id", "client_secret": "s", "application_key": "a",
      "application_secret": "b"}, "not both"),
])
def test_bad_settings_fail_before_any_request(monkeypatch, tmp_path, params, message):
    for name in ("ENDPOINT", "APPLICATION_KEY", "APPLICATION_SECRET", "CONSUMER_KEY", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.delenv("OVH_" + name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(OvhConfigError) as err:
        resolve_settings(params)
    assert message in str(err.value)


def test_settings_fall_back_to_the_environment(monkeypatch):
    monkeypatch.setenv("OVH_ENDPOINT", "http://127.0.0.1:1/1.0")
    monkeypatch.setenv("OVH_APPLICATION_KEY", "envak")
    monkeypatch.setenv("OVH_APPLICATION_SECRET", "envas")
    monkeypatch.setenv("OVH_CONSUMER_KEY", "envck")
    monkeypatch.delenv("OVH_CLIENT_ID", raising=False)
    monkeypatch.delenv("OVH_CLIENT_SECRET", raising=False)
    s = resolve_settings({"application_key": "optak"})
    assert s["endpoint"] == "http://127.0.0.1:1/1.0"
    assert (s["application_key"], s["application_secret"], s["consumer_key"]) == ("optak", "envas", "envck")


def test_oauth2_on_a_url_endpoint_derives_the_token_url(monkeypatch):
    for name in ("APPLICATION_KEY", "APPLICATION_SECRET", "CONSUMER_KEY"):
        monkeypatch.delenv("OVH_" + name, raising=False)
    s = resolve_settings({"endpoint": "http://127.0.0.1:8080/1.0", "client_id": "i", "client_secret": "s"})
    assert s["oauth2_token_url"] == "http://127.0.0.1:8080/auth/oauth2/token"
    assert s["application_key"] is None
