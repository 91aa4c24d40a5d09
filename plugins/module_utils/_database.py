# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Shared pieces of the managed database modules (ovh_database*).

PRIVATE to this collection: not a public API, may change in any release.

- finding database services engine-neutrally (``/database/service``), by ID
  or by description, so that an engine mismatch is seen before any write;
- :class:`OvhDatabaseChildModule`, the base of the modules that manage
  something inside one service (users, databases, connection pools...):
  the ``cluster``/``engine`` options, the service's path, and waiting for the
  service before writing to it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhApiError
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import OvhModule
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import DATABASE

# Engines whose services live under /cloud/project/{serviceName}/database/<engine> (cloud.json).
ENGINES = ("postgresql", "mysql", "mongodb", "redis", "kafka", "kafkaConnect", "kafkaMirrorMaker",
           "opensearch", "cassandra", "m3db", "m3aggregator", "grafana")
# Engines whose users, databases and pools the child modules manage.
CHILD_ENGINES = ("postgresql",)

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# A service that is going away does not count as "the service with this description".
GOING_AWAY = ("DELETING",)


def is_uuid(value):
    return bool(value) and _UUID_RE.match(str(value)) is not None


def get_service(client, project_path, cluster_id):
    """The service with this ID, whatever its engine (None on 404)."""
    return client.get_or_none("%s/database/service/%s" % (project_path, cluster_id))


def find_services(client, project_path, description=None, engine=None, include_going_away=False):
    """Every service of the project with this description (and engine, when given)."""
    found = []
    for cid in client.get("%s/database/service" % project_path) or []:
        svc = get_service(client, project_path, cid)
        if svc is None:
            continue
        if description is not None and svc.get("description") != description:
            continue
        if engine is not None and svc.get("engine") != engine:
            continue
        if not include_going_away and svc.get("status") in GOING_AWAY:
            continue
        found.append(svc)
    return found


class OvhDatabaseChildModule(OvhModule):
    """Base of the modules that manage an object inside one database service."""

    #: options of every child module (doc fragment keikolatam.gitops.ovh_database)
    CLUSTER_ARGS = dict(
        cluster=dict(type="str", required=True, aliases=["cluster_id"]),
        engine=dict(type="str", default="postgresql", choices=list(CHILD_ENGINES)),
    )

    def __init__(self, argv_module=None):
        self._cluster = None
        super(OvhDatabaseChildModule, self).__init__(argv_module)

    @property
    def engine_path(self):
        return "%s/database/%s" % (self.project_path, self.params["engine"])

    @property
    def cluster_path(self):
        return "%s/%s" % (self.engine_path, self.cluster["id"])

    @property
    def cluster(self):
        """The service named by O(cluster): its ID, or its description. Fails when unknown."""
        if self._cluster is None:
            ref = self.params["cluster"]
            engine = self.params["engine"]
            svc = None
            if is_uuid(ref):
                svc = get_service(self.client, self.project_path, ref)
            if svc is None:
                # The services of this engine first; another engine's only to say why it does not fit.
                named = find_services(self.client, self.project_path, description=ref)
                found = [s for s in named if s.get("engine") == engine] or named
                if len(found) > 1:
                    self.fail("%d database services have the description %r; set cluster to the ID of one of "
                              "them (%s)." % (len(found), ref, ", ".join(sorted(s["id"] for s in found))))
                svc = found[0] if found else None
            if svc is None:
                self.fail("No database service with the ID or description %r in project %s."
                          % (ref, self.params["service_name"]))
            if svc.get("engine") != engine:
                self.fail("The database service %r is a %s service, not %s." % (ref, svc.get("engine"), engine))
            self._cluster = svc
        return self._cluster

    def fetch_cluster(self):
        return self.client.get_or_none(self.cluster_path)

    def wait_cluster_ready(self):
        """Before a write: the service must be READY (objects cannot be created while it provisions)."""
        if self.cluster.get("status") == "READY" or not self.params.get("wait", True):
            return self.cluster
        self._cluster = self.wait_for("until_ready", self.fetch_cluster, DATABASE, self.cluster["id"])
        return self._cluster

    def retry_while_provisioning(self, call, what):
        """Run ``call``; while the service still provisions, the API refuses some creates with
        ``403 Service database '...' does not exist`` (FACTS.md): with O(wait), retry those within
        O(wait_timeout)."""
        if not self.params.get("wait", True):
            return call()
        return self.waiter.retry(call, _still_provisioning, what)

    def child_path(self, kind, oid=None):
        """``<cluster>/<kind>`` (``user``, ``database``, ``connectionPool``), or ``<cluster>/<kind>/<oid>``."""
        path = "%s/%s" % (self.cluster_path, kind)
        return path if oid is None else "%s/%s" % (path, oid)

    def list_objects(self, kind):
        """GET every ``<cluster>/<kind>/<id>``."""
        out = []
        for oid in self.client.get(self.child_path(kind)) or []:
            obj = self.client.get_or_none(self.child_path(kind, oid))
            if obj is not None:
                out.append(obj)
        return out

    def find_object(self, kind, field="name"):
        """The ``kind`` object of the service whose ``field`` is O(name); None when there is none."""
        for obj in self.list_objects(kind):
            if obj.get(field) == self.params["name"]:
                return obj
        return None

    def create_object(self, kind, body, what, adopt=None):
        """Create a ``kind`` object once the service is READY, with :meth:`create_or_adopt` (``self.find``
        finds it); a POST refused because the service still provisions is sent again."""
        self.wait_cluster_ready()
        path = self.child_path(kind)
        return self.create_or_adopt(
            path, body, self.find, what, adopt=adopt,
            send=lambda: self.retry_while_provisioning(lambda: self.client.post(path, body), what))

    def plan_delete_object(self, current, kind, summary, fetch=None, model=None, what=None):
        """The plan that deletes ``current``, a ``kind`` object, once the service is READY (see plan_delete)."""
        return self.plan_delete(current, summary, self.child_path(kind, current["id"]), fetch, model, what,
                                prepare=self.wait_cluster_ready)


def _still_provisioning(exc):
    return isinstance(exc, OvhApiError) and exc.http_status == 403 and "does not exist" in (exc.message or "")
