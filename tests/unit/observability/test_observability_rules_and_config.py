"""The observability role's rendering, checked with the real programs where there are some.

One ansible-playbook run renders the add-on of ``staging`` (the role's preflight and render tasks, nothing written
to git or a cluster); the tests read what it rendered:

- the PrometheusRule's groups, extracted from the rendered manifest, pass ``promtool check rules`` and the unit tests
  of ``alerts.test.yml`` (``promtool test rules``), where every alert has a case that fires it and one that must not;
- the collector's configuration has the facts the design got wrong: memory_limiter first with its check_interval,
  batch last, no ``jaeger`` exporter (removed in v0.85) but ``otlp_grpc`` (v0.144), ``logs_index`` (not ``index``);
- the RBAC of the prometheus receiver's discovery, the ServiceMonitors, the dashboards and the pinned stack;
- bad input fails in the preflight with its message.

The collector binary itself is not built here (see roles/observability/README.md: a custom build with the
prometheus receiver is far beyond the CI's cold-build budget).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
ENV = "staging"
SERVICES = ["identity", {"name": "learning"}, "gateway"]
DIR = f"k8s/platform/observability/{ENV}"

PLAYBOOK = """
- name: Render the observability add-on
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Check the input
      ansible.builtin.include_role: {name: keikolatam.gitops.observability, tasks_from: preflight}
    - name: Render
      ansible.builtin.include_role: {name: keikolatam.gitops.observability, tasks_from: render}
    - name: Write what was rendered
      ansible.builtin.copy:
        content: "{{ observability_files | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""


def playbook(tmp: Path, **variables) -> subprocess.CompletedProcess:
    book = tmp / "render.yml"
    book.write_text(PLAYBOOK)
    values = {"observability_environment": ENV, "observability_repository_url": "http://127.0.0.1:9/gitops.git",
              "observability_repository_branch": "main", "observability_services": SERVICES,
              "observability_dry_run": False, "out": str(tmp / "files.json"), **variables}
    (tmp / "vars.json").write_text(json.dumps(values))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), NO_COLOR="1", ANSIBLE_NOCOLOR="1")
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", f"ansible_python_interpreter={sys.executable}", "-e", f"@{tmp / 'vars.json'}", str(book)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("observability")
    proc = playbook(tmp)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return json.loads((tmp / "files.json").read_text())


def docs(files, path):
    return [d for d in yaml.safe_load_all(files[path]) if d]


def one(files, path, kind, name=None):
    found = [d for d in docs(files, path) if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, (kind, name, [d["kind"] for d in docs(files, path)])
    return found[0]


@pytest.fixture(scope="module")
def collector_config(files):
    cm = one(files, f"{DIR}/collector.yaml", "ConfigMap", "otel-collector")
    return yaml.safe_load(cm["data"]["config.yaml"])


def promtool() -> str:
    path = shutil.which("promtool") or "/usr/bin/promtool"
    assert os.access(path, os.X_OK), "promtool is needed (Debian's prometheus package; .ci/run installs it)"
    return path


def test_the_tree(files):
    assert sorted(files) == sorted([f"argocd/{ENV}/platform-observability.yaml", f"argocd/{ENV}/platform-observability-stack.yaml"]
                                   + [f"{DIR}/{n}" for n in ("collector.yaml", "servicemonitors.yaml", "prometheusrule.yaml",
                                                             "dashboards.yaml", "kustomization.yaml")])
    kustomization = yaml.safe_load(files[f"{DIR}/kustomization.yaml"])
    assert kustomization["resources"] == ["collector.yaml", "servicemonitors.yaml", "prometheusrule.yaml", "dashboards.yaml"]


def test_the_alert_rules_pass_promtool(files, tmp_path):
    rule = one(files, f"{DIR}/prometheusrule.yaml", "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    shutil.copy(HERE / "alerts.test.yml", tmp_path / "alerts.test.yml")

    check = subprocess.run([promtool(), "check", "rules", "rules.yml"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=60, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 13 rules found" in check.stdout + check.stderr

    test = subprocess.run([promtool(), "test", "rules", "alerts.test.yml"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False)
    assert test.returncode == 0, test.stdout + test.stderr


def test_every_alert_has_a_firing_and_a_quiet_case(files):
    rule = one(files, f"{DIR}/prometheusrule.yaml", "PrometheusRule")
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert len(alerts) == 13
    cases = [c for t in yaml.safe_load((HERE / "alerts.test.yml").read_text())["tests"] for c in t["alert_rule_test"]]
    fires = {c["alertname"] for c in cases if c["exp_alerts"]}
    quiet = {c["alertname"] for c in cases if not c["exp_alerts"]}
    assert alerts - fires == set(), "alerts without a case that fires them"
    assert alerts - quiet == set(), "alerts without a case where they must not fire"
    assert (fires | quiet) - alerts == set(), "cases of alerts the role does not render"
    # the backup alerts watch the CronJob of the postgres_backup role, through kube-state-metrics
    exprs = " ".join(r["expr"] for g in rule["spec"]["groups"] for r in g["rules"])
    for series in ('kube_cronjob_status_last_successful_time{namespace="keiko-backup", cronjob="keiko-postgres-backup"}',
                   'kube_cronjob_next_schedule_time{namespace="keiko-backup", cronjob="keiko-postgres-backup"}',
                   'kube_job_status_failed{namespace="keiko-backup", job_name=~"keiko-postgres-backup-.*"}'):
        assert series in exprs


def test_the_collector_pipelines(collector_config):
    config = collector_config
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"traces", "metrics", "logs"}
    for name, pipeline in pipelines.items():
        assert pipeline["processors"][0] == "memory_limiter", name
        assert pipeline["processors"][-1] == "batch", name
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline.get(kind, [])) <= set(config[kind]), (name, kind)
    assert re.fullmatch(r"[1-9]\d*(ms|s)", config["processors"]["memory_limiter"]["check_interval"])
    assert 0 < config["processors"]["memory_limiter"]["spike_limit_mib"] < config["processors"]["memory_limiter"]["limit_mib"]
    assert pipelines["traces"]["exporters"] == ["otlp_grpc/jaeger"]
    assert pipelines["metrics"]["receivers"] == ["otlp", "prometheus"] and pipelines["metrics"]["exporters"] == ["prometheus"]
    assert pipelines["logs"]["exporters"] == ["elasticsearch"]
    assert config["receivers"]["otlp"]["protocols"] == {"grpc": {"endpoint": "0.0.0.0:4317"},
                                                        "http": {"endpoint": "0.0.0.0:4318"}}
    # the exporters the design named and the collector no longer has
    assert not [e for e in config["exporters"] if e.split("/")[0] in ("jaeger", "jaeger_thrift", "otlp")]
    assert config["exporters"]["otlp_grpc/jaeger"]["endpoint"] == "jaeger.observability.svc:4317"
    elastic = config["exporters"]["elasticsearch"]
    assert "index" not in elastic and elastic["logs_index"] == f"logs-keiko.otel-{ENV}"
    assert "mapping" not in elastic  # the default mode, otel: data streams
    assert elastic["password"] == "${env:ELASTICSEARCH_PASSWORD}"  # from the Secret, never in git
    # the collector's own metrics on 8888 for the ServiceMonitor (not only on localhost)
    reader = config["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]
    assert reader == {"host": "0.0.0.0", "port": 8888}


def test_the_prometheus_receivers_discovery_and_its_rbac(files, collector_config):
    scrape = collector_config["receivers"]["prometheus"]["config"]["scrape_configs"][0]
    assert scrape["kubernetes_sd_configs"] == [{"role": "pod"}]
    # $$ is the collector's escape of a literal $ (a bare $1 would be read as an environment variable)
    assert "$$1:$$2" in [r.get("replacement") for r in scrape["relabel_configs"]]
    path = f"{DIR}/collector.yaml"
    role = one(files, path, "ClusterRole")
    pods = [r for r in role["rules"] if "pods" in r.get("resources", [])]
    assert pods and {"get", "list", "watch"} <= set(pods[0]["verbs"]) and pods[0]["apiGroups"] == [""]
    assert not [r for r in role["rules"] if set(r.get("verbs", [])) - {"get", "list", "watch"}]
    binding = one(files, path, "ClusterRoleBinding")
    account = one(files, path, "ServiceAccount")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                    "namespace": "observability"}]
    pod = one(files, path, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    container = pod["containers"][0]
    assert container["image"] == "otel/opentelemetry-collector-contrib:0.158.0"
    password = [e for e in container["env"] if e["name"] == "ELASTICSEARCH_PASSWORD"][0]
    assert password["valueFrom"]["secretKeyRef"] == {"name": "keiko-es-elastic-user", "key": "elastic"}
    gomemlimit = [e["value"] for e in container["env"] if e["name"] == "GOMEMLIMIT"]
    assert gomemlimit == ["409MiB"] and container["resources"]["limits"]["memory"] == "640Mi"


def test_the_servicemonitors(files):
    monitors = {d["metadata"]["name"]: d["spec"] for d in docs(files, f"{DIR}/servicemonitors.yaml")}
    assert set(monitors) == {"keiko-services", "argocd", "ingress-controller", "otel-collector"}
    services = monitors["keiko-services"]
    assert services["namespaceSelector"] == {"matchNames": ["keiko"]}
    assert services["selector"]["matchExpressions"][0]["values"] == ["identity", "learning", "gateway"]
    assert monitors["argocd"]["namespaceSelector"] == {"matchNames": ["argocd"]}
    assert {e["port"] for e in monitors["otel-collector"]["endpoints"]} == {"metrics", "prom-export"}
    assert monitors["ingress-controller"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == "ingress-nginx"


def test_the_dashboards(files):
    maps = docs(files, f"{DIR}/dashboards.yaml")
    names = ["overview", "identity", "learning", "gateway"]
    assert [m["metadata"]["name"] for m in maps] == [f"grafana-dashboard-keiko-{n}" for n in names]
    for cm in maps:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        (name, text), = cm["data"].items()
        board = json.loads(text)
        assert board["uid"].startswith(f"keiko-{ENV}-") and name.endswith(".json")
        exprs = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])
        assert "rate(http_server_request_duration_seconds_count" in exprs
        assert 'http_response_status_code=~"5.."' in exprs
        assert "histogram_quantile(0.95" in exprs and "http_server_request_duration_seconds_bucket" in exprs
    identity = json.loads(next(iter(maps[1]["data"].values())))
    assert 'service_name="identity"' in identity["panels"][0]["targets"][0]["expr"]


def test_the_argocd_applications(files):
    app = one(files, f"argocd/{ENV}/platform-observability.yaml", "Application")
    assert app["metadata"]["name"] == f"keiko-{ENV}-observability"
    assert app["spec"]["project"] == "platform" and app["spec"]["source"]["path"] == DIR
    assert "SkipDryRunOnMissingResource=true" in app["spec"]["syncPolicy"]["syncOptions"]
    stack = {d["spec"]["source"]["chart"]: d for d in docs(files, f"argocd/{ENV}/platform-observability-stack.yaml")}
    assert set(stack) == {"kube-prometheus-stack", "jaeger", "eck-operator", "eck-stack"}
    for chart, doc in stack.items():
        assert doc["spec"]["project"] == "platform"
        assert re.fullmatch(r"\d+\.\d+\.\d+", doc["spec"]["source"]["targetRevision"]), chart
    values = stack["kube-prometheus-stack"]["spec"]["source"]["helm"]["valuesObject"]
    assert values["prometheus"]["prometheusSpec"]["ruleSelectorNilUsesHelmValues"] is False
    assert values["grafana"]["sidecar"]["dashboards"]["label"] == "grafana_dashboard"
    # a managed control plane: nothing of the chart in kube-system, outside the platform project
    assert all(values[k] == {"enabled": False} for k in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy", "coreDns"))


@pytest.mark.parametrize("variables, message", [
    ({"observability_jaeger_endpoint": "grpc://jaeger:4317"}, "has an unknown scheme"),
    ({"observability_trace_sampling_ratio": 1.5}, "observability_trace_sampling_ratio 1.5 is not a number from 0 to 1"),
    ({"observability_collector_version": "0.130.0"}, "older than 0.144.0"),
])
def test_bad_input_fails_in_the_preflight(tmp_path, variables, message):
    proc = playbook(tmp_path, **variables)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-3000:]
    assert "Nothing was changed" in proc.stdout
    assert not (tmp_path / "files.json").exists()
