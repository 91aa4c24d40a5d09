"""What ``make bench`` reports is computed right: the no-op's floor of OVH reads, repeated GETs, the recap sums."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def entry(method, path, status=200, operation=None):
    return {"method": method, "path": path, "status": status, "operation": operation or path}


def test_the_floor_is_one_get_per_written_object_and_one_list_per_collection():
    converge = [
        entry("GET", "/cloud/project/p/kube"),
        entry("POST", "/cloud/project/p/kube", 200, "/cloud/project/{serviceName}/kube"),
        entry("POST", "/cloud/project/p/kube/k1/nodepool", 200, "/cloud/project/{serviceName}/kube/{kubeId}/nodepool"),
        entry("POST", "/cloud/project/p/kube/k1/nodepool", 200, "/cloud/project/{serviceName}/kube/{kubeId}/nodepool"),
        # The PUT of an object the same run created is not another object; a PUT-only object is.
        entry("PUT", "/cloud/project/p/kube/k1/nodepool/np1"),
        entry("PUT", "/cloud/project/p/database/postgresql/d1/ipRestriction"),
        # A refused write created nothing.
        entry("POST", "/cloud/project/p/database/postgresql", 400, "/cloud/project/{serviceName}/database/postgresql"),
    ]
    floor = bench.floor_of(converge)
    assert floor == {"objects": 4, "lists": 2, "reads": 6}


def test_repeated_gets_are_named_most_repeated_first():
    log = [entry("GET", "/a"), entry("GET", "/b"), entry("GET", "/b"), entry("GET", "/b"), entry("GET", "/a"),
           entry("GET", "/c"), entry("PUT", "/c")]
    assert bench.repeated_gets(log) == [("/b", 3), ("/a", 2)]


def test_the_recap_is_summed_over_hosts():
    out = ("PLAY RECAP ****\n"
           "dev                        : ok=12   changed=1    unreachable=0    failed=0    skipped=3    rescued=0\n"
           "staging                    : ok=10   changed=0    unreachable=0    failed=1    skipped=2    rescued=0\n")
    assert bench.recap(out) == {"ok": 22, "changed": 1, "failed": 1, "skipped": 5}


def test_the_table_gives_each_figure_with_its_baseline_and_ratio():
    table = bench.markdown({"machine": "m", "date": "d",
                            "tasks": {"tasks": 30, "info_seconds": 30.0, "uri_seconds": 20.0, "info_over_uri": 1.5,
                                      "noop_tasks_ran": 100, "noop_seconds": 90.0, "uri_same_count_seconds": 60.0,
                                      "noop_over_uri_same_count": 1.5}})
    assert "| 30 x ovh_kube_cluster_info | 30.0 s | 30 x uri 20.0 s | 1.5 |" in table
    assert "| no-op site.yml (100 tasks ran) | 90.0 s | as many uri tasks 60.0 s | 1.5 |" in table


def test_the_table_gives_the_bootstrap_from_nothing_and_the_no_op_against_kubectl():
    table = bench.markdown({"machine": "m", "date": "d", "bootstrap": {
        "bootstrap_seconds": 120.0, "kubectl_apply_rollout_seconds": 40.0, "bootstrap_over_kubectl_apply_rollout": 3.0,
        "noop_bootstrap_seconds": 30.0, "kubectl_apply_seconds": 10.0, "noop_bootstrap_over_kubectl_apply": 3.0}})
    assert "| bootstrap.yml from nothing | 120.0 s | kubectl apply --server-side + rollout status 40.0 s | 3.0 |" in table
    assert "| no-op bootstrap.yml | 30.0 s | kubectl apply --server-side 10.0 s | 3.0 |" in table


def test_the_table_gives_the_rollback_latency_against_a_plain_push():
    table = bench.markdown({"machine": "m", "date": "d", "latency": {
        "deploy_seconds": 20.0, "push_refresh_poll_seconds": 5.0, "deploy_over_push_refresh_poll": 4.0,
        "rollback_seconds": 7.5, "rollback_over_push_refresh_poll": 1.5}})
    assert "| deploy.yml to Synced and Healthy | 20.0 s | git push + refresh + poll 5.0 s | 4.0 |" in table
    assert "| failed smoke check to its revert Synced and Healthy | 7.5 s | git push + refresh + poll 5.0 s | 1.5 |" in table


def test_argocd_calls_are_the_grpc_calls_its_api_server_handled():
    metrics = ("# HELP grpc_server_handled_total Total number of RPCs completed on the server.\n"
               "# TYPE grpc_server_handled_total counter\n"
               'grpc_server_handled_total{grpc_code="OK",grpc_method="Get",grpc_service="application.ApplicationService"'
               ',grpc_type="unary"} 12\n'
               'grpc_server_handled_total{grpc_code="OK",grpc_method="Create",grpc_service="session.SessionService"'
               ',grpc_type="unary"} 3\n'
               'grpc_server_started_total{grpc_method="Get",grpc_service="application.ApplicationService"} 15\n'
               'grpc_server_handled_total{grpc_code="OK",grpc_method="Check",grpc_service="grpc.health.v1.Health",'
               'grpc_type="unary"} 40\n'
               "grpc_server_handled_total_other 99\n")
    assert bench.grpc_calls(metrics) == 15


def test_each_size_is_compared_with_the_smallest():
    out = {700: {"promote_per_service": 0.05}, 7: {"promote_per_service": 2.0}, 70: {"promote_per_service": 0.5}}
    bench.per_size_ratios(out, "promote_per_service")
    assert [out[n]["promote_per_service_over_smallest"] for n in (7, 70, 700)] == [1.0, 0.25, 0.03]


def test_the_bench_services_fit_the_sandbox_nodes_and_end_with_the_gateway():
    services = bench.services_of(70)
    assert len(services) == 70 and len({s["name"] for s in services}) == 70
    assert services[-1]["name"] == "gateway"
    assert all(s["resources"]["requests"] == {"cpu": "1m", "memory": "1Mi"} for s in services)


def test_the_table_gives_deploy_and_promote_at_each_size_with_requests_per_service():
    row = {"deploy_seconds": 12.0, "deploy_ovh_requests": 0, "deploy_argocd_calls": 9, "push_one_seconds": 4.0,
           "deploy_over_push_one": 3.0, "deploy_seconds_over_smallest": 1.1, "promote_seconds": 70.0,
           "promote_per_service": 0.1, "promote_ovh_requests_per_service": 0.0,
           "promote_argocd_calls_per_service": 0.02, "push_all_seconds": 35.0, "promote_over_push_all": 2.0,
           "promote_per_service_over_smallest": 0.05, "promote_push_to_synced_seconds": 30.0,
           "promote_push_to_synced_over_push_all": 0.86}
    table = bench.markdown({"machine": "m", "date": "d", "releases": {"700": row}})
    assert ("| deploy.yml of 1 service in 700 (OVH, Argo CD requests) | 12.0 s (0, 9) | git push + refresh + poll 4.0 s"
            " | 3.0 (size: 1.1) |") in table
    assert ("| promote.yml of 700 services: s/service (OVH, Argo CD requests/service) | 70.0 s: 0.1 (0.0, 0.02) | push "
            "of 700 images + refresh + poll 35.0 s | 2.0 (per service: 0.05) |") in table
    assert ("| promotion of 700: its push to staging Synced and Healthy | 30.0 s | push of 700 images + refresh + poll "
            "35.0 s | 0.86 |") in table


def test_a_size_that_failed_is_reported_with_its_reason_and_the_sizes_before_it_kept():
    row = {"deploy_seconds": 12.0, "deploy_ovh_requests": 0, "deploy_argocd_calls": 9, "push_one_seconds": 4.0,
           "deploy_over_push_one": 3.0, "deploy_seconds_over_smallest": 1.0, "promote_seconds": 7.0,
           "promote_per_service": 1.0, "promote_ovh_requests_per_service": 0.0,
           "promote_argocd_calls_per_service": 2.0, "push_all_seconds": 5.0, "promote_over_push_all": 1.4,
           "promote_per_service_over_smallest": 1.0, "promote_push_to_synced_seconds": None}
    table = bench.markdown({"machine": "m", "date": "d", "failed": "bench: promote.yml failed (rc 2):\nmore",
                            "releases": {"7": row, "700": {"failed": "bench: bootstrap with 700 services failed (rc 2):\n"}}})
    assert "| promote.yml of 7 services" in table
    assert "| promotion of 7:" not in table  # no push-to-synced figure, no row
    assert "| releases with 700 services | failed: bench: bootstrap with 700 services failed (rc 2): | | |" in table
    assert "| (the run stopped) | failed: bench: promote.yml failed (rc 2): | | |" in table
