"""argocd_application_sync's sequence (refresh, sync, wait) against a loopback server that answers, request after
request, what the real Argo CD v3.6.1 answered during a sync (tests/unit/test_argocd_recorded.json), on a clock that
never sleeps: what is sent, when it stops, and what it returns or fails with."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.keikolatam.gitops.plugins.modules import argocd_application_sync as mod
from test_argocd_client import PASSWORD, RECORDED, FakeClock, argo_stub  # noqa: F401  pylint: disable=unused-import

SYNC = "/api/v1/applications/manual/sync"
APP = "/api/v1/applications/manual"


class Exited(Exception):
    def __init__(self, failed, result):
        super(Exited, self).__init__(result.get("msg"))
        self.failed = failed
        self.result = result


class FakeModule(object):
    def __init__(self, params, check_mode=False):
        self.params = params
        self.check_mode = check_mode
        self.warnings = []

    def debug(self, text):
        pass

    def warn(self, text):
        self.warnings.append(text)

    def exit_json(self, **result):
        raise Exited(False, result)

    def fail_json(self, **result):
        raise Exited(True, result)


def params(stub, **kw):
    p = dict(api_url=stub.url, username="admin", password=PASSWORD, token=None, validate_certs=True, timeout=30,
             name="manual", names=None, refresh="normal", sync=True, revision=None, prune=False, strategy="hook", wait=True,
             wait_timeout=60, wait_for_revision=None, fail_on_degraded=False)
    p.update(kw)
    return p


def run(stub, check_mode=False, **kw):
    module = FakeModule(params(stub, **kw), check_mode=check_mode)
    runner = mod.ApplicationSync(module, clock=FakeClock())
    with pytest.raises(Exited) as out:
        try:
            runner.run()
        except mod.ArgoCDError as exc:
            mod.fail_with(module, exc, runner.client)
    out.value.warnings = module.warnings
    return out.value


def body(name):
    return (RECORDED[name]["status"], copy.deepcopy(RECORDED[name]["body"]))


def app_states(stub, refreshed, *then, app=APP):
    """GET ?refresh= answers ``refreshed``; plain GETs answer ``then`` in turn (the last one repeats)."""
    later = [body(n) for n in then]
    name = app.rsplit("/", 1)[1]

    def named(answer):
        answer[1]["metadata"]["name"] = name
        return answer

    def answer(req):
        if "refresh=" in req["query"]:
            return named(body(refreshed))
        return named(later.pop(0) if len(later) > 1 else later[0])

    stub.routes[("GET", app)] = answer
    stub.routes[("GET", app + "/managed-resources")] = [body("degraded_managed")]


def test_out_of_sync_is_synced_and_waited_for(stub):
    app_states(stub, "outofsync", "running", "running", "after_sync")
    stub.routes[("POST", SYNC)] = [body("sync_response")]
    out = run(stub, wait_for_revision="6fead16")
    assert not out.failed, out.result
    assert out.result["changed"] is True and out.result["sync_started"] is True
    assert out.result["application"]["sync_status"] == "Synced"
    assert out.result["application"]["revision"].startswith("6fead16")
    assert [(r["method"], r["path"], r["query"]) for r in stub.requests] == [
        ("POST", "/api/v1/session", ""), ("GET", APP, "refresh=normal"), ("POST", SYNC, ""),
        ("GET", APP, ""), ("GET", APP, ""), ("GET", APP, ""), ("GET", APP + "/managed-resources", "")]
    assert out.result["waited"]["status"].startswith("sync Synced, health Healthy, revision 6fead1618c5f")


def test_a_synced_application_is_not_synced_again(stub):
    app_states(stub, "after_sync", "after_sync")
    out = run(stub)
    assert not out.failed and out.result["changed"] is False and out.result["sync_started"] is False
    assert stub.sent("POST", SYNC) == []


def test_another_operation_in_progress_is_waited_for_not_an_error(stub):
    # the refresh started an automated sync between our read and our POST
    app_states(stub, "outofsync", "running", "running", "after_sync")
    stub.routes[("POST", SYNC)] = [body("in_progress")]
    out = run(stub)
    assert not out.failed, out.result
    assert out.result["changed"] is False and out.result["application"]["health_status"] == "Healthy"
    assert len(stub.sent("POST", SYNC)) == 1


def test_a_running_operation_is_waited_for_before_deciding(stub):
    app_states(stub, "running", "running", "outofsync", "running", "after_sync")
    stub.routes[("POST", SYNC)] = [body("sync_response")]
    out = run(stub)
    assert not out.failed and out.result["sync_started"] is True
    methods = [(r["method"], r["path"]) for r in stub.requests[1:]]
    assert methods.index(("POST", SYNC)) == 3  # after the refresh and two reads: not while it ran


def test_sync_false_refreshes_and_waits_only(stub):
    app_states(stub, "outofsync", "running", "after_sync")
    out = run(stub, sync=False)
    assert not out.failed and out.result["changed"] is False
    assert stub.sent("POST", SYNC) == []
    assert stub.sent("GET", APP)[0]["query"] == "refresh=normal"


def test_check_mode_reads_only_and_predicts_the_sync(stub):
    app_states(stub, "outofsync", "outofsync")
    out = run(stub, check_mode=True)
    assert not out.failed and out.result["changed"] is True and out.result["sync_started"] is True
    assert [(r["method"], r["query"]) for r in stub.requests if r["path"] == APP] == [("GET", "")]
    assert stub.sent("POST", SYNC) == []
    stub.requests.clear()
    app_states(stub, "after_sync", "after_sync")
    assert run(stub, check_mode=True).result["changed"] is False


def test_degraded_fails_fast_with_the_deployments_message(stub):
    app_states(stub, "outofsync", "running", "degraded")
    stub.routes[("POST", SYNC)] = [body("sync_response")]
    out = run(stub, fail_on_degraded=True, wait_timeout=600)
    assert out.failed
    assert out.result["msg"].startswith("Argo CD application manual failed: health Degraded")
    assert 'Deployment web: Degraded: Deployment "web" exceeded its progress deadline' in out.result["msg"]
    assert out.result["unhealthy"] == ['Deployment web: Degraded: Deployment "web" exceeded its progress deadline']
    assert out.result["application"]["health_status"] == "Degraded"
    assert out.result["waited"]["seconds"] < 600  # it did not wait for the timeout
    assert len(stub.sent("GET", APP)) == 3


def test_without_fail_on_degraded_it_waits_until_the_timeout_with_the_last_status(stub):
    app_states(stub, "outofsync", "running", "degraded")
    stub.routes[("POST", SYNC)] = [body("sync_response")]
    out = run(stub, wait_timeout=30)
    assert out.failed
    assert out.result["msg"].startswith("Timed out after 30s waiting for Argo CD application manual to be Synced "
                                        "and Healthy; last status: sync Synced, health Degraded")
    assert out.result["application"]["workloads"]["web"]["health"] == "Degraded"
    assert out.result["waited"]["seconds"] == pytest.approx(30, abs=0.01)


def test_a_sync_that_ends_in_error_fails(stub):
    app_states(stub, "outofsync", "running", "operation_error")
    stub.routes[("POST", SYNC)] = [body("sync_response")]
    out = run(stub)
    assert out.failed and "the sync operation ended Error: ComparisonError" in out.result["msg"]
    assert out.result["sync_started"] is True


def test_wait_for_revision_times_out_at_another_commit(stub):
    app_states(stub, "after_sync", "after_sync")
    stub.routes[("POST", SYNC)] = [body("sync_response")]
    out = run(stub, wait_for_revision="0123abcd", wait_timeout=10)
    assert out.failed
    assert "to be Synced and Healthy at revision 0123abcd; last status: sync Synced, health Healthy, " \
           "revision 6fead1618c5f" in out.result["msg"]
    assert len(stub.sent("POST", SYNC)) == 1  # not at that commit: a sync was started


def test_wait_false_returns_once_the_sync_started(stub):
    app_states(stub, "outofsync", "running")
    stub.routes[("POST", SYNC)] = [body("sync_response")]
    out = run(stub, wait=False)
    assert not out.failed and out.result["sync_started"] is True and "waited" not in out.result
    assert len(stub.sent("GET", APP)) == 1


def test_an_unknown_application(stub):
    stub.routes[("GET", APP)] = [body("missing")]
    out = run(stub)
    assert out.failed and out.result["msg"].startswith("Argo CD application manual not found, or user 'admin'")
    assert out.result["failure"]["status"] == 403


@pytest.mark.parametrize("bad, message", [
    ({"wait_timeout": 0}, "wait_timeout must be a number of seconds greater than 0"),
    ({"wait_for_revision": "main"}, "wait_for_revision must be a git commit sha"),
    ({"name": "Not_A_Name"}, "name must be the name of an Argo CD Application"),
    ({"api_url": "argocd:8080"}, "api_url must be an http:// or https:// URL"),
    ({"timeout": -1}, "timeout must be a number of seconds greater than 0"),
    ({"revision": "aaaaaaa1", "wait_for_revision": "bbbbbbb2"}, "name different commits"),
])
def test_bad_input_fails_before_any_request(stub, bad, message):
    out = run(stub, **bad)
    assert out.failed and message in out.result["msg"]
    assert stub.requests == []
    assert PASSWORD not in str(out.result)


def test_the_results_are_what_return_documents(stub):
    import ast  # pylint: disable=import-outside-toplevel
    import yaml  # pylint: disable=import-outside-toplevel

    with open(mod.__file__) as f:
        tree = ast.parse(f.read())
    documented = next(yaml.safe_load(n.value.value) for n in tree.body
                      if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "RETURN")
    app_states(stub, "outofsync", "running", "after_sync")
    stub.routes[("POST", SYNC)] = [body("sync_response")]
    ok = run(stub).result
    assert set(ok) - {"changed"} == {"application", "sync_started", "waited", "retries"} <= set(documented)
    app_states(stub, "outofsync", "running", "degraded")
    failed = run(stub, fail_on_degraded=True).result
    assert set(failed) - {"changed", "msg"} == {"application", "sync_started", "waited", "unhealthy", "retries"}
    stub.routes[("GET", APP)] = [body("missing")]
    refused = run(stub).result
    assert set(refused) - {"changed", "msg"} <= set(documented) and "failure" in refused


def test_a_sync_to_a_given_commit_waits_for_its_operation_there(stub):
    synced_there = body("after_sync")
    synced_there[1]["status"]["sync"]["status"] = "OutOfSync"  # compared with targetRevision (main)
    sha = synced_there[1]["status"]["operationState"]["syncResult"]["revision"]
    later = [body("outofsync"), body("running"), synced_there]
    stub.routes[("GET", APP)] = lambda req: later.pop(0) if len(later) > 1 else later[0]
    stub.routes[("GET", APP + "/managed-resources")] = [body("degraded_managed")]
    stub.routes[("POST", SYNC)] = [body("sync_response")]
    out = run(stub, revision=sha)
    assert not out.failed, out.result.get("msg")
    assert out.result["sync_started"] is True
    assert stub.sent("POST", SYNC)[0]["body"]["revision"] == sha


OTHER = "/api/v1/applications/other"


def test_several_applications_are_synced_then_waited_for_together(stub):
    app_states(stub, "outofsync", "running", "after_sync")
    app_states(stub, "outofsync", "running", "running", "running", "after_sync", app=OTHER)
    stub.routes[("POST", SYNC)] = [body("sync_response")]
    stub.routes[("POST", OTHER + "/sync")] = [body("sync_response")]
    out = run(stub, name=None, names=["manual", "other"], wait_for_revision="6fead16")
    assert not out.failed, out.result
    assert out.result["sync_started"] is True and "application" not in out.result
    assert [a["name"] for a in out.result["applications"]] == ["manual", "other"]
    sent = [(r["method"], r["path"], r["query"]) for r in stub.requests[1:]]
    # both refreshed and synced first, then read together until each is ready; a ready one is not read again
    assert sent[:4] == [("GET", APP, "refresh=normal"), ("POST", SYNC, ""), ("GET", OTHER, "refresh=normal"),
                        ("POST", OTHER + "/sync", "")]
    polls = [path for method, path, query in sent[4:] if method == "GET" and not path.endswith("resources")]
    assert polls == [APP, OTHER, APP, OTHER, OTHER, OTHER]
    assert out.result["waited"]["status"] == "all 2 ready"


def test_one_of_several_degraded_fails_the_task_naming_it(stub):
    app_states(stub, "outofsync", "running", "after_sync")
    app_states(stub, "outofsync", "running", "degraded", app=OTHER)
    stub.routes[("POST", SYNC)] = [body("sync_response")]
    stub.routes[("POST", OTHER + "/sync")] = [body("sync_response")]
    out = run(stub, name=None, names=["manual", "other"], fail_on_degraded=True, wait_timeout=600)
    assert out.failed
    assert out.result["msg"].startswith("Argo CD application other failed: health Degraded")
    assert [a["health_status"] for a in out.result["applications"]] == ["Healthy", "Degraded"]
    assert out.result["waited"]["seconds"] < 600


def test_several_applications_time_out_with_what_each_waits_for(stub):
    app_states(stub, "outofsync", "running", "after_sync")
    app_states(stub, "outofsync", "running", app=OTHER)
    stub.routes[("POST", SYNC)] = [body("sync_response")]
    stub.routes[("POST", OTHER + "/sync")] = [body("sync_response")]
    out = run(stub, name=None, names=["manual", "other"], wait_timeout=20)
    assert out.failed
    assert out.result["msg"].startswith(
        "Timed out after 20s waiting for Argo CD applications manual, other to be Synced and Healthy; last status: "
        "1 of 2 ready; other: sync OutOfSync")


@pytest.mark.parametrize("names, message", [
    ([], "names must name at least one Argo CD Application"),
    (["a", "Bad_Name"], "names must be the name of an Argo CD Application"),
    (["a", "b", "a"], "names lists a more than once"),
])
def test_bad_names_fail_before_any_request(stub, names, message):
    out = run(stub, name=None, names=names)
    assert out.failed and message in out.result["msg"]
    assert stub.requests == []


def test_the_info_module_reads_several_applications_in_order(stub, monkeypatch, capsys):
    import json  # pylint: disable=import-outside-toplevel

    from ansible.module_utils import basic  # pylint: disable=import-outside-toplevel
    from ansible_collections.keikolatam.gitops.plugins.modules import argocd_application_info as info  # pylint: disable=import-outside-toplevel

    app_states(stub, "after_sync", "after_sync")
    app_states(stub, "degraded", "degraded", app=OTHER)
    args = {"api_url": stub.url, "username": "admin", "password": PASSWORD, "names": ["other", "manual"]}
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode())
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy")
    with pytest.raises(SystemExit):
        info.main()
    out = json.loads(capsys.readouterr().out)
    assert "application" not in out
    assert [(a["name"], a["health_status"]) for a in out["applications"]] == [("other", "Degraded"), ("manual", "Healthy")]
    assert out["applications"][0]["workloads"]["web"]["health"] == "Degraded"
    assert [r["path"] for r in stub.requests if r["method"] == "GET"] == [
        OTHER, OTHER + "/managed-resources", APP, APP + "/managed-resources"]
