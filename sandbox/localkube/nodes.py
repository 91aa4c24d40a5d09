"""Simulated nodes: kwok-managed Node objects grouped in OVH-style node pools.

The OVH API emulator calls :func:`sync_pool_nodes` whenever it creates or scales a node pool and
:func:`delete_pool_nodes` when it deletes one. One call is a couple of HTTP requests on one
keep-alive connection (no ``kubernetes`` client import, no kubectl), well under a second.

kwok (started by ``localkube up`` with ``--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake``)
then keeps the nodes Ready and their leases fresh, and plays the kubelet for pods bound to them, with
the pod stages of :data:`KWOK_STAGES` (``localkube up`` writes them to ``<data dir>/kwok.yaml``): a
container whose image tag ends in ``-broken`` runs but never becomes ready, one whose tag ends in
``-crash`` restarts every couple of seconds (CrashLoopBackOff), any other becomes ready at once.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import textwrap
import time
from typing import Mapping

import yaml

from .kubeapi import KubeClient, KubeError
from .versions import KUBERNETES_VERSION

POOL_LABEL = "nodepool"
OVH_POOL_LABEL = "node.k8s.ovh.net/nodepool"
FLAVOR_LABEL = "node.kubernetes.io/instance-type"
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_ANNOTATION_VALUE = "fake"

# vCPU and RAM (GiB) of the common OVHcloud Public Cloud flavors; others fall back to _capacity().
FLAVORS: dict[str, tuple[int, int]] = {
    "b2-7": (2, 7), "b2-15": (4, 15), "b2-30": (8, 30), "b2-60": (16, 60), "b2-120": (32, 120),
    "b3-8": (2, 8), "b3-16": (4, 16), "b3-32": (8, 32), "b3-64": (16, 64), "b3-128": (32, 128),
    "c2-7": (2, 7), "c2-15": (4, 15), "c2-30": (8, 30), "c2-60": (16, 60), "c2-120": (32, 120),
    "c3-4": (2, 4), "c3-8": (4, 8), "c3-16": (8, 16), "c3-32": (16, 32), "c3-64": (32, 64),
    "d2-2": (1, 2), "d2-4": (2, 4), "d2-8": (4, 8),
    "r2-15": (2, 15), "r2-30": (2, 30), "r2-60": (4, 60), "r2-120": (8, 120),
    "r3-16": (2, 16), "r3-32": (4, 32), "r3-64": (8, 64), "r3-128": (16, 128),
}

# Image tag conventions of the simulated kubelet (docs/localkube.md, "Failing health checks"): the tag
# (after the last ":" of the name, before any "@sha256:...") ends in the suffix.
BROKEN_SUFFIX = "-broken"
CRASH_SUFFIX = "-crash"
CRASH_LOOP_DELAY_MS = 2000
CRASH_LOOP_DELAY_ANNOTATION = "pod-crash-loop.stage.kwok.x-k8s.io/delay"


def _tag_pattern(*suffixes: str) -> str:
    """A regular expression (RE2 and jq/Oniguruma alike) matching an image whose tag ends in a suffix."""
    assert all(re.fullmatch(r"[-a-z0-9]+", s) for s in suffixes)  # nothing to escape, in Go, jq or Python
    return f":[^/:@]*({'|'.join(suffixes)})(@.*)?$"


def image_behaviour(image: str) -> str:
    """How the simulated kubelet treats a container of this image: ``broken``, ``crash`` or ``ready``."""
    if re.search(_tag_pattern(BROKEN_SUFFIX), image or ""):
        return "broken"
    if re.search(_tag_pattern(CRASH_SUFFIX), image or ""):
        return "crash"
    return "ready"


def _any_image(pattern: str) -> str:
    """A jq selector key: "true" when a container of the pod has an image matching ``pattern``."""
    return f'[.spec.containers[]?.image | test("{pattern}")] | any'


_UNHEALTHY = _any_image(_tag_pattern(BROKEN_SUFFIX, CRASH_SUFFIX))
_CRASHING = _any_image(_tag_pattern(CRASH_SUFFIX))

# Container statuses shared by the stages below: "$now" is the render time; the image's behaviour
# decides readiness. A crashing container is waiting in CrashLoopBackOff after a failed run.
_CONTAINER_STATUS = """\
      {{ $behaviour := "ready" }}
      {{ if regexMatch "%(broken)s" .image }}{{ $behaviour = "broken" }}
      {{ else if regexMatch "%(crash)s" .image }}{{ $behaviour = "crash" }}{{ end }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        {{ if eq $behaviour "crash" }}
        ready: false
        started: false
        restartCount: {{ $restarts }}
        lastState:
          terminated:
            exitCode: 1
            reason: Error
            message: "simulated crash (image tag ends in %(crash_suffix)s)"
            startedAt: {{ $now | Quote }}
            finishedAt: {{ $now | Quote }}
        state:
          waiting:
            reason: CrashLoopBackOff
            message: {{ printf "back-off restarting failed container %%s in pod %%s" .name $root.metadata.name | Quote }}
        {{ else }}
        ready: {{ eq $behaviour "ready" }}
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $started | Quote }}
        {{ end }}
""" % {"broken": _tag_pattern(BROKEN_SUFFIX), "crash": _tag_pattern(CRASH_SUFFIX), "crash_suffix": CRASH_SUFFIX}

_POD_CONDITIONS = """\
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: {{ if $ready }}"True"{{ else }}"False"{{ end }}
        {{ if not $ready }}reason: ContainersNotReady
        message: {{ printf "containers with unready status: [%s]" $unreadyNames | Quote }}{{ end }}
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: {{ if $ready }}"True"{{ else }}"False"{{ end }}
        {{ if not $ready }}reason: ContainersNotReady
        message: {{ printf "containers with unready status: [%s]" $unreadyNames | Quote }}{{ end }}
        type: ContainersReady
      {{ range .spec.readinessGates }}
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: {{ .conditionType | Quote }}
      {{ end }}
"""

_UNREADY = """\
      {{ $unready := list }}
      {{ range .spec.containers }}{{ if regexMatch "%s" .image }}{{ $unready = append $unready .name }}{{ end }}{{ end }}
      {{ $ready := eq (len $unready) 0 }}
      {{ $unreadyNames := join " " $unready }}
""" % _tag_pattern(BROKEN_SUFFIX, CRASH_SUFFIX)

# Start: what kwok's default pod-ready stage (kustomize/stage/pod/fast) does, in one step, except that
# broken and crashing containers are not ready. The pod is Running either way, like a real kubelet's.
_START_TEMPLATE = """\
      {{ $now := Now }}
      {{ $root := . }}
      {{ $started := $now }}
      {{ $restarts := 1 }}
""" + _UNREADY + _POD_CONDITIONS + """\
      containerStatuses:
      {{ range .spec.containers }}
""" + _CONTAINER_STATUS + """\
      {{ end }}
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        {{ if eq .restartPolicy "Always" }}
        started: true
        state:
          running:
            startedAt: {{ $now | Quote }}
        {{ else }}
        state:
          terminated:
            exitCode: 0
            finishedAt: {{ $now | Quote }}
            reason: Completed
            startedAt: {{ $now | Quote }}
        {{ end }}
      {{ end }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      podIP: {{ PodIPWith .spec.nodeName (or .spec.hostNetwork false) (or .metadata.uid "") (or .metadata.name "") (or .metadata.namespace "") | Quote }}
      phase: Running
      startTime: {{ $now | Quote }}
"""

# One more crash: the crashing containers' restartCount goes up by one, the others keep their status.
_CRASH_LOOP_TEMPLATE = """\
      {{ $now := Now }}
      {{ $root := . }}
""" + _UNREADY + _POD_CONDITIONS + """\
      containerStatuses:
      {{ range .spec.containers }}
      {{ $name := .name }}
      {{ $restarts := 1 }}
      {{ $started := $now }}
      {{ range $root.status.containerStatuses }}{{ if eq .name $name }}
      {{ $restarts = add1 .restartCount }}
      {{ if .state.running }}{{ $started = .state.running.startedAt }}{{ end }}
      {{ end }}{{ end }}
""" + _CONTAINER_STATUS + """\
      {{ end }}
"""


def _stage(name: str, expressions: list[dict], next_: dict, delay: dict | None = None) -> dict:
    spec = {"resourceRef": {"apiGroup": "v1", "kind": "Pod"}, "selector": {"matchExpressions": expressions},
            "next": next_}
    if delay:
        spec["delay"] = delay
    return {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Stage", "metadata": {"name": name}, "spec": spec}


def _jq(key: str, operator: str, *values: str) -> dict:
    return {"jq": {"key": key, "operator": operator, **({"values": list(values)} if values else {})}}


def _status_patch(template: str) -> dict:
    return {"patches": [{"subresource": "status", "root": "status", "template": textwrap.dedent(template)}]}


_NOT_DELETED = _jq(".metadata.deletionTimestamp", "DoesNotExist")
_NOT_STARTED = _jq(".status.podIP", "DoesNotExist")

#: The pod stages kwok plays (it keeps its default node stages). Replaces kwok's default pod stages
#: (kustomize/stage/pod/fast: pod-ready, pod-complete, pod-delete), which make every pod Ready.
KWOK_STAGES: list[dict] = [
    _stage("pod-ready", [_NOT_DELETED, _NOT_STARTED, _jq(_UNHEALTHY, "NotIn", "true")],
           _status_patch(_START_TEMPLATE)),
    _stage("pod-unhealthy", [_NOT_DELETED, _NOT_STARTED, _jq(_UNHEALTHY, "In", "true")],
           {"event": {"type": "Warning", "reason": "Unhealthy",
                      "message": f"simulated: an image tag ends in {BROKEN_SUFFIX} or {CRASH_SUFFIX}"},
            **_status_patch(_START_TEMPLATE)}),
    _stage("pod-crash-loop", [_NOT_DELETED, _jq(".status.podIP", "Exists"),
                              _jq(".status.phase", "In", "Running"), _jq(_CRASHING, "In", "true")],
           _status_patch(_CRASH_LOOP_TEMPLATE),
           delay={"durationMilliseconds": CRASH_LOOP_DELAY_MS,
                  "durationFrom": {"jq": {"expression": f'.metadata.annotations["{CRASH_LOOP_DELAY_ANNOTATION}"]'}}}),
    # A Job's pod completes (kwok's default), unless one of its images is broken or crashing.
    _stage("pod-complete", [_NOT_DELETED, _jq(".status.phase", "In", "Running"),
                            _jq(".metadata.ownerReferences.[].kind", "In", "Job"), _jq(_UNHEALTHY, "NotIn", "true")],
           _status_patch("""\
      {{ $now := Now }}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            exitCode: 0
            finishedAt: {{ $now | Quote }}
            reason: Completed
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: Succeeded
""")),
    _stage("pod-delete", [_jq(".metadata.deletionTimestamp", "Exists")],
           {"finalizers": {"empty": True}, "delete": True}),
]


class _Dumper(yaml.SafeDumper):  # pylint: disable=too-many-ancestors
    """Multi-line strings (the templates) as literal blocks, so that kwok.yaml reads like kwok's own stages."""


_Dumper.add_representer(str, lambda dumper, data: dumper.represent_scalar(
    "tag:yaml.org,2002:str", data, style="|" if "\n" in data else None))


def kwok_config() -> str:
    """The text of kwok's ``--config`` file: the documents of :data:`KWOK_STAGES`."""
    return yaml.dump_all(KWOK_STAGES, Dumper=_Dumper, sort_keys=False, width=1000)


_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def _capacity(flavor: str) -> tuple[int, int]:
    if flavor in FLAVORS:
        return FLAVORS[flavor]
    m = re.match(r"^[a-z]+\d*-(\d+)", flavor or "")
    ram = int(m.group(1)) if m else 8
    return max(1, min(64, ram // 4 or 1)), ram


def _node_ip(name: str) -> str:
    """A stable, distinct-looking private address per node (10.240.0.0/16, like a vRack subnet)."""
    h = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
    return f"10.240.{(h >> 8) % 256}.{h % 254 + 1}"


def _node_name_prefix(pool_name: str) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", pool_name.lower()).strip("-") or "pool"
    return f"{base[:200]}-node-"


def _pool_selector(pool_name: str) -> str:
    return f"{POOL_LABEL}={pool_name}"


def _check(pool_name: str, flavor: str, count: int) -> None:
    if not pool_name or not _LABEL_VALUE.match(pool_name):
        raise ValueError(f"pool name {pool_name!r} is not a valid label value")
    if not flavor or not _LABEL_VALUE.match(flavor):
        raise ValueError(f"flavor {flavor!r} is not a valid label value")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValueError(f"count must be an integer >= 0, got {count!r}")


def pool_labels(pool_name: str, flavor: str, node_name: str, labels: Mapping[str, str] | None = None) -> dict[str, str]:
    out = {
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "type": "kwok",
    }
    out.update(labels or {})
    out.update({
        POOL_LABEL: pool_name,
        OVH_POOL_LABEL: pool_name,
        FLAVOR_LABEL: flavor,
        "beta.kubernetes.io/instance-type": flavor,
        "kubernetes.io/hostname": node_name,
    })
    return out


def node_manifest(name: str, pool_name: str, flavor: str, labels: Mapping[str, str] | None = None) -> dict:
    cpu, ram = _capacity(flavor)
    resources = {"cpu": str(cpu), "memory": f"{ram}Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": pool_labels(pool_name, flavor, name, labels),
            "annotations": {KWOK_ANNOTATION: KWOK_ANNOTATION_VALUE, "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": KUBERNETES_VERSION,
                "kubeProxyVersion": KUBERNETES_VERSION,
                "containerRuntimeVersion": "kwok",
                "osImage": "kwok simulated node",
                "kernelVersion": "",
                "machineID": "", "systemUUID": "", "bootID": "",
            },
            "addresses": [{"type": "InternalIP", "address": _node_ip(name)}, {"type": "Hostname", "address": name}],
            "phase": "Running",
        },
    }


def _client(kubeconfig) -> KubeClient:
    return kubeconfig if isinstance(kubeconfig, KubeClient) else KubeClient(kubeconfig)


def list_pool_nodes(kubeconfig, pool_name: str) -> list[dict]:
    """Node objects of a pool, oldest first."""
    client = _client(kubeconfig)
    items = client.get("/api/v1/nodes", labelSelector=_pool_selector(pool_name))["items"]
    return sorted(items, key=lambda n: (n["metadata"].get("creationTimestamp", ""), n["metadata"]["name"]))


def sync_pool_nodes(kubeconfig: str | os.PathLike, pool_name: str, flavor: str, count: int,
                    labels: Mapping[str, str] | None = None) -> list[str]:
    """Create or delete kwok nodes so that exactly ``count`` nodes carry ``nodepool=<pool_name>``.

    New nodes are named ``<pool>-node-<6 hex>`` (like OVH's) and carry ``nodepool``,
    ``node.k8s.ovh.net/nodepool``, ``node.kubernetes.io/instance-type=<flavor>``,
    ``kubernetes.io/hostname`` and any extra ``labels``, plus the ``kwok.x-k8s.io/node=fake``
    annotation. Existing nodes whose labels differ (flavor or extra labels changed) are patched.
    On scale-down the newest nodes go first. Returns the pool's node names, sorted.
    Does not wait for kwok to mark new nodes Ready (see :func:`wait_pool_ready`).
    """
    _check(pool_name, flavor, count)
    client = _client(kubeconfig)
    try:
        current = list_pool_nodes(client, pool_name)
        keep, extra = current[:count], current[count:]
        for node in reversed(extra):
            client.delete(f"/api/v1/nodes/{node['metadata']['name']}")
        names = []
        for node in keep:
            name = node["metadata"]["name"]
            want = pool_labels(pool_name, flavor, name, labels)
            have = node["metadata"].get("labels") or {}
            if any(have.get(k) != v for k, v in want.items()):
                client.merge_patch(f"/api/v1/nodes/{name}", {"metadata": {"labels": want}})
            names.append(name)
        prefix = _node_name_prefix(pool_name)
        while len(names) < count:
            name = prefix + secrets.token_hex(3)
            try:
                client.create("/api/v1/nodes", node_manifest(name, pool_name, flavor, labels))
            except KubeError as err:
                if err.status == 409:  # name collision: draw another suffix
                    continue
                raise
            names.append(name)
        return sorted(names)
    finally:
        if client is not kubeconfig:
            client.close()


def delete_pool_nodes(kubeconfig: str | os.PathLike, pool_name: str) -> list[str]:
    """Delete every node labelled ``nodepool=<pool_name>``; returns the names deleted, sorted."""
    _check(pool_name, "x", 0)
    client = _client(kubeconfig)
    try:
        names = sorted(n["metadata"]["name"] for n in list_pool_nodes(client, pool_name))
        for name in names:
            client.delete(f"/api/v1/nodes/{name}")
        return names
    finally:
        if client is not kubeconfig:
            client.close()


def _ready(node: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def wait_pool_ready(kubeconfig: str | os.PathLike, pool_name: str, count: int | None = None,
                    timeout: float = 30.0) -> list[str]:
    """Wait until the pool has ``count`` nodes (default: however many it has) and all are Ready."""
    client = _client(kubeconfig)
    deadline = time.monotonic() + timeout
    try:
        while True:
            nodes = list_pool_nodes(client, pool_name)
            ready = [n["metadata"]["name"] for n in nodes if _ready(n)]
            if (count is None or len(nodes) == count) and len(ready) == len(nodes):
                return sorted(ready)
            if time.monotonic() > deadline:
                raise TimeoutError(f"pool {pool_name}: {len(ready)}/{len(nodes)} nodes Ready "
                                   f"(want {count if count is not None else len(nodes)}) after {timeout}s")
            time.sleep(0.2)
    finally:
        if client is not kubeconfig:
            client.close()
