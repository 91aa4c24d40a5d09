"""Unit tests of the Managed Kubernetes modules' own rules (no HTTP)."""

import os
import stat

import pytest
import yaml

from ansible_collections.keikolatam.gitops.plugins.module_utils import _kube
from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhAmbiguousWrite, OvhApiError
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import OvhModule
from ansible_collections.keikolatam.gitops.plugins.modules import ovh_kube_iprestrictions as ips
from ansible_collections.keikolatam.gitops.plugins.modules import ovh_kube_kubeconfig as kubeconfig
from ansible_collections.keikolatam.gitops.plugins.modules import ovh_kube_nodepool as nodepool
from module_fakes import FakeClient, ambiguous, make_module


@pytest.mark.parametrize("text, parsed", [
    ("1.29", (1, 29, None)), ("1.29.3-1", (1, 29, 3)), ("1.30.14", (1, 30, 14)), ("v1.29", None), ("", None),
])
def test_parse_version(text, parsed):
    assert _kube.parse_version(text) == parsed


def test_minor_versions():
    assert _kube.minor_of("1.31.10") == (1, 31) and _kube.minor_of(None) is None
    assert _kube.is_minor_version("1.31") and not _kube.is_minor_version("1.31.2")
    assert not _kube.is_minor_version("latest")


def test_durations_compare_by_value_and_plugin_lists_by_content():
    assert _kube.duration_seconds("PT1M") == 60 and _kube.duration_seconds("PT1H0.5S") == 3600.5
    assert _kube.duration_seconds("P1D") == 86400 and _kube.duration_seconds("60s") is None
    assert _kube.duration_seconds("PT") is None
    have = {"kubeProxy": {"iptables": {"syncPeriod": "PT60S"}},
            "apiServer": {"admissionPlugins": {"enabled": ["NodeRestriction", "AlwaysPullImages"]}}}
    want = {"kubeProxy": {"iptables": {"syncPeriod": "PT1M"}},
            "apiServer": {"admissionPlugins": {"enabled": ["AlwaysPullImages", "NodeRestriction"]}}}
    assert _kube.comparable(have) == _kube.comparable(want)
    assert _kube.comparable({"a": "PT2M"}) != _kube.comparable({"a": "PT1M"})


def test_customization_body_from_options():
    opt = {"api_server": {"admission_plugins": {"enabled": ["NodeRestriction"], "disabled": None}},
           "kube_proxy": {"iptables": None,
                          "ipvs": {"scheduler": "rr", "tcp_fin_timeout": "PT5S", "sync_period": None,
                                   "min_sync_period": None, "tcp_timeout": None, "udp_timeout": None}}}
    assert _kube.customization_body(opt) == {
        "apiServer": {"admissionPlugins": {"enabled": ["NodeRestriction"]}},
        "kubeProxy": {"ipvs": {"scheduler": "rr", "tcpFinTimeout": "PT5S"}},
    }
    assert _kube.customization_body(None) is None
    assert _kube.customization_body({"api_server": None, "kube_proxy": None}) == {}


def test_taints_and_template_parts():
    assert _kube.taints([{"key": "k", "value": None, "effect": "NoSchedule"}]) == [
        {"key": "k", "value": "", "effect": "NoSchedule"}]
    a = [{"key": "a", "value": "1", "effect": "NoSchedule"}, {"key": "b", "value": "", "effect": "NoExecute"}]
    assert _kube.same_part("taints", a, list(reversed(a)))
    assert not _kube.same_part("taints", a, a[:1])
    assert _kube.same_part("labels", None, {}) and not _kube.same_part("labels", {"a": "1"}, {})
    assert _kube.same_part("unschedulable", None, False)


def test_template_and_autoscaling_bodies_replace_only_the_parts_that_are_set():
    base = {"metadata": {"labels": {"a": "1"}, "annotations": None, "finalizers": ["f"]},
            "spec": {"taints": [], "unschedulable": True}}
    opt = {"labels": None, "annotations": {"n": "v"}, "finalizers": None,
           "taints": [{"key": "k", "value": None, "effect": "NoSchedule"}], "unschedulable": None}
    assert _kube.template_body(opt, base) == {
        "metadata": {"labels": {"a": "1"}, "annotations": {"n": "v"}, "finalizers": ["f"]},
        "spec": {"taints": [{"key": "k", "value": "", "effect": "NoSchedule"}], "unschedulable": True}}
    assert _kube.template_changed(opt, base)
    assert not _kube.template_changed(dict(opt, annotations=None, taints=None, labels={"a": "1"}), base)
    assert _kube.autoscaling_body(None, {"scaleDownUnneededTimeSeconds": 600}) is None
    assert _kube.autoscaling_body({"scale_down_unneeded_time_seconds": None, "scale_down_utilization_threshold": 0.4},
                                  {"scaleDownUnneededTimeSeconds": 600}) == {
        "scaleDownUnneededTimeSeconds": 600, "scaleDownUtilizationThreshold": 0.4}


def test_replacement_names_order_by_creation_then_suffix():
    pools = [{"name": "web", "createdAt": "2024-01-01T00:00:00Z"},
             {"name": "web-r2", "createdAt": "2024-01-02T00:00:00Z"},
             {"name": "web-r10", "createdAt": "2024-01-02T00:00:00Z"}]
    assert max(pools, key=nodepool._created_key)["name"] == "web-r10"
    assert nodepool._created_key({"name": "web"})[1] == 0


def test_cidr_normalisation():
    assert ips.normalize("198.51.100.7") == "198.51.100.7/32"
    assert ips.normalize("2001:db8::1") == "2001:db8::1/128"
    assert ips.normalize(" 10.0.0.0/8 ") == "10.0.0.0/8"
    with pytest.raises(ValueError):
        ips.normalize("10.0.0.1/8")
    assert ips.normalize("10.0.0.1/8", strict=False) == "10.0.0.0/8"


KUBECONFIG = """apiVersion: v1
clusters:
- cluster: {certificate-authority-data: Q0EtREFUQQ==, server: 'https://abc.c1.gra11.k8s.ovh.net'}
  name: k
users:
- name: admin
  user: {client-certificate-data: Q0VSVC1zZWNyZXQtdmFsdWU=, client-key-data: S0VZLXNlY3JldC12YWx1ZQ==}
"""


def test_kubeconfig_parsing_and_redaction():
    host, ca, secrets = kubeconfig.parse_kubeconfig(KUBECONFIG)[:3]
    assert host == "https://abc.c1.gra11.k8s.ovh.net" and ca == "Q0EtREFUQQ=="
    assert sorted(secrets) == ["Q0VSVC1zZWNyZXQtdmFsdWU=", "S0VZLXNlY3JldC12YWx1ZQ=="]
    text = kubeconfig.redacted_text(KUBECONFIG)
    assert "S0VZ" not in text and "Q0VSVC" not in text and "<redacted, sha256 " in text
    assert yaml.safe_load(text)["clusters"][0]["cluster"]["server"] == host
    assert kubeconfig.redacted_text(KUBECONFIG.replace("S0VZ", "T0VZ")) != text  # a new key shows in a diff
    assert kubeconfig.parse_kubeconfig("not: [valid")[0] is None


def test_atomic_write_is_0600_and_replaces(tmp_path):
    dest = tmp_path / "config"
    dest.write_text("old")
    os.chmod(str(dest), 0o644)
    kubeconfig.write_atomic(str(dest), KUBECONFIG)
    assert dest.read_text() == KUBECONFIG
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config"]


def _module(cls, answers, **params):
    params.setdefault("wait_sleep", 0.01)
    return make_module(cls, FakeClient(answers), **params)


def test_create_or_adopt_resends_only_what_was_not_applied():
    mod = _module(OvhModule, [ambiguous(), {"id": "new"}])
    assert mod.create_or_adopt("/x", {"name": "a"}, lambda: None, "thing", grace=0.0, resend=1) == {"id": "new"}
    assert len(mod._client.sent) == 2 and "adopted" not in mod.result

    mod = _module(OvhModule, [ambiguous()])
    found = iter([None, {"id": "late"}])
    assert mod.create_or_adopt("/x", {}, lambda: next(found), "thing", grace=5.0, resend=1) == {"id": "late"}
    assert len(mod._client.sent) == 1 and mod.result["adopted"] is True

    mod = _module(OvhModule, [ambiguous()])  # resend=0: never resent
    with pytest.raises(OvhAmbiguousWrite):
        mod.create_or_adopt("/x", {}, lambda: None, "thing", grace=0.0, resend=0)
    assert len(mod._client.sent) == 1

    mod = _module(OvhModule, [ambiguous(), ambiguous(), ambiguous()])  # the default: sent again twice at most
    with pytest.raises(OvhAmbiguousWrite):
        mod.create_or_adopt("/x", {}, lambda: None, "thing", grace=0.0)
    assert len(mod._client.sent) == 3

    conflict = OvhApiError("exists", http_status=409, error_class="Client::Conflict")
    mod = _module(OvhModule, [conflict])
    with pytest.raises(OvhApiError):
        mod.create_or_adopt("/x", {}, lambda: None, "thing", grace=0.0, resend=3)
    assert len(mod._client.sent) == 1


@pytest.mark.parametrize("status_after, posts", [("READY", 2), ("UPDATING", 1)])
def test_post_action_resends_only_when_the_cluster_shows_it_was_not_applied(monkeypatch, status_after, posts):
    mod = _module(_kube.KubeModule, [ambiguous(), None], service_name="p")
    monkeypatch.setattr(_kube.KubeModule, "cluster_fetcher", lambda self, cid, after_create=False:
                        (lambda: {"id": cid, "status": status_after}))
    mod.post_action("/cloud/project/p/kube/c/update", {"strategy": "NEXT_MINOR"}, "c")
    assert len(mod._client.sent) == posts


def test_capabilities_versions_come_from_the_schema_enum():
    from ansible_collections.keikolatam.gitops.plugins.modules import ovh_kube_capabilities_info as caps

    class Schema(object):
        def __init__(self, answer):
            self.answer = answer
            self.paths = []

        def get(self, path, **query):
            self.paths.append(path)
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

    mod = _module(caps.OvhKubeCapabilitiesInfo, [])
    mod._client = Schema({"models": {"cloud.kube.VersionEnum": {"enum": ["1.31", "1.9", "1.30", "1.33"]}}})
    assert mod.offered_versions() == ["1.9", "1.30", "1.31", "1.33"] and mod._client.paths == ["/cloud.json"]
    mod._client = Schema({"models": {}})
    assert mod.offered_versions() is None and "no cloud.kube.VersionEnum" in mod.module.warnings[-1]
    mod._client = Schema(OvhApiError("Invalid URL", http_status=404))
    assert mod.offered_versions() is None and "answered 404" in mod.module.warnings[-1]
    mod._client = Schema(OvhApiError("boom", http_status=500))
    with pytest.raises(OvhApiError):
        mod.offered_versions()


def test_a_get_whose_query_values_are_all_unset_has_no_question_mark(monkeypatch):
    from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhClient

    sent = []
    monkeypatch.setattr(OvhClient, "call", lambda self, method, path, **kw: sent.append(path))
    client = OvhClient.__new__(OvhClient)
    client.get("/cloud/project/p/capabilities/kube/flavors", region=None)
    client.get("/cloud/project/p/capabilities/kube/flavors", region="GRA11")
    assert sent == ["/cloud/project/p/capabilities/kube/flavors",
                    "/cloud/project/p/capabilities/kube/flavors?region=GRA11"]
