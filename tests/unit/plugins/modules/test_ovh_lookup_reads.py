"""The reads of a look-up by ID or name (issue 11): an ID costs one GET and never the listing, a name still lists,
an ID that answers 404 is looked for as a name; and the roles pass the IDs the first task returned."""

import copy
import uuid
from pathlib import Path

import jinja2
import pytest
import yaml

from ansible_collections.keikolatam.gitops.plugins.module_utils import _database
from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhApiError, OvhClient
from ansible_collections.keikolatam.gitops.plugins.module_utils._kube import KubeModule
from ansible_collections.keikolatam.gitops.plugins.module_utils._module import (
    OVH_AUTH_ARGS,
    OVH_PROJECT_ARGS,
    OVH_WAIT_ARGS,
    OvhModule,
)
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import Clock
from ansible_collections.keikolatam.gitops.plugins.modules import ovh_database_info as database_info
from ansible_collections.keikolatam.gitops.plugins.modules import ovh_database_user as database_user
from ansible_collections.keikolatam.gitops.plugins.modules import ovh_kube_nodepool as nodepool
from module_fakes import Failed, make_module

REPO = Path(__file__).resolve().parents[4]
PROJECT = "/cloud/project/p"
KUBE = PROJECT + "/kube"
SERVICES = PROJECT + "/database/service"
WEB = "0c1f8e34-51a2-4d6b-8a3e-7f9b0c2d1e4a"
OPS = "5a9d0e6b-2f4c-4b8e-9d1a-3c7e6f0b2a58"
PG = "9b2e4c6a-8d0f-4a1c-b3e5-7f9a1c3e5b70"
MISSING = "11111111-2222-4333-8444-555555555555"


class Api(object):
    """A project as the API holds it: objects by path (a listing is the list of IDs at the collection's path).
    Every request is recorded; a path it does not hold answers 404 as the API does."""

    def __init__(self, objects):
        self.objects = objects
        self.requests = []
        self.stats = {"retries": 0}

    def get(self, path, **query):
        self.requests.append(("GET", path))
        if path not in self.objects:
            raise OvhApiError("The requested object (%s) does not exist" % path, http_status=404,
                              error_class="Client::NotFound", method="GET", path=path)
        return copy.deepcopy(self.objects[path])

    # The real client's: None on a 404 of this fake's get.
    get_or_none = OvhClient.get_or_none

    def paths(self):
        return [path for _method, path in self.requests]


def clusters(*objects):
    out = {KUBE: [c["id"] for c in objects]}
    out.update(("%s/%s" % (KUBE, c["id"]), dict(c, status=c.get("status", "READY"))) for c in objects)
    return out


def two_clusters(**extra):
    objects = clusters({"id": WEB, "name": "web"}, {"id": OPS, "name": "ops"})
    objects.update(extra)
    return Api(objects)


def kube(api):
    return make_module(KubeModule, client=api, service_name="p")


def params_of(cls, **values):
    """Every option of the module ``cls`` with its default (what AnsibleModule would give it), then ``values``."""
    spec = dict(OVH_AUTH_ARGS, **OVH_PROJECT_ARGS)
    if cls.waits:
        spec.update(OVH_WAIT_ARGS)
    spec.update(cls.argument_spec)
    params = dict((name, option.get("default")) for name, option in spec.items())
    params.update(values)
    return params


# -- Kubernetes clusters ------------------------------------------------------------------------------------

def test_a_cluster_id_is_one_get_and_no_list():
    api = two_clusters()
    assert kube(api).require_cluster(OPS)["name"] == "ops"
    assert api.requests == [("GET", "%s/%s" % (KUBE, OPS))]


def test_a_cluster_name_lists_the_clusters():
    api = two_clusters()
    assert kube(api).require_cluster("ops")["id"] == OPS
    assert api.paths() == [KUBE, "%s/%s" % (KUBE, WEB), "%s/%s" % (KUBE, OPS)]


def test_a_cluster_id_that_answers_404_is_looked_for_as_a_name():
    api = Api(clusters({"id": WEB, "name": "web"}, {"id": OPS, "name": MISSING}))
    assert kube(api).require_cluster(MISSING)["id"] == OPS  # a cluster may be named like an ID
    assert api.paths() == ["%s/%s" % (KUBE, MISSING), KUBE, "%s/%s" % (KUBE, WEB), "%s/%s" % (KUBE, OPS)]


def test_an_unknown_cluster_fails_after_the_get_and_the_list():
    api = two_clusters()
    with pytest.raises(Failed) as exc:
        kube(api).require_cluster(MISSING)
    assert str(exc.value) == "No Kubernetes cluster with the ID or name %s (not found in project p)." % MISSING
    assert api.paths()[:2] == ["%s/%s" % (KUBE, MISSING), KUBE]


def test_a_deleted_cluster_does_not_answer_to_its_name():
    api = Api(clusters({"id": WEB, "name": "web", "status": "DELETED"}, {"id": OPS, "name": "web"}))
    assert kube(api).require_cluster("web")["id"] == OPS


def test_find_cluster_by_id_is_one_get():
    api = two_clusters()
    assert kube(api).find_cluster(cid=WEB)["name"] == "web"
    assert api.requests == [("GET", "%s/%s" % (KUBE, WEB))]
    api.requests[:] = []
    assert kube(api).find_cluster(name="nope") is None
    assert api.paths() == [KUBE, "%s/%s" % (KUBE, WEB), "%s/%s" % (KUBE, OPS)]


POOL = {"id": "pool-1", "name": "default", "flavor": "b2-7", "desiredNodes": 2, "minNodes": 0, "maxNodes": 100,
        "autoscale": False, "antiAffinity": False, "monthlyBilled": False, "status": "READY",
        "autoscaling": {"scaleDownUnneededTimeSeconds": 600, "scaleDownUnreadyTimeSeconds": 1200,
                        "scaleDownUtilizationThreshold": 0.5},
        "template": {"metadata": {"labels": {}, "annotations": {}, "finalizers": []},
                     "spec": {"taints": [], "unschedulable": False}}}


@pytest.mark.parametrize("ref", [OPS, "ops"])
def test_a_node_pool_task_that_changes_nothing(ref):
    """The role's node-pool task, run again: by the cluster's ID, it never lists the clusters."""
    pools = "%s/%s/nodepool" % (KUBE, OPS)
    api = two_clusters(**{pools: [POOL]})
    mod = make_module(nodepool.OvhKubeNodepool, client=api,
                      **params_of(nodepool.OvhKubeNodepool, service_name="p", cluster=ref, name="default",
                                  flavor="b2-7", desired_nodes=2, autoscale=False, wait=False))
    mod.run()
    assert mod.result["changed"] is False and mod.result["nodepool"]["id"] == "pool-1"
    lookup = ["%s/%s" % (KUBE, OPS)] if ref == OPS else [KUBE, "%s/%s" % (KUBE, WEB), "%s/%s" % (KUBE, OPS)]
    assert api.paths() == lookup + [pools]


# -- database services --------------------------------------------------------------------------------------

def services(*objects):
    out = {SERVICES: [s["id"] for s in objects]}
    out.update(("%s/%s" % (SERVICES, s["id"]), dict(s, engine=s.get("engine", "postgresql"), status="READY"))
               for s in objects)
    return out


def two_services(**extra):
    objects = services({"id": PG, "description": "keiko"}, {"id": WEB, "description": "other"})
    objects.update(extra)
    return Api(objects)


def resolve(api, ref):
    mod = make_module(OvhModule, client=api, service_name="p")
    return _database.resolve_service(mod, ref, "service", "postgresql", "%s is %s, not %s")


def test_a_service_id_is_one_get_and_no_list():
    api = two_services()
    assert resolve(api, PG)["description"] == "keiko"
    assert api.requests == [("GET", "%s/%s" % (SERVICES, PG))]


def test_a_service_description_lists_the_services():
    api = two_services()
    assert resolve(api, "keiko")["id"] == PG
    assert api.paths() == [SERVICES, "%s/%s" % (SERVICES, PG), "%s/%s" % (SERVICES, WEB)]


def test_a_service_id_that_answers_404_is_looked_for_as_a_description():
    api = Api(services({"id": PG, "description": MISSING}))
    assert resolve(api, MISSING)["id"] == PG
    assert api.paths() == ["%s/%s" % (SERVICES, MISSING), SERVICES, "%s/%s" % (SERVICES, PG)]


def test_a_user_task_that_changes_nothing_by_the_service_id():
    """The role's user task, run again: by the service's ID, it never lists the services."""
    users = "%s/database/postgresql/%s/user" % (PROJECT, PG)
    user = {"id": "u1", "username": "identity", "status": "READY", "roles": []}
    api = two_services(**{users: ["u1"], users + "/u1": user})
    mod = make_module(database_user.OvhDatabaseUser, client=api,
                      **params_of(database_user.OvhDatabaseUser, service_name="p", service=PG, name="identity",
                                  wait=False))
    mod.run()
    assert mod.result["changed"] is False and mod.result["user"]["id"] == "u1"
    assert SERVICES not in api.paths()
    assert api.paths()[0] == "%s/%s" % (SERVICES, PG)


def test_database_info_by_the_service_id_does_not_list_the_services():
    api = two_services(**{"%s/database/postgresql/%s/database" % (PROJECT, PG): []})
    mod = make_module(database_info.OvhDatabaseInfo, client=api,
                      **params_of(database_info.OvhDatabaseInfo, service_name="p", service=PG, include=["databases"]))
    mod.run()
    assert [s["service"]["id"] for s in mod.result["services"]] == [PG]
    assert api.paths() == ["%s/%s" % (SERVICES, PG), "%s/database/postgresql/%s/database" % (PROJECT, PG)]


# -- the shared rule ----------------------------------------------------------------------------------------

def test_resolve_spends_a_get_only_on_what_can_be_an_id():
    mod = make_module(OvhModule, service_name="p")
    got = []

    def get(oid):
        got.append(oid)
        return {"id": oid, "name": "x"}

    listing = [{"id": "pn-1_0", "name": "net"}]
    assert mod.resolve("net", "network", "network", listing, get=get)["id"] == "pn-1_0"
    assert got == []  # a name is no ID: no GET
    assert mod.resolve(WEB, "network", "network", listing, get=get)["id"] == WEB
    assert got == [WEB]
    # without get, the listing is searched for the ID whatever its shape (private networks: pn-...)
    assert mod.resolve("pn-1_0", "network", "network", listing)["name"] == "net"
    # an explicit is_id still rules
    assert mod.resolve("pn-1_0", "network", "network", listing, get=get, is_id=lambda r: r.startswith("pn-"))
    assert got == [WEB, "pn-1_0"]


# -- against the emulator: its real 404 ---------------------------------------------------------------------

def test_against_the_emulator(ovh_emulator):
    emu = ovh_emulator
    api = emu.ovh_client()
    base = "/cloud/project/%s/kube" % emu.service_name
    created = api.post(base, region="GRA11", name="keiko-reads", version="1.31")
    client = OvhClient(endpoint=emu.endpoint, application_key=emu.info["application_key"],
                       application_secret=emu.info["application_secret"], consumer_key=emu.info["consumer_key"],
                       clock=Clock(sleep=lambda s: None))
    mod = make_module(KubeModule, client=client, service_name=emu.service_name)

    def reads(ref):
        since = max([e["seq"] for e in emu.requests()] or [0])
        try:
            found = mod.require_cluster(ref)["id"]
        except Failed as exc:
            found = str(exc)
        return found, [(e["method"], e["operation"], e["status"]) for e in emu.requests(since=since)
                       if e.get("kind") == "api"]

    one = "/cloud/project/{serviceName}/kube/{kubeId}"
    listing = "/cloud/project/{serviceName}/kube"
    assert reads(created["id"]) == (created["id"], [("GET", one, 200)])
    assert reads("keiko-reads") == (created["id"], [("GET", listing, 200), ("GET", one, 200)])
    unknown = str(uuid.uuid4())
    assert reads(unknown) == ("No Kubernetes cluster with the ID or name %s (not found in project %s)."
                              % (unknown, emu.service_name),
                              [("GET", one, 404), ("GET", listing, 200), ("GET", one, 200)])


# -- the roles pass the IDs -----------------------------------------------------------------------------------

def tasks(path):
    """Every task of a task file, blocks flattened, with the vars of its blocks."""
    def walk(items, inherited):
        for task in items:
            scope = dict(inherited, **(task.get("vars") or {}))
            if "block" in task:
                yield from walk(task["block"], scope)
            else:
                yield task, scope
    return list(walk(yaml.safe_load((REPO / path).read_text()), {}))


def render(text, variables):
    """A task argument as Ansible templates it (the filters used here are Jinja2's own), block vars included."""
    env = jinja2.Environment(undefined=jinja2.ChainableUndefined)
    for _round in range(3):
        if "{{" not in str(text):
            break
        text = env.from_string(text).render(**variables)
    return text


def module_args(path, module):
    return [(task[module], scope) for task, scope in tasks(path) if module in task]


@pytest.mark.parametrize("result, cluster", [({"cluster": {"id": OPS, "name": "ops"}}, OPS),
                                             ({"changed": True}, "ops")])  # check mode, no cluster yet
def test_the_kube_cluster_role_passes_the_cluster_id_to_the_pools(result, cluster):
    found = module_args("roles/kube_cluster/tasks/present.yml", "keikolatam.gitops.ovh_kube_nodepool")
    assert len(found) == 2
    for args, _scope in found:
        assert render(args["cluster"], {"kube_cluster_result": result, "kube_cluster_name": "ops"}) == cluster


@pytest.mark.parametrize("result, service", [({"service": {"id": PG, "description": "keiko"}}, PG),
                                             ({"changed": True}, "keiko")])
def test_the_database_role_passes_the_service_id(result, service):
    path = "roles/database/tasks/present.yml"
    found = []
    for module in ("ovh_database_info", "ovh_database_database", "ovh_database_user"):
        found += module_args(path, "keikolatam.gitops." + module)
    assert len(found) == 3
    for args, scope in found:
        variables = dict(scope, database_result=result, database_description="keiko")
        assert render(args["service"], variables) == service


def test_provision_passes_the_cluster_id_to_the_kubeconfig_role():
    play = yaml.safe_load((REPO / "playbooks" / "provision.yml").read_text())[0]
    role = next(r for r in play["roles"] if r["role"] == "keikolatam.gitops.kubeconfig")
    expr = role["vars"]["kubeconfig_cluster"]
    assert render(expr, {"kube_cluster_current": {"id": OPS}, "keiko_cluster": {"name": "ops"}}) == OPS
    assert render(expr, {"kube_cluster_current": {}, "keiko_cluster": {"name": "ops"}}) == "ops"
