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

from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhAmbiguousWrite
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import OvhModule
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import KUBE_CLUSTER

# The Terraform provider retries a GET that answers 404 for up to 2 minutes after a create.
NOT_FOUND_AFTER_CREATE = 120.0

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

    def find_cluster(self, ref, by_id=None):
        """The cluster whose id is ``by_id`` or ``ref``, or whose name is ``ref``; None if none.

        Two clusters with the same name are an error: the module would not
        know which one to manage.
        """
        ids = self.client.get(self.kube_path) or []
        wanted_id = by_id or (ref if ref in ids else None)
        if wanted_id:
            return self.client.get_or_none(self.cluster_path(wanted_id)) if wanted_id in ids else None
        matches = [c for c in self.list_clusters(ids) if c.get("name") == ref]
        if len(matches) > 1:
            self.fail("%d clusters are named %r (%s): give the cluster id instead of its name."
                      % (len(matches), ref, ", ".join(c["id"] for c in matches)))
        return matches[0] if matches else None

    def require_cluster(self, ref):
        cluster = self.find_cluster(ref)
        if cluster is None:
            self.fail("Kubernetes cluster %r not found in project %s." % (ref, self.params["service_name"]))
        return cluster

    def cluster_fetcher(self, cluster_id):
        """A fetch function for the waiter (None on a 404; right after a create, wait with
        ``appear_within=NOT_FOUND_AFTER_CREATE``)."""
        path = self.cluster_path(cluster_id)
        return lambda: self.client.get_or_none(path)

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
