"""Under injected faults every scenario ends in the same state; "500 but created" is adopted, not duplicated."""

import os
import stat

import pytest
from ovh_scenario import Step, run_steps

from ovh_emulator.testing import EmulatorProcess

NAME = "keiko-faults"


def _scenario(tmp_path, creates_only=False):
    c = {"cluster": NAME}
    pool = dict(c, name="workers", flavor="b2-7", desired_nodes=2, max_nodes=4, template={"labels": {"a": "b"}})
    cluster = {"name": NAME, "region": "GRA11", "version": "1.30", "update_policy": "MINIMAL_DOWNTIME"}
    dest = str(tmp_path / "kubeconfig")
    steps = [
        ("cluster", "ovh_kube_cluster", cluster),
        ("pool", "ovh_kube_nodepool", pool),
        ("replace", "ovh_kube_nodepool", dict(pool, flavor="b2-15", replace_on_change=True)),
        ("upgrade", "ovh_kube_cluster", dict(cluster, version="1.32")),
        ("kubeconfig", "ovh_kube_kubeconfig", dict(c, dest=dest)),
        ("ips", "ovh_kube_iprestrictions", dict(c, ips=["203.0.113.0/24"])),
        ("oidc", "ovh_kube_oidc", dict(c, oidc_client_id="k8s", issuer_url="https://sso.example.com")),
    ]
    if creates_only:
        steps = [s for s in steps if s[0] in ("cluster", "pool", "replace", "oidc")]
    first = [Step(label, module, args) for label, module, args in steps]
    # The same desired state again (the last word on each resource): nothing to do.
    final = [s for s in steps if s[0] not in ("cluster", "pool")]
    again = [Step(label + "_again", module, args) for label, module, args in final]
    return first + again, dest


def _final_state(emu):
    emu.set_faults(fault_429_rate=0, fault_5xx_rate=0, fault_500_created_rate=0)
    client = emu.ovh_client()
    base = "/cloud/project/%s/kube" % emu.service_name
    clusters = [client.get("%s/%s" % (base, i)) for i in client.get(base)]
    state = []
    for c in clusters:
        path = "%s/%s" % (base, c["id"])
        pools = client.get(path + "/nodepool")
        state.append({
            "name": c["name"], "version": c["version"], "status": c["status"], "policy": c["updatePolicy"],
            "pools": sorted((p["name"], p["flavor"], p["desiredNodes"], p["status"]) for p in pools),
            "ips": client.get(path + "/ipRestrictions"),
            "oidc": client.get(path + "/openIdConnect")["issuerUrl"],
        })
    return state


EXPECTED = [{"name": NAME, "version": "1.32", "status": "READY", "policy": "MINIMAL_DOWNTIME",
             "pools": [("workers-r1", "b2-15", 2, "READY")], "ips": ["203.0.113.0/24"],
             "oidc": "https://sso.example.com"}]


@pytest.mark.parametrize("faults", [
    {"fault_429_rate": 0.2, "fault_5xx_rate": 0.2, "seed": 7},
    {"fault_500_created_rate": 1.0, "seed": 3},
], ids=["429-and-5xx-20pc", "500-but-created"])
def test_the_same_state_under_faults(tmp_path, faults):
    with EmulatorProcess(state_dir=tmp_path / "emulator", transition_seconds=0.3, check_requests=True,
                         **faults) as emu:
        created_500 = "fault_500_created_rate" in faults
        steps, dest = _scenario(tmp_path, creates_only=created_500)
        run = run_steps(emu, tmp_path, steps, defaults={"api_max_attempts": 15})
        expected = [dict(EXPECTED[0], version="1.30", ips=[])] if created_500 else EXPECTED
        assert _final_state(emu) == expected
        for step in steps:
            if step.label.endswith("_again"):
                assert run[step.label]["changed"] is False, step.label
                assert [w for w in run.writes(step.label) if not w[1].endswith("/kubeconfig")] == [], step.label
        if created_500:
            # Every create answered 500 and was applied: each was sent once and adopted.
            for label, route in (("cluster", "/cloud/project/{serviceName}/kube"),
                                 ("pool", "/cloud/project/{serviceName}/kube/{kubeId}/nodepool"),
                                 ("replace", "/cloud/project/{serviceName}/kube/{kubeId}/nodepool"),
                                 ("oidc", "/cloud/project/{serviceName}/kube/{kubeId}/openIdConnect")):
                posts = [e for e in run.requests[label] if e["method"] == "POST" and e["operation"] == route]
                assert [e["status"] for e in posts] == [500], label
                assert run[label]["adopted"] is True, label
        else:
            assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
            faulted = [e for e in run.log if e.get("fault")]
            assert len(faulted) > 20  # the faults really happened
            assert sum(run[s.label]["retries"] for s in steps) > 0
