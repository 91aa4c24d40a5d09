# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the Managed Kubernetes modules share.

PRIVATE to this collection: not a public API, may change in any release.

- :class:`KubeModule`: an :class:`OvhModule` that finds a cluster by name or
  id, reads it with the "404 right after a create" allowance, and waits until
  no operation runs on it before a sub-resource (node pool, OIDC, IP
  restrictions) is changed;
- version parsing (``1.29``, ``1.29.3-1``);
- the checks against what the API offers (regions, versions, admission
  plugins, node pool flavors), before any write;
- the cluster's upgrades and actions: :meth:`KubeModule.plan_upgrade` (one
  NEXT_MINOR update per minor, LATEST_PATCH), :meth:`KubeModule.action_step`
  (reset, restart) and :meth:`KubeModule.post_action`, a non-create POST that
  is resent after an ambiguous answer only when the cluster shows it was not
  applied;
- the bodies of the parts that an update replaces whole or merges: a cluster's
  customization (durations compared by value), a node pool's template and
  autoscaling settings.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhAmbiguousWrite, OvhApiError
import copy
import json

from ansible_collections.keikolatam.gitops.plugins.module_utils._module import OvhModule, camel_keys, drop_none
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import ERROR, KUBE_CLUSTER, WaitError

# The schema's model of the versions a cluster can be created with (the endpoint serves its schema, /cloud.json).
VERSION_ENUM = "cloud.kube.VersionEnum"

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:-.*)?$")
_MINOR_RE = re.compile(r"^\d+\.\d+$")
_DURATION_RE = re.compile(r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$")
# The duration settings of the kube-proxy customization.
DURATION_OPTS = ("min_sync_period", "sync_period", "tcp_fin_timeout", "tcp_timeout", "udp_timeout")
NEVER_UPDATE = ("Kubernetes cluster %s refuses version updates with the update policy NEVER_UPDATE: set update_policy to "
                "MINIMAL_DOWNTIME or ALWAYS_UPDATE (in the same task) to upgrade it.")


def parse_version(version):
    """``"1.29.3-1"`` -> ``(1, 29, 3)``, ``"1.29"`` -> ``(1, 29, None)``; None when unreadable."""
    match = _VERSION_RE.match(str(version or "").strip())
    if not match:
        return None
    patch = match.group(3)
    return int(match.group(1)), int(match.group(2)), int(patch) if patch is not None else None


def minor_of(version):
    """``"1.29.3-1"`` -> ``(1, 29)``; None when unreadable."""
    parsed = parse_version(version)
    return parsed[:2] if parsed else None


def is_minor_version(text):
    """True for a ``MAJOR.MINOR`` string (what the API accepts as a version)."""
    return bool(_MINOR_RE.match(str(text or "")))


def duration_seconds(text):
    """An RFC 3339 duration (``PT1M30S``) in seconds; None when it is not one."""
    match = _DURATION_RE.match(text or "")
    if not match or text in ("P", "PT"):
        return None
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def comparable(value):
    """Durations as seconds and string lists sorted, so PT1M equals PT60S and order does not count."""
    if isinstance(value, dict):
        return dict((k, comparable(v)) for k, v in value.items())
    if isinstance(value, list):
        return sorted(comparable(v) for v in value) if all(isinstance(v, str) for v in value) else value
    if isinstance(value, str):
        seconds = duration_seconds(value)
        return seconds if seconds is not None else value
    return value


def admission_plugins(opt):
    """The O(customization.api_server.admission_plugins) of ovh_kube_cluster (an empty dict when unset)."""
    return ((opt or {}).get("api_server") or {}).get("admission_plugins") or {}


def check_customization(module, opt):
    """Fail on a plugin both enabled and disabled, or a kube-proxy duration that is not an RFC 3339 duration."""
    plugins = admission_plugins(opt)
    both = sorted(set(plugins.get("enabled") or []) & set(plugins.get("disabled") or []))
    if both:
        module.fail("customization.api_server.admission_plugins: a plugin cannot be both enabled and disabled: %s."
                    % ", ".join(both))
    proxy = (opt or {}).get("kube_proxy") or {}
    for mode in ("iptables", "ipvs"):
        for key in DURATION_OPTS:
            value = (proxy.get(mode) or {}).get(key)
            if value is not None and duration_seconds(value) is None:
                module.fail("customization.kube_proxy.%s.%s must be an RFC 3339 duration such as PT60S, not %r."
                            % (mode, key, value))


def customization_body(opt):
    """The API's customization object from the option (only the parts that are set)."""
    if opt is None:
        return None
    out = {}
    api = (opt.get("api_server") or {}).get("admission_plugins")
    if api is not None:
        out["apiServer"] = {"admissionPlugins": drop_none({"enabled": api.get("enabled"),
                                                           "disabled": api.get("disabled")})}
    proxy = opt.get("kube_proxy") or {}
    kp = dict((mode, drop_none(camel_keys(proxy[mode])))
              for mode in ("iptables", "ipvs") if proxy.get(mode) is not None)
    if kp:
        out["kubeProxy"] = kp
    return out


# The option of the modules that manage a part of a cluster (doc fragment keikolatam.gitops.ovh.kube_cluster).
CLUSTER_ARGS = dict(cluster=dict(type="str", required=True))

# O(template) of ovh_kube_nodepool: option -> (template section, API key)
TEMPLATE_PARTS = (
    ("labels", "metadata", "labels"),
    ("annotations", "metadata", "annotations"),
    ("finalizers", "metadata", "finalizers"),
    ("taints", "spec", "taints"),
    ("unschedulable", "spec", "unschedulable"),
)
EMPTY_TEMPLATE = {"metadata": {"labels": {}, "annotations": {}, "finalizers": []},
                  "spec": {"taints": [], "unschedulable": False}}


def _canon(value):
    return json.dumps(value, sort_keys=True)


def same_part(key, have, want):
    """Whether a part of a node template is the same (lists of finalizers and taints in any order)."""
    if key in ("finalizers", "taints"):
        return sorted(_canon(v) for v in (have or [])) == sorted(_canon(v) for v in (want or []))
    if key in ("labels", "annotations"):
        return (have or {}) == (want or {})
    return bool(have) == bool(want)


def taints(values):
    """Taints as the API takes them (``value`` is required there; an empty value is a valid taint)."""
    return [{"key": t["key"], "value": t.get("value") or "", "effect": t["effect"]} for t in values]


def _template_parts(opt):
    for option, section, key in TEMPLATE_PARTS:
        want = (opt or {}).get(option)
        if want is not None:
            yield option, section, key, taints(want) if option == "taints" else want


def template_body(opt, base):
    """``base`` (a pool's template) with the parts that O(template) (``opt``) sets replaced."""
    body = copy.deepcopy(EMPTY_TEMPLATE)
    for section in ("metadata", "spec"):
        body[section].update(dict((k, v) for k, v in ((base or {}).get(section) or {}).items() if v is not None))
    for _option, section, key, want in _template_parts(opt):
        body[section][key] = want
    return body


def template_changed(opt, base):
    """Whether O(template) (``opt``) changes a part of ``base`` (a pool's template)."""
    return any(not same_part(option, ((base or {}).get(section) or {}).get(key), want)
               for option, section, key, want in _template_parts(opt))


def autoscaling_body(opt, base):
    """``base`` (a pool's autoscaling settings) with those that O(autoscaling) (``opt``) sets; None when unset."""
    if opt is None:
        return None
    return dict(base or {}, **drop_none(camel_keys(opt)))


class KubeModule(OvhModule):
    """Base of the ``ovh_kube_*`` modules."""

    @property
    def kube_path(self):
        return "%s/kube" % self.project_path

    def cluster_path(self, cluster_id):
        return "%s/kube/%s" % (self.project_path, cluster_id)

    @property
    def capabilities_path(self):
        return "%s/capabilities/kube" % self.project_path

    # -- what the API offers ----------------------------------------------------

    def regions(self):
        return sorted(self.client.get(self.capabilities_path + "/regions") or [])

    def require_region(self, region, regions=None):
        """Fail unless ``region`` is a Managed Kubernetes region of the project."""
        regions = self.regions() if regions is None else regions
        if region not in regions:
            self.fail("%s is not a Managed Kubernetes region of project %s (a location such as GRA is not a "
                      "region); the regions are: %s." % (region, self.params["service_name"],
                                                         ", ".join(regions) or "none"))

    def offered_versions(self):
        """The minor versions a cluster can run (the schema's cloud.kube.VersionEnum, as the endpoint serves
        it), oldest first; None, with a warning, when the endpoint serves no schema."""
        try:
            schema = self.client.get("/cloud.json")
        except OvhApiError as exc:
            if exc.http_status in (400, 404):
                self.module.warn("The endpoint does not serve its schema (/cloud.json answered %s): the versions "
                                 "it offers are unknown." % exc.http_status)
                return None
            raise
        enum = ((schema or {}).get("models") or {}).get(VERSION_ENUM, {}).get("enum")
        if enum is None:
            self.module.warn("The API schema has no %s: the versions it offers are unknown." % VERSION_ENUM)
            return None
        return sorted(enum, key=lambda v: parse_version(v) or (0, 0, 0))

    def require_version(self, version):
        """Fail unless ``version`` is one the endpoint offers (not checked when it serves no schema)."""
        offered = self.offered_versions()
        if offered is not None and version not in offered:
            self.fail("Kubernetes %s is not offered (versions: %s)." % (version, ", ".join(offered)))

    def require_admission_plugins(self, asked):
        """Fail unless every plugin of ``asked`` is an admission plugin of Managed Kubernetes."""
        if not asked:
            return
        known = sorted(self.client.get(self.capabilities_path + "/admissionplugins") or [])
        unknown = [x for x in asked if x not in known]
        if unknown:
            self.fail("%s is not an admission plugin of Managed Kubernetes (plugins: %s)."
                      % (", ".join(unknown), ", ".join(known)))

    def require_flavor(self, cluster, flavor):
        """Fail unless ``flavor`` is available for node pools of ``cluster``."""
        flavors = self.client.get(self.cluster_path(cluster["id"]) + "/flavors") or []
        by_name = dict((f.get("name"), f) for f in flavors)
        found = by_name.get(flavor)
        if found is None or found.get("state", "available") != "available":
            offered = sorted(n for n, f in by_name.items() if f.get("state", "available") == "available")
            self.fail("Flavor %s is not available for Kubernetes cluster %s%s. Available flavors: %s." % (
                flavor, cluster.get("name"), " (it is %s)" % found.get("state") if found else "",
                ", ".join(offered) or "none"))

    # -- clusters ------------------------------------------------------------

    def list_clusters(self, ids=None):
        """Every cluster of the project (or of ``ids``), as full objects."""
        if ids is None:
            ids = self.client.get(self.kube_path) or []
        clusters = []
        for cluster_id in ids:
            cluster = self.client.get_or_none(self.cluster_path(cluster_id))
            if cluster is not None:
                clusters.append(cluster)
        return clusters

    def get_cluster(self, cluster_id):
        """The cluster with this ID (one GET; None on a 404)."""
        return self.client.get_or_none(self.cluster_path(cluster_id))

    def find_cluster(self, name=None, cid=None, option="id"):
        """The cluster whose ID is ``cid`` (one GET), else the one named ``name`` (the list and a GET per
        cluster); None when there is none; several with the name fail: the module would not know which one to
        manage."""
        return self.find_by_id_or_name(self.list_clusters, oid=cid, name=name, option=option,
                                       what="Kubernetes cluster", get=self.get_cluster, gone=("DELETED",))

    def require_cluster(self, ref):
        """The cluster of O(cluster), by ID or name; fails when there is none. An ID (a UUID) is one GET; a name,
        or an ID that answers 404 (a cluster may be named like a UUID), lists the clusters."""
        return self.resolve(ref, "Kubernetes cluster", "cluster", self.list_clusters, get=self.get_cluster,
                            gone=("DELETED",))

    def cluster_fetcher(self, cluster_id):
        """A fetch function for the waiter (None on a 404)."""
        return self.fetcher(self.cluster_path(cluster_id))

    def cluster_stable(self, cluster):
        """Wait until no operation runs on the cluster (before a sub-resource write)."""
        if KUBE_CLUSTER.classify(cluster.get("status")) == "ready":
            return cluster
        return self.wait_for("until_stable", self.cluster_fetcher(cluster["id"]), KUBE_CLUSTER,
                             repr(cluster.get("name")))

    def cluster_ready(self, cluster_id, name):
        return self.wait_for("until_ready", self.cluster_fetcher(cluster_id), KUBE_CLUSTER, repr(name))

    def cluster_write(self, cluster, call):
        """Run ``call`` (a write on a cluster sub-resource) once the cluster is stable, then wait if asked."""
        self.cluster_stable(cluster)
        answer = call()
        if self.params.get("wait"):
            self.cluster_ready(cluster["id"], cluster.get("name"))
        return answer

    # -- cluster upgrades (O(version), O(upgrade) of ovh_kube_cluster) ---------

    def check_version(self, current):
        """(the cluster's minor, the asked minor) of an existing cluster; fails on a downgrade."""
        want = self.params["version"]
        if want is None or current is None:
            return None
        have = minor_of(current.get("version"))
        target = minor_of(want)
        if have is None:
            self.fail("Cannot read the version %r of Kubernetes cluster %s."
                      % (current.get("version"), self.label(current)))
        if target[0] != have[0] and target > have:
            self.fail("version %s changes the major version of the cluster's %s: not supported."
                      % (want, current.get("version")))
        if target < have:
            self.fail("version %s is older than the cluster's %s: a downgrade is refused (Kubernetes clusters "
                      "cannot be downgraded; create a new cluster instead)." % (want, current.get("version")))
        return have, target

    def patch_wanted(self, current):
        """Whether O(upgrade=latest_patch) sends an update: the cluster is behind, or O(force)."""
        if current is None or self.params["upgrade"] != "latest_patch":
            return False
        behind = current.get("isUpToDate") is False or current.get("controlPlaneIsUpToDate") is False
        return behind or self.params["force"]

    def plan_upgrade(self, plan, current, versions):
        """Add the upgrade steps: one NEXT_MINOR update per minor up to the asked one (``versions``, from
        :meth:`check_version`), then the LATEST_PATCH update when :meth:`patch_wanted`."""
        cid, force = current["id"], self.params["force"]
        if versions and versions[1] > versions[0]:
            have, target = versions
            for minor in range(have[1] + 1, target[1] + 1):
                step_to = "%d.%d" % (have[0], minor)
                plan.add("update version %d.%d -> %s (NEXT_MINOR)" % (have[0], minor - 1, step_to),
                         self.next_minor_step(cid, (have[0], minor)), patch={"version": step_to})
        if self.patch_wanted(current):
            plan.add("update to the latest patch (LATEST_PATCH%s)" % (", force" if force else ""),
                     self.latest_patch_step(cid, force), patch={"isUpToDate": True, "controlPlaneIsUpToDate": True})
        return plan

    # -- non-create POSTs ----------------------------------------------------

    def action_step(self, cid, suffix, body):
        """The step of an action (``/reset``, ``/restart``, ``/update``): :meth:`post_action` once the cluster is
        stable."""
        return lambda: self.when_stable(cid, lambda: self.post_action(self.cluster_path(cid) + suffix, body, cid))

    def post_update(self, cid, body):
        """POST ``/update`` (a version update); a refusal because of the NEVER_UPDATE policy says what to do."""
        try:
            self.post_action(self.cluster_path(cid) + "/update", body, cid)
        except OvhApiError as exc:
            if exc.is_conflict and "NEVER_UPDATE" in (exc.message or ""):
                self.fail((NEVER_UPDATE + " API answer: %s") % (self.label(), exc), exc=exc)
            raise

    def latest_patch_step(self, cid, force):
        """The step of an update to the latest patch of the cluster's minor version."""
        return lambda: self.when_stable(cid, lambda: self.post_update(cid, {"strategy": "LATEST_PATCH",
                                                                            "force": force}))

    def next_minor_step(self, cid, target):
        """The step of one NEXT_MINOR update to the minor ``target`` (``(1, 30)``), waiting until the cluster is
        READY on it; nothing when the cluster is there already (an earlier answer was lost but applied)."""
        def run():
            self.when_stable(cid, lambda: None)
            if minor_of(self.client.get(self.cluster_path(cid)).get("version")) >= target:
                return
            self.post_update(cid, {"strategy": "NEXT_MINOR"})
            self.wait_version(cid, target)
        return run

    def wait_version(self, cid, target):
        """Wait until the cluster is READY on ``target`` (the wait between two minor steps)."""
        def reached(obj):
            status = KUBE_CLUSTER.status_of(obj)
            if obj is not None and KUBE_CLUSTER.classify(status) == ERROR:
                raise WaitError("Kubernetes cluster %s is in error status %s during the update to %d.%d" % (
                    self.label(), status, target[0], target[1]), last_status=status, obj=obj)
            return status == "READY" and (minor_of(obj.get("version")) or (0, 0)) >= target

        self.waiter.until(self.cluster_fetcher(cid), reached, self.label(), describe=KUBE_CLUSTER.status_of)
        self._record_wait()

    def post_action(self, path, body, cluster_id, attempts=3):
        """POST an action (update, reset, restart) on a cluster.

        The client never resends a POST after a 5xx or a timeout. Here the
        cluster is watched for one poll interval: if it leaves READY, the
        action was applied; if it is still READY, it was not, and the POST is
        sent again (at most ``attempts`` times).
        """
        fetch = self.cluster_fetcher(cluster_id)
        window = min(10.0, self.params.get("wait_sleep") or 1.0)
        for attempt in range(1, attempts + 1):
            try:
                return self.client.post(path, body)
            except OvhAmbiguousWrite as exc:
                if attempt == attempts:
                    raise
                cluster = self.waiter.until(fetch, _left_ready, "cluster %s" % cluster_id,
                                            describe=KUBE_CLUSTER.status_of, timeout=window, interval=window,
                                            give_up=True)
                if _left_ready(cluster):
                    self.module.warn("POST %s answered %s %s but was applied." % (
                        path.rsplit("/", 1)[-1], exc.http_status or "", exc.message))
                    return None
        return None  # pragma: no cover - the loop returns or raises


def _left_ready(cluster):
    return cluster is not None and cluster.get("status") != "READY"
