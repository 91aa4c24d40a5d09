"""A refused credential is never retried, and the two kinds of credentials do not get mixed up by python-ovh's
environment fallbacks (a token endpoint on loopback, real python-ovh)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhApiError, OvhClient
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import OvhModule


@pytest.fixture
def token_endpoint():
    """``status`` answers every token request (``tokens`` counts them); API requests answer ``[]``."""
    state = {"status": 401, "tokens": 0, "api": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.endswith("/auth/oauth2/token"):
                state["tokens"] += 1
                status = state["status"]
                body = {"access_token": "t", "token_type": "Bearer", "expires_in": 3600} if status == 200 else \
                    {"error": "invalid_client", "error_description": "client authentication failed"}
            else:
                state["api"] += 1
                status, body = 200, []
            payload = json.dumps(body).encode() if status != 503 else b"Service Unavailable"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    state["url"] = "http://127.0.0.1:%d/1.0" % httpd.server_address[1]
    yield state
    httpd.shutdown()


def _oauth2_client(url, clock):
    return OvhClient(endpoint=url, client_id="svc", client_secret="not-the-secret", max_attempts=8, clock=clock)


def test_a_refused_client_secret_is_not_retried(token_endpoint, clock, monkeypatch):
    # An application key in the environment does not stop explicit OAuth2 credentials (python-ovh refuses both).
    for name in ("APPLICATION_KEY", "APPLICATION_SECRET", "CONSUMER_KEY"):
        monkeypatch.setenv("OVH_" + name, "from-the-environment")
    client = _oauth2_client(token_endpoint["url"], clock)
    with pytest.raises(OvhApiError) as exc:
        client.get("/cloud/project")
    assert exc.value.http_status == 401 and exc.value.error_class == "OAuth2FailureError"
    assert token_endpoint["tokens"] == 1 and token_endpoint["api"] == 0 and clock.sleeps == []
    assert client.stats["retries"] == 0
    assert "client_id or client_secret is wrong" in OvhModule.describe_failure(exc.value)


def test_a_token_endpoint_that_is_down_for_a_while_is_retried(token_endpoint, clock):
    token_endpoint["status"] = 503
    client = _oauth2_client(token_endpoint["url"], clock)
    with pytest.raises(OvhApiError) as exc:
        client.get("/cloud/project")
    assert exc.value.http_status == 503 and token_endpoint["tokens"] == 8 and len(clock.sleeps) == 7
