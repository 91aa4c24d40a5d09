"""The Argo CD client (plugins/module_utils/_argocd.py) against a loopback HTTP server that answers what the real
Argo CD API server v3.6.1 answered (tests/unit/test_argocd_recorded.json): the session, the bearer token, the
retries on 5xx and connection errors (on a clock that never sleeps), no retry on 401/403, the 403 Argo CD gives
for an application that does not exist, and no password or token in any error."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.keikolatam.gitops.plugins.module_utils import _argocd
from ansible_collections.keikolatam.gitops.plugins.module_utils._argocd import (
    ArgoCDClient, ArgoCDError, ArgoCDNotFound, validate_connection, validate_name)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "plugins", "modules"))
from module_fakes import FakeClock  # noqa: E402  pylint: disable=wrong-import-position

with open(os.path.join(HERE, "test_argocd_recorded.json")) as _f:
    RECORDED = json.load(_f)

PASSWORD = "s3cret-Passw0rd-of-admin"
SESSION = "eyJhbGciOiJIUzI1NiJ9.session-token-for-tests.sig"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.api-token-for-tests.sig"


class ArgoStub(object):
    """A loopback HTTP server: ``routes`` maps (method, path) to a list of answers (status, body) used in turn (the
    last one repeats), or to a callable ``(request) -> (status, body)``; ``requests`` logs what was sent."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                path, _sep, query = self.path.partition("?")
                req = {"method": self.command, "path": path, "query": query, "body": json.loads(body) if body else None,
                       "authorization": self.headers.get("Authorization")}
                stub.requests.append(req)
                route = stub.routes.get((self.command, path))
                if route is None:
                    status, payload = 404, {"error": "Not Found", "code": 5, "message": "Not Found"}
                elif callable(route):
                    status, payload = route(req)
                else:
                    status, payload = route.pop(0) if len(route) > 1 else route[0]
                data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.handle_error = lambda request, address: None  # a client that gave up (the timeout test)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def recorded(self, method, path, *names):
        self.routes[(method, path)] = [(RECORDED[n]["status"], RECORDED[n]["body"]) for n in names]

    def sent(self, method=None, path=None):
        return [r for r in self.requests if (method is None or r["method"] == method)
                and (path is None or r["path"] == path)]


@pytest.fixture(name="stub")
def argo_stub():
    stub = ArgoStub()
    stub.thread.start()
    stub.routes[("POST", "/api/v1/session")] = lambda req: (
        (200, {"token": SESSION}) if req["body"] == {"username": "admin", "password": PASSWORD}
        else (RECORDED["login_refused"]["status"], RECORDED["login_refused"]["body"]))
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


def client(stub, **kwargs):
    kwargs.setdefault("password", PASSWORD)
    kwargs.setdefault("username", "admin")
    return ArgoCDClient(stub.url, clock=kwargs.pop("clock", None) or FakeClock(), **kwargs)


def test_a_session_from_the_password_then_bearer_requests(stub):
    stub.recorded("GET", "/api/v1/applications/auto", "synced")
    c = client(stub)
    app = c.application("auto")
    assert app["status"]["sync"]["status"] == "Synced"
    assert [r["path"] for r in stub.requests] == ["/api/v1/session", "/api/v1/applications/auto"]
    assert stub.requests[0]["authorization"] is None
    assert stub.requests[1]["authorization"] == "Bearer " + SESSION
    c.application("auto")
    assert len(stub.sent("POST", "/api/v1/session")) == 1  # one session per client


def test_a_token_is_sent_as_bearer_without_a_session(stub):
    stub.recorded("GET", "/api/v1/applications/auto", "synced")
    client(stub, password=None, token=TOKEN).application("auto")
    assert stub.sent("POST", "/api/v1/session") == []
    assert stub.requests[0]["authorization"] == "Bearer " + TOKEN
    client(stub, token=TOKEN).application("auto")  # a password too (module_defaults): the token wins
    assert stub.sent("POST", "/api/v1/session") == []
    assert {r["authorization"] for r in stub.requests} == {"Bearer " + TOKEN}


def test_refresh_is_a_query_parameter(stub):
    stub.recorded("GET", "/api/v1/applications/auto", "synced")
    c = client(stub)
    c.application("auto", refresh="hard")
    c.application("auto", refresh="no")
    assert [r["query"] for r in stub.sent("GET")] == ["refresh=hard", ""]


def test_a_refused_password_fails_once_naming_the_user_not_the_password(stub):
    clock = FakeClock()
    c = client(stub, password="not-" + PASSWORD, clock=clock)
    with pytest.raises(ArgoCDError) as err:
        c.application("auto")
    assert err.value.status == 401
    assert "refused the username and password of user 'admin'" in err.value.message
    assert "Invalid username or password" in err.value.message
    assert PASSWORD not in str(err.value) and "not-" + PASSWORD not in json.dumps(err.value.to_result())
    assert len(stub.requests) == 1 and clock.sleeps == [] and c.retries == 0


def test_a_refused_token_is_not_retried(stub):
    stub.recorded("GET", "/api/v1/applications/auto", "no_session")
    c = client(stub, password=None, token=TOKEN)
    with pytest.raises(ArgoCDError) as err:
        c.application("auto")
    assert err.value.status == 401 and "no session information" in err.value.message
    assert TOKEN not in err.value.message
    assert len(stub.requests) == 1


def test_an_expired_session_is_renewed_once(stub):
    stub.routes[("GET", "/api/v1/applications/auto")] = [
        (RECORDED["no_session"]["status"], RECORDED["no_session"]["body"]),
        (RECORDED["synced"]["status"], RECORDED["synced"]["body"])]
    app = client(stub).application("auto")
    assert app["metadata"]["name"] == "auto"
    assert [r["path"] for r in stub.requests] == [
        "/api/v1/session", "/api/v1/applications/auto", "/api/v1/session", "/api/v1/applications/auto"]


def test_an_unknown_application_answers_403_and_reads_as_not_found(stub):
    stub.recorded("GET", "/api/v1/applications/nope", "missing")
    with pytest.raises(ArgoCDNotFound) as err:
        client(stub).application("nope")
    assert err.value.status == 403
    assert err.value.message.startswith("Argo CD application nope not found, or user 'admin' may not read it")
    gone = {"error": "x", "code": 5, "message": 'applications.argoproj.io "gone" not found'}
    stub.routes[("GET", "/api/v1/applications/gone")] = [(404, gone)]
    with pytest.raises(ArgoCDNotFound) as err:
        client(stub).application("gone")
    assert err.value.message.startswith("Argo CD application gone not found")


def test_a_sync_refused_by_rbac_says_so(stub):
    stub.recorded("POST", "/api/v1/applications/auto/sync", "missing")
    with pytest.raises(ArgoCDError) as err:
        client(stub).sync("auto")
    assert not isinstance(err.value, ArgoCDNotFound)
    assert "user 'admin' may not sync Argo CD application auto" in err.value.message


def test_5xx_is_retried_with_backoff_until_it_answers(stub):
    stub.routes[("GET", "/api/v1/applications/auto")] = [
        (503, "upstream connect error"), (500, {"error": "x", "code": 13, "message": "etcdserver: leader changed"}),
        (RECORDED["synced"]["status"], RECORDED["synced"]["body"])]
    clock = FakeClock()
    c = client(stub, clock=clock)
    assert c.application("auto")["metadata"]["name"] == "auto"
    assert c.retries == 2 and len(clock.sleeps) == 2
    assert 0.25 <= clock.sleeps[0] <= 0.5 and 0.5 <= clock.sleeps[1] <= 1.0  # jittered, doubling


def test_retries_are_bounded(stub):
    stub.routes[("GET", "/api/v1/applications/auto")] = [(502, "bad gateway")]
    clock = FakeClock()
    c = client(stub, clock=clock)
    with pytest.raises(ArgoCDError) as err:
        c.application("auto")
    assert err.value.status == 502 and "(after 4 attempts)" in err.value.message
    assert len(stub.sent("GET")) == 4 and c.retries == 3 and len(clock.sleeps) == 3


def test_a_server_that_does_not_listen_is_retried_then_not_reachable():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    clock = FakeClock()
    c = ArgoCDClient("http://127.0.0.1:%d" % port, username="admin", password=PASSWORD, clock=clock)
    with pytest.raises(ArgoCDError) as err:
        c.application("auto")
    assert err.value.status is None
    assert "Argo CD API at http://127.0.0.1:%d not reachable (POST /api/v1/session)" % port in err.value.message
    assert "after 4 attempts" in err.value.message and c.retries == 3
    assert PASSWORD not in err.value.message


def test_a_request_that_gets_no_answer_in_time_is_retried(stub):
    gate = threading.Event()

    def slow(req):
        gate.wait(2)
        return 200, RECORDED["synced"]["body"]

    stub.routes[("GET", "/api/v1/applications/auto")] = slow
    c = client(stub, timeout=0.2, max_attempts=2)
    try:
        with pytest.raises(ArgoCDError) as err:
            c.application("auto")
    finally:
        gate.set()
    assert err.value.status is None and "not reachable" in err.value.message and c.retries == 1


def test_another_operation_in_progress_is_recognised(stub):
    stub.recorded("POST", "/api/v1/applications/manual/sync", "in_progress")
    with pytest.raises(ArgoCDError) as err:
        client(stub).sync("manual")
    assert err.value.status == 400 and err.value.in_progress and err.value.code == 9
    assert len(stub.sent("POST", "/api/v1/applications/manual/sync")) == 1


def test_the_sync_request_body(stub):
    stub.recorded("POST", "/api/v1/applications/manual/sync", "sync_response")
    c = client(stub)
    app = c.sync("manual", revision="abc1234", prune=True, strategy="apply")
    assert app["operation"]["sync"]["revision"]
    c.sync("manual")
    bodies = [r["body"] for r in stub.sent("POST", "/api/v1/applications/manual/sync")]
    assert bodies == [{"name": "manual", "prune": True, "dryRun": False, "revision": "abc1234",
                       "strategy": {"apply": {"force": False}}},
                      {"name": "manual", "prune": False, "dryRun": False}]


def test_a_server_message_that_echoes_a_secret_is_scrubbed(stub):
    stub.routes[("GET", "/api/v1/applications/auto")] = [
        (400, {"error": "x", "code": 3, "message": "bad request with %s and %s inside" % (PASSWORD, SESSION)})]
    with pytest.raises(ArgoCDError) as err:
        client(stub).application("auto")
    assert PASSWORD not in err.value.message and SESSION not in err.value.message
    assert "********" in err.value.message


def test_an_answer_that_is_not_json(stub):
    stub.routes[("GET", "/api/v1/applications/auto")] = [(200, "<html>the UI</html>")]
    with pytest.raises(ArgoCDError) as err:
        client(stub).application("auto")
    assert "not JSON (is %s the API server?)" % stub.url in err.value.message


def test_managed_resources_are_the_items(stub):
    stub.recorded("GET", "/api/v1/applications/auto/managed-resources", "synced_managed")
    items = client(stub).managed_resources("auto")
    assert [(i["kind"], i["name"]) for i in items] == [("Deployment", "web")]


@pytest.mark.parametrize("params, problem", [
    ({"api_url": "argocd.example.com"}, "api_url must be an http:// or https:// URL"),
    ({"api_url": "ftp://argocd.example.com"}, "api_url must be an http:// or https:// URL"),
    ({"api_url": "https://admin:pw@argocd.example.com"}, "api_url must not hold credentials"),
    ({"api_url": "https://argocd.example.com/?x=1"}, "must not have a query"),
    ({"api_url": "https://argocd.example.com", "timeout": 0}, "timeout must be a number of seconds greater than 0"),
    ({"api_url": "https://argocd.example.com", "password": ""}, "password must not be empty"),
    ({"api_url": "https://argocd.example.com", "token": ""}, "token must not be empty"),
    ({"api_url": "https://argocd.example.com", "password": "x", "username": ""}, "username must not be empty"),
])
def test_bad_connection_options(params, problem):
    problems = validate_connection(dict({"username": "admin", "timeout": 30}, **params))
    assert any(problem in p for p in problems), problems
    assert not any("pw" in p for p in problems if "credentials" in p)


def test_good_connection_options_and_names():
    assert validate_connection({"api_url": "https://example.com/argocd", "username": "admin", "password": "x",
                                "timeout": 5}) == []
    assert validate_name("keiko-staging") == [] and validate_name("a.b-c9") == []
    for bad in ("", "Keiko", "-x", "x_y", "a/b", "a" * 254):
        assert validate_name(bad) and "DNS-1123" in validate_name(bad)[0]


def test_connection_args_are_what_the_doc_fragment_documents():
    import yaml  # pylint: disable=import-outside-toplevel
    from ansible_collections.keikolatam.gitops.plugins.doc_fragments.argocd import ModuleDocFragment  # pylint: disable=import-outside-toplevel

    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert set(documented) == set(_argocd.CONNECTION_ARGS)
    for name, spec in _argocd.CONNECTION_ARGS.items():
        assert documented[name]["type"] == spec["type"], name
        assert documented[name].get("default") == spec.get("default"), name
        assert bool(documented[name].get("required")) == bool(spec.get("required")), name


def module_doc(path):
    import ast  # pylint: disable=import-outside-toplevel
    import yaml  # pylint: disable=import-outside-toplevel

    with open(path) as f:
        tree = ast.parse(f.read())
    docs = {node.targets[0].id: yaml.safe_load(node.value.value) for node in tree.body
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) in ("DOCUMENTATION", "RETURN")}
    return docs["DOCUMENTATION"], docs["RETURN"]


def test_the_argocd_action_group_is_every_argocd_module_and_each_takes_the_connection_options():
    import yaml  # pylint: disable=import-outside-toplevel

    repo = os.path.dirname(os.path.dirname(HERE))
    with open(os.path.join(repo, "meta", "runtime.yml")) as f:
        group = set(yaml.safe_load(f)["action_groups"]["argocd"])
    folder = os.path.join(repo, "plugins", "modules")
    modules = set(n[:-3] for n in os.listdir(folder) if n.startswith("argocd_") and n.endswith(".py"))
    assert modules and group == modules
    for name in modules:
        doc, dummy = module_doc(os.path.join(folder, name + ".py"))
        assert "keikolatam.gitops.argocd" in doc["extends_documentation_fragment"], name


def test_the_application_result_is_what_return_documents():
    repo = os.path.dirname(os.path.dirname(HERE))
    dummy, returned = module_doc(os.path.join(repo, "plugins", "modules", "argocd_application_info.py"))
    app = _argocd.summarize(RECORDED["synced"]["body"], RECORDED["synced_managed"]["body"]["items"])
    assert set(app) == set(returned["application"]["contains"])
    assert set(app["workloads"]["web"]) == {"images", "health", "message", "live"}
    assert set(app["history"][0]) == {"id", "revision", "deployed_at"}
