# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: ovh_cloud
short_description: Managed Kubernetes clusters, node pools, nodes and database services of an OVHcloud project
version_added: 0.1.0
description:
  - Reads the Managed Kubernetes clusters, their node pools and nodes, and the managed database services of a
    Public Cloud project through the OVH API, and makes each of them a host.
  - "Host names: the cluster name (V(keikolatam-dev)); C(<cluster>/<pool>) for a node pool
    (V(keikolatam-dev/system)); C(<cluster>/<pool>/<node>) for a node; C(<engine>/<description>) for a database
    service (V(postgresql/keikolatam-dev))."
  - "Groups: V(ovh_clusters), V(ovh_nodepools), V(ovh_nodes), V(ovh_databases) by kind; C(env_<environment>) by
    environment (see O(environment_regex)); C(region_<region>) and C(status_<status>) (lower case); and
    C(cluster_<name>) with a cluster, its pools and its nodes; C(<engine>_services) (V(postgresql_services)) with
    the database services of an engine. Group names are made safe (C(-) becomes C(_))."
  - "Host variables: C(ovh_kind) (V(cluster), V(nodepool), V(node) or V(database)), C(ovh_id), C(ovh_name),
    C(ovh_region), C(ovh_status), C(ovh_environment) (null when the name does not match), C(ovh_project),
    C(ovh_cluster_name) and C(ovh_cluster_id) (pools and nodes), C(ovh_nodepool_name) (nodes), C(ovh_flavor),
    C(ovh_engine) (databases), and C(ovh_resource), the object as the API returns it (camelCase keys)."
  - The hosts are API objects, not machines to log in to; use them with C(connection=local) (see EXAMPLES).
  - The configuration file must end with C(ovh_cloud.yml) or C(ovh_cloud.yaml).
extends_documentation_fragment:
  - keikolatam.gitops.ovh
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin, which marks the file as its configuration.
    type: str
    required: true
    choices: [keikolatam.gitops.ovh_cloud]
  service_name:
    description:
      - The Public Cloud project ID.
    type: str
    required: true
    env:
      - name: OVH_CLOUD_PROJECT_SERVICE
  include:
    description:
      - What to read. V(nodes) needs one request per cluster, V(clusters) one per cluster, V(databases) one per
        service. Node pools and nodes are read only with their cluster.
    type: list
    elements: str
    choices: [clusters, nodepools, nodes, databases]
    default: [clusters, nodepools, nodes, databases]
  environment_regex:
    description:
      - A regular expression matched against a cluster's name and a database service's description. Its named
        group C(environment) (or else its first group) is the host's C(ovh_environment) and puts it in the group
        C(env_<environment>). Node pools and nodes take their cluster's environment.
    type: str
    default: '^keikolatam-(?P<environment>[a-z0-9]+)$'
notes:
  - The authentication options, like the modules', fall back to the E(OVH_*) environment variables and C(ovh.conf).
  - With O(api_rate_limit), the plugin's requests count against the same limit as the modules' on this control node
    (same endpoint and consumer key or client ID).
    Keep secrets out of the configuration file, or encrypt them with C(!vault).
seealso:
  - module: keikolatam.gitops.ovh_kube_cluster_info
  - module: keikolatam.gitops.ovh_kube_nodepool_info
  - module: keikolatam.gitops.ovh_database_info
"""

EXAMPLES = r"""
# inventories/ovh/keikolatam.ovh_cloud.yml: credentials from the environment (OVH_*), every kind of host.
plugin: keikolatam.gitops.ovh_cloud

---
# Only the clusters and databases, the environment from names like keiko-<env>-<n>, an extra group per
# version (version_cluster_1_32, version_database_17), and a variable for the clusters' API URL. Cached for an hour.
# One request a second, counted with the requests of the playbooks that use the same consumer key.
plugin: keikolatam.gitops.ovh_cloud
service_name: 0123456789abcdef0123456789abcdef
endpoint: ovh-eu
api_rate_limit: 1
include: [clusters, databases]
environment_regex: '^keiko-(?P<environment>[a-z]+)-[0-9]+$'
compose:
  ansible_connection: "'local'"
  api_url: "'https://' ~ ovh_resource.url if ovh_kind == 'cluster' else omit"
keyed_groups:
  - key: ovh_kind ~ '_' ~ (ovh_resource.version | default('none'))
    prefix: version
groups:
  needs_upgrade: ovh_kind == 'cluster' and not (ovh_resource.isUpToDate | default(true))
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/keikolatam-gitops/inventory
cache_timeout: 3600

# Use: ansible-inventory -i inventories/ovh/keikolatam.ovh_cloud.yml --graph
#      ansible -i inventories/ovh/keikolatam.ovh_cloud.yml env_production -m ansible.builtin.debug -a var=ovh_status
"""

import re

from ansible.errors import AnsibleError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.keikolatam.gitops.plugins.module_utils._client import (
    OvhApiError,
    OvhClient,
    OvhConfigError,
)

AUTH_OPTIONS = ("endpoint", "application_key", "application_secret", "consumer_key", "client_id", "client_secret",
                "oauth2_token_url", "api_max_attempts", "api_rate_limit", "api_timeout")
KIND_GROUPS = {"cluster": "ovh_clusters", "nodepool": "ovh_nodepools", "node": "ovh_nodes", "database": "ovh_databases"}


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = "keikolatam.gitops.ovh_cloud"

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(("ovh_cloud.yml", "ovh_cloud.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        self._env_re = self._compile(self.get_option("environment_regex"))

        cache_key = self.get_cache_key(path)
        read_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        objects = None
        if read_cache:
            try:
                objects = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if objects is None:
            objects = self._fetch()
        if update_cache:
            self._cache[cache_key] = objects
        self._populate(objects)

    # -- reading -------------------------------------------------------------------------------------

    @staticmethod
    def _compile(pattern):
        try:
            return re.compile(pattern) if pattern else None
        except re.error as exc:
            raise AnsibleError("environment_regex %r is not a regular expression: %s" % (pattern, exc))

    def _client(self):
        params = dict((name, self.get_option(name)) for name in AUTH_OPTIONS)
        try:
            return OvhClient.from_params(params)
        except OvhConfigError as exc:
            raise AnsibleError("keikolatam.gitops.ovh_cloud: %s" % exc)

    def _fetch(self):
        """Everything the hosts are made of, as plain data (what the cache keeps)."""
        project = self.get_option("service_name")
        if not project:
            raise AnsibleError("keikolatam.gitops.ovh_cloud: set service_name or OVH_CLOUD_PROJECT_SERVICE.")
        include = set(self.get_option("include") or [])
        client = self._client()
        base = "/cloud/project/%s" % project
        out = {"project": project, "clusters": [], "databases": []}
        try:
            if include & {"clusters", "nodepools", "nodes"}:
                for kube_id in client.get(base + "/kube") or []:
                    cluster = client.get_or_none("%s/kube/%s" % (base, kube_id))
                    if cluster is None:
                        continue  # deleted meanwhile
                    entry = {"cluster": cluster, "nodepools": [], "nodes": []}
                    if include & {"nodepools", "nodes"}:
                        entry["nodepools"] = client.get_or_none("%s/kube/%s/nodepool" % (base, kube_id)) or []
                    if "nodes" in include:
                        entry["nodes"] = client.get_or_none("%s/kube/%s/node" % (base, kube_id)) or []
                    out["clusters"].append(entry)
            if "databases" in include:
                for service_id in client.get(base + "/database/service") or []:
                    service = client.get_or_none("%s/database/service/%s" % (base, service_id))
                    if service is not None:
                        out["databases"].append(service)
        except OvhApiError as exc:
            raise AnsibleError("keikolatam.gitops.ovh_cloud: OVH API error: %s" % exc)
        return out

    # -- hosts and groups ----------------------------------------------------------------------------

    def _environment(self, name):
        if not self._env_re or not name:
            return None
        match = self._env_re.search(name)
        if not match:
            return None
        named = match.groupdict().get("environment")
        if named:
            return named
        return match.group(1) if match.groups() else None

    def _group(self, name):
        group = self._sanitize_group_name(name)
        self.inventory.add_group(group)
        return group

    def _add(self, host, kind, hostvars, groups):
        self.inventory.add_host(host)
        for key, value in hostvars.items():
            self.inventory.set_variable(host, key, value)
        names = [KIND_GROUPS[kind]]
        if hostvars.get("ovh_environment"):
            names.append("env_%s" % hostvars["ovh_environment"])
        if hostvars.get("ovh_region"):
            names.append("region_%s" % str(hostvars["ovh_region"]).lower())
        if hostvars.get("ovh_status"):
            names.append("status_%s" % str(hostvars["ovh_status"]).lower())
        names.extend(groups)
        for name in names:
            self.inventory.add_child(self._group(name), host)
        strict = self.get_option("strict")
        variables = self.inventory.get_host(host).get_vars()
        self._set_composite_vars(self.get_option("compose"), variables, host, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), variables, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host, strict=strict)

    def _populate(self, objects):
        include = set(self.get_option("include") or [])
        project = objects["project"]
        for entry in objects["clusters"]:
            cluster = entry["cluster"]
            cname = cluster.get("name") or cluster.get("id")
            env = self._environment(cname)
            family = ["cluster_%s" % cname]
            common = {"ovh_project": project, "ovh_environment": env, "ovh_region": cluster.get("region")}
            if "clusters" in include:
                self._add(cname, "cluster", dict(common, ovh_kind="cluster", ovh_id=cluster.get("id"), ovh_name=cname,
                                                 ovh_status=cluster.get("status"), ovh_resource=cluster), family)
            pools = dict((p.get("id"), p) for p in entry["nodepools"])
            if "nodepools" in include:
                for pool in entry["nodepools"]:
                    self._add("%s/%s" % (cname, pool.get("name")), "nodepool",
                              dict(common, ovh_kind="nodepool", ovh_id=pool.get("id"), ovh_name=pool.get("name"),
                                   ovh_status=pool.get("status"), ovh_flavor=pool.get("flavor"),
                                   ovh_cluster_name=cname, ovh_cluster_id=cluster.get("id"), ovh_resource=pool),
                              family)
            for node in entry["nodes"]:
                pool = pools.get(node.get("nodePoolId")) or {}
                pool_name = pool.get("name") or node.get("nodePoolId") or "unknown"
                self._add("%s/%s/%s" % (cname, pool_name, node.get("name") or node.get("id")), "node",
                          dict(common, ovh_kind="node", ovh_id=node.get("id"), ovh_name=node.get("name"),
                               ovh_status=node.get("status"), ovh_flavor=node.get("flavor"), ovh_cluster_name=cname,
                               ovh_cluster_id=cluster.get("id"), ovh_nodepool_name=pool_name, ovh_resource=node),
                          family)
        for service in objects["databases"]:
            description = service.get("description") or service.get("id")
            engine = service.get("engine") or "database"
            self._add("%s/%s" % (engine, description), "database",
                      {"ovh_project": project, "ovh_kind": "database", "ovh_id": service.get("id"),
                       "ovh_name": description, "ovh_environment": self._environment(description),
                       "ovh_region": _database_region(service), "ovh_status": service.get("status"),
                       "ovh_flavor": service.get("flavor"), "ovh_engine": engine, "ovh_resource": service},
                      ["%s_services" % engine])


def _database_region(service):
    if service.get("region"):
        return service["region"]
    for node in service.get("nodes") or []:
        if isinstance(node, dict) and node.get("region"):
            return node["region"]
    return None
