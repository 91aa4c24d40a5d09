"""kwok's pod stages in localkube (docs/localkube.md, "Failing health checks"): an image tag ending in
``-broken`` runs but never becomes ready, one ending in ``-crash`` restarts over and over, any other
becomes ready. Three Deployments on the session's ``localkube`` cluster, created at once."""

from __future__ import annotations

import time

import pytest

from localkube import nodes
from localkube.kubeapi import KubeClient

NAMESPACE = "localkube-stages"
DEADLINE_S = 5  # progressDeadlineSeconds of every Deployment here
WAIT_S = 90.0
IMAGES = {
    "normal": "registry.invalid/keiko/identity:0.1.0",
    "broken": "registry.invalid/keiko/identity:0.2.0-broken",
    "crash": "registry.invalid/keiko/identity:0.2.0-crash",
}
SIDECAR = "registry.invalid/keiko/sidecar:1.0"  # beside the broken container: it alone is ready


def _deployment(name: str, image: str, sidecar: bool = False) -> dict:
    containers = [{"name": "app", "image": image}]
    if sidecar:
        containers.append({"name": "sidecar", "image": SIDECAR})
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": 1, "progressDeadlineSeconds": DEADLINE_S,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}},
        },
    }


def _wait(what: str, probe, timeout: float = WAIT_S):
    """Poll ``probe`` (returns a truthy value when done) until it is done; the value, or a failure
    that shows the last thing seen."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        done, seen = probe()
        if done:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last seen: {seen}")


def _condition(obj: dict, kind: str) -> dict:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == kind), {})


def _container(pod: dict, name: str) -> dict:
    return next((c for c in pod["status"].get("containerStatuses") or [] if c["name"] == name), {})


@pytest.fixture(scope="module")
def kube(localkube):
    with KubeClient(localkube.kubeconfig) as client:
        client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        for name, image in IMAGES.items():
            client.create(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments",
                          _deployment(name, image, sidecar=name == "broken"))
        try:
            yield client
        finally:
            client.delete(f"/api/v1/namespaces/{NAMESPACE}")


def _pod(client: KubeClient, app: str) -> dict | None:
    items = client.get(f"/api/v1/namespaces/{NAMESPACE}/pods", labelSelector=f"app={app}")["items"]
    return items[0] if len(items) == 1 else None


def _pod_when(client: KubeClient, app: str, pred, what: str) -> dict:
    def probe():
        pod = _pod(client, app)
        return pod is not None and pred(pod), pod and pod.get("status")
    _wait(f"pod of {app}: {what}", probe)
    return _pod(client, app)


def _deployment_when(client: KubeClient, name: str, kind: str, status: str, reason: str) -> dict:
    def probe():
        dep = client.get(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}")
        cond = _condition(dep, kind)
        return cond.get("status") == status and cond.get("reason") == reason, dep.get("status")
    return _wait(f"deployment {name}: {kind}={status} {reason}", probe)


@pytest.mark.parametrize("image, behaviour", [
    ("registry.invalid/keiko/identity:0.2.0-broken", "broken"),
    ("127.0.0.1:5000/keiko/identity:0.2.0-crash", "crash"),
    ("reg.example/keiko/identity:0.2.0-broken@sha256:" + "a" * 64, "broken"),
    ("reg.example/keiko/identity:0.2.0", "ready"),
    ("reg.example/keiko/identity-broken:0.2.0", "ready"),   # the name, not the tag
    ("reg.example:5000/keiko/identity-crash", "ready"),     # no tag at all
    ("reg.example/keiko/identity:crash-0.2.0", "ready"),    # the tag does not end in it
    ("reg.example/keiko/identity@sha256:" + "b" * 64, "ready"),
])
def test_image_behaviour_reads_the_tag_suffix(image, behaviour):
    assert nodes.image_behaviour(image) == behaviour


def test_kwok_config_holds_the_pod_stages():
    import yaml  # pylint: disable=import-outside-toplevel

    docs = list(yaml.safe_load_all(nodes.kwok_config()))
    assert [d["metadata"]["name"] for d in docs] == ["pod-ready", "pod-unhealthy", "pod-crash-loop",
                                                     "pod-complete", "pod-delete"]
    assert all(d["kind"] == "Stage" and d["spec"]["resourceRef"] == {"apiGroup": "v1", "kind": "Pod"} for d in docs)


def test_normal_image_becomes_ready(kube):
    pod = _pod_when(kube, "normal", lambda p: _condition(p, "Ready").get("status") == "True", "Ready")
    assert pod["status"]["phase"] == "Running"
    app = _container(pod, "app")
    assert app["ready"] is True and app["restartCount"] == 0 and "running" in app["state"]
    dep = _deployment_when(kube, "normal", "Progressing", "True", "NewReplicaSetAvailable")
    assert dep["availableReplicas"] == 1
    assert _condition({"status": dep}, "Available")["status"] == "True"


def test_broken_image_runs_but_never_becomes_ready(kube):
    # Past the progress deadline the pod has had every chance: it is still Running and not Ready.
    dep = _deployment_when(kube, "broken", "Progressing", "False", "ProgressDeadlineExceeded")
    assert dep.get("availableReplicas", 0) == 0
    assert _condition({"status": dep}, "Available")["status"] == "False"
    pod = _pod(kube, "broken")
    assert pod["status"]["phase"] == "Running"
    ready = _condition(pod, "Ready")
    assert ready["status"] == "False" and ready["reason"] == "ContainersNotReady", ready
    assert ready["message"] == "containers with unready status: [app]", ready
    app, sidecar = _container(pod, "app"), _container(pod, "sidecar")
    assert app["ready"] is False and app["started"] is True and "running" in app["state"], app
    assert app["restartCount"] == 0, app
    assert sidecar["ready"] is True, sidecar


def test_crash_image_restarts_in_a_loop(kube):
    def restarts(pod):
        return _container(pod, "app").get("restartCount", 0)

    first = restarts(_pod_when(kube, "crash", lambda p: restarts(p) >= 1, "a first restart"))
    pod = _pod_when(kube, "crash", lambda p: restarts(p) >= first + 2, f"restartCount past {first + 1}")
    app = _container(pod, "app")
    assert app["ready"] is False and app["state"]["waiting"]["reason"] == "CrashLoopBackOff", app
    assert app["lastState"]["terminated"]["exitCode"] == 1, app
    assert pod["status"]["phase"] == "Running"
    assert _condition(pod, "Ready")["status"] == "False"
    dep = _deployment_when(kube, "crash", "Progressing", "False", "ProgressDeadlineExceeded")
    assert dep.get("availableReplicas", 0) == 0
