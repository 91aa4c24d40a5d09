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
- :meth:`KubeModule.post_action`: a non-create POST (``update``, ``reset``,
  ``restart``) that is resent after an ambiguous answer only when the cluster
  shows it was not applied.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhAmbiguousWrite, OvhApiError
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import OvhModule
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import KUBE_CLUSTER

# The schema's model of the versions a cluster can be created with (the endpoint serves its schema, /cloud.json).
VERSION_ENUM = "cloud.kube.VersionEnum"

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:-.*)?$")
_MINOR_RE = re.compile(r"^\d+\.\d+$")


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

    def find_cluster(self, name=None, cid=None, option="id"):
        """The cluster whose ID is ``cid``, else the one named ``name`` (None when there is none; several with
        the name fail: the module would not know which one to manage)."""
        ids = self.client.get(self.kube_path) or []
        return self.find_by_id_or_name(
            lambda: self.list_clusters(ids), oid=cid, name=name, option=option, what="Kubernetes cluster",
            get=lambda i: self.client.get_or_none(self.cluster_path(i)) if i in ids else None, gone=("DELETED",))

    def require_cluster(self, ref):
        """The cluster of O(cluster), by ID or name; fails when there is none."""
        ids = self.client.get(self.kube_path) or []
        return self.resolve(ref, "Kubernetes cluster", "cluster", lambda: self.list_clusters(ids),
                            get=lambda i: self.client.get_or_none(self.cluster_path(i)), is_id=lambda r: r in ids,
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

    # -- non-create POSTs ----------------------------------------------------

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
