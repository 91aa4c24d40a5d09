"""The AWX objects of roles/awx (playbooks/awx.yml), checked without an AWX server.

- every awx.awx task, rendered by Ansible's own templar for each loop item with the play's module_defaults, passes
  the argument validation of that module's real argument spec (taken from the bundled awx.awx module's main());
- the credential types' injectors set only environment variables that the inventories (or the OVH client) read,
  the OVH one covers both ways of authenticating, and secret inputs are secret;
- the surveys are valid AWX surveys, their choices are the inventories' environments and services, and each survey
  variable is one that the job template's playbook reads;
- the release workflow: deploy dev -> promote staging -> approval -> promote production, each failure edge to the
  rollback of the environment that failed, which ends there.
"""

import copy
import functools
import json
import os
import re
import subprocess
import sys

import jinja2
import jinja2.meta
import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE = os.path.join(REPO, "roles", "awx")
PLAYBOOK = os.path.join(REPO, "playbooks", "awx.yml")
ENVIRONMENTS_IN_INVENTORIES = ("dev", "staging", "production")
LOADER = DataLoader()


def load(path):
    return LOADER.load_from_file(path, trusted_as_template=True)


def role_variables():
    merged = dict(load(os.path.join(ROLE, "defaults", "main.yml")))
    merged.update(load(os.path.join(ROLE, "vars", "main.yml")))
    return merged


def plain(value):
    """Ansible's rendered (tagged) values as JSON's types."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    raise TypeError("%r is not plain data" % (value,))


def render(env):
    """The role's variables and every awx.awx call, rendered by Ansible in a process of its own: the templar's
    lookups need Ansible's plugin loader, whose collection finder must not stay in the test process."""
    run = subprocess.run([sys.executable, __file__, json.dumps(env)], capture_output=True, text=True, timeout=120, check=False,
                         env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def render_here(env):
    from ansible.plugins.loader import init_plugin_loader
    init_plugin_loader([os.path.join(REPO, ".collections")])
    variables = role_variables()
    templar = Templar(loader=LOADER, variables=variables)
    data = {name: templar.template(value) for name, value in variables.items()}
    play, calls = rendered_calls(variables, env)
    return plain({"data": data, "module_defaults": list(play["module_defaults"]), "calls": calls})


CONTROLLER_ENV = {"CONTROLLER_HOST": "https://awx.invalid", "CONTROLLER_OAUTH_TOKEN": "t0ken"}


@pytest.fixture(scope="module")
def rendered():
    return render(CONTROLLER_ENV)


@pytest.fixture(scope="module")
def data(rendered):
    """The role's variables as the tasks see them (every template rendered)."""
    return rendered["data"]


@functools.lru_cache(maxsize=None)
def module_spec(module):
    """The argument spec, mutually_exclusive, required_if... the awx.awx module builds in main()."""
    import importlib

    from ansible_collections.awx.awx.plugins.module_utils import controller_api

    class Captured(Exception):
        pass

    def capture(self, argument_spec=None, **kwargs):
        raise Captured(argument_spec, kwargs)

    mod = importlib.import_module("ansible_collections.awx.awx.plugins.modules." + module)
    argument_spec, kwargs = None, None
    saved = controller_api.ControllerAPIModule.__init__
    controller_api.ControllerAPIModule.__init__ = capture
    try:
        mod.main()
    except Captured as captured:
        argument_spec, kwargs = captured.args
    finally:
        controller_api.ControllerAPIModule.__init__ = saved
    spec = dict(controller_api.ControllerModule.AUTH_ARGSPEC)
    spec.update(argument_spec)
    rules = {k: kwargs[k] for k in ("mutually_exclusive", "required_together", "required_one_of", "required_if",
                                    "required_by") if k in kwargs}
    return spec, rules


def validation_errors(module, params):
    spec, rules = module_spec(module)
    result = ArgumentSpecValidator(spec, **rules).validate(copy.deepcopy(params))
    return [str(e) for e in result.errors]


def rendered_calls(variables, env):
    """(task name, module, params) for every awx.awx task and loop item, as Ansible renders them."""
    play = load(PLAYBOOK)[0]
    tasks = load(os.path.join(ROLE, "tasks", "main.yml"))
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        templar = Templar(loader=LOADER, variables=variables)
        defaults = templar.template(play["module_defaults"]["group/awx.awx.controller"])
        calls = []
        for task in tasks:
            fqcn = [k for k in task if k.startswith("awx.awx.")]
            assert len(fqcn) == 1, task["name"]
            items = templar.template(task["loop"]) if "loop" in task else [None]
            assert items, task["name"]
            for item in items:
                scoped = Templar(loader=LOADER, variables=dict(variables, item=item))
                params = dict(defaults)
                params.update(scoped.template(task[fqcn[0]]))
                calls.append((task["name"], fqcn[0].split(".")[-1], params))
        return play, calls
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def calls(rendered):
    return [tuple(call) for call in rendered["calls"]]


def test_the_play_uses_the_controller_action_group_and_every_task_is_in_it(rendered, calls):
    from ansible_collections.awx import awx
    with open(os.path.join(list(awx.__path__)[0], "meta", "runtime.yml")) as fh:
        group = yaml.safe_load(fh)["action_groups"]["controller"]
    assert rendered["module_defaults"] == ["group/awx.awx.controller"]
    assert sorted({module for dummy, module, dummy2 in calls}) == sorted({module for dummy, module, dummy2 in calls if module in group})
    # The connection comes from the environment: host and token reach every call, nothing is hard-coded.
    for dummy, dummy2, params in calls:
        assert params["controller_host"] == "https://awx.invalid" and params["controller_oauthtoken"] == "t0ken"
        assert "controller_username" not in params and "controller_password" not in params
        assert params["validate_certs"] is True


def test_every_awx_task_passes_its_modules_argument_validation(calls):
    modules = {module for dummy, module, dummy2 in calls}
    assert modules == {"credential_type", "project", "inventory", "inventory_source", "job_template",
                       "workflow_job_template", "workflow_job_template_node"}
    assert len(calls) == 3 + 1 + 4 + 6 + 8 + 1 + 7
    for name, module, params in calls:
        assert validation_errors(module, params) == [], (name, params.get("name") or params.get("identifier"))


@pytest.mark.parametrize("change, expected", [
    ({"bogus_option": 1}, "bogus_option"),
    ({"state": "presnet"}, "state"),
    ({"allow_simultaneous": "maybe"}, "allow_simultaneous"),
])
def test_the_validation_refuses_a_wrong_option_or_choice(calls, change, expected):
    name, module, params = next(c for c in calls if c[1] == "job_template")
    errors = validation_errors(module, dict(params, **change))
    assert errors and expected in " ".join(errors), errors


def test_the_validation_refuses_an_approval_node_with_a_job_template(calls):
    name, module, params = next(c for c in calls if c[1] == "workflow_job_template_node" and "approval_node" in c[2])
    assert validation_errors(module, params) == []
    errors = validation_errors(module, dict(params, unified_job_template="Keiko deploy"))
    assert errors and "mutually exclusive" in " ".join(errors)


def test_the_controller_is_read_from_username_and_password_too():
    env = {"CONTROLLER_HOST": "https://awx.invalid", "CONTROLLER_USERNAME": "admin", "CONTROLLER_PASSWORD": "pw",
           "CONTROLLER_VERIFY_SSL": "false"}
    for name, module, params in render(env)["calls"]:
        assert "controller_oauthtoken" not in params and params["controller_password"] == "pw"
        assert params["validate_certs"] is False
        assert validation_errors(module, params) == [], name


# --- credential types ---------------------------------------------------------------------------------------------

def env_names_read():
    """The environment variables the inventories, playbooks and roles read, and the OVH client's own."""
    names = set()
    pattern = re.compile(r"lookup\('ansible\.builtin\.env', '([A-Z0-9_]+)'")
    for top in ("inventories", "playbooks", "roles"):
        for folder, dummy, files in os.walk(os.path.join(REPO, top)):
            for f in files:
                if f.endswith((".yml", ".yaml")):
                    with open(os.path.join(folder, f), encoding="utf-8") as fh:
                        names.update(pattern.findall(fh.read()))
    from ansible_collections.keikolatam.gitops.plugins.module_utils import _client
    names.update(_client.APPLICATION_ENV + _client.OAUTH2_ENV)
    return names, _client


def types(data):
    return {t["name"]: t for t in data["awx_credential_types"]}


def test_the_credential_types_are_custom_ones_awx_accepts(calls):
    created = [p for dummy, m, p in calls if m == "credential_type"]
    assert sorted(p["name"] for p in created) == ["Keiko Argo CD API", "Keiko GitOps repository", "OVHcloud API"]
    # AWX takes only these kinds for a custom credential type (the module's choices are wider).
    assert {p["kind"] for p in created} <= {"cloud", "net"}


def test_the_injectors_set_only_what_the_inventories_read(data):
    read, dummy = env_names_read()
    for ctype in data["awx_credential_types"]:
        env = ctype["injectors"]["env"]
        assert set(env) - read == set(), ctype["name"]
        assert list(ctype["injectors"]) == ["env"]


def test_the_ovh_type_covers_both_ways_of_authenticating_and_the_project(data):
    dummy, client = env_names_read()
    env = types(data)["OVHcloud API"]["injectors"]["env"]
    assert set(client.APPLICATION_ENV) <= set(env) and set(client.OAUTH2_ENV) <= set(env)
    assert {"OVH_CLOUD_PROJECT_SERVICE", "OVH_ENDPOINT"} <= set(env)
    # The inventories read the project and the application key from these names.
    inventory = open(os.path.join(REPO, "inventories", "production", "host_vars", "production", "ovh.yml")).read()
    for name in ("OVH_CLOUD_PROJECT_SERVICE", "OVH_APPLICATION_KEY", "OVH_APPLICATION_SECRET", "OVH_CONSUMER_KEY"):
        assert "'%s'" % name in inventory


def test_the_gitops_and_argocd_types_cover_every_environment(data):
    assert {"KEIKO_GITOPS_USERNAME", "KEIKO_GITOPS_PASSWORD"} <= set(types(data)["Keiko GitOps repository"]["injectors"]["env"])
    argocd = types(data)["Keiko Argo CD API"]["injectors"]["env"]
    for env in data["awx_environments"]:
        assert "KEIKO_ARGOCD_PASSWORD_" + env.upper() in argocd
        gitops = open(os.path.join(REPO, "inventories", env, "host_vars", env, "gitops.yml")).read()
        assert "'KEIKO_ARGOCD_PASSWORD_%s'" % env.upper() in gitops


def test_the_injectors_are_awx_templates_of_the_types_inputs_and_secrets_are_secret(data):
    for ctype in data["awx_credential_types"]:
        fields = ctype["inputs"]["fields"]
        ids = [f["id"] for f in fields]
        assert len(ids) == len(set(ids)) and set(ctype["inputs"]["required"]) <= set(ids)
        assert {f["type"] for f in fields} <= {"string", "boolean"}
        for field in fields:
            assert field["label"]
            secretish = re.search(r"secret|password|consumer_key|token", field["id"]) is not None
            assert bool(field.get("secret")) == secretish, (ctype["name"], field["id"])
        for name, template in ctype["injectors"]["env"].items():
            # Left for AWX to render (Ansible did not template it), and naming only the type's inputs.
            assert re.fullmatch(r"\{\{ \w+ \}\}", template), (name, template)
            used = jinja2.meta.find_undeclared_variables(jinja2.Environment().parse(template))
            assert used and used <= set(ids), (name, used)


# --- surveys, playbooks, inventories ------------------------------------------------------------------------------

def playbook_variables(playbook):
    """The variables a playbook reads: the undeclared names of every Jinja template and condition in it."""
    class Any(dict):
        """Every filter and test is known: only the names matter here."""

        def __contains__(self, key):
            return True

        def __getitem__(self, key):
            return lambda *a, **k: None

        def get(self, key, default=None):
            return self[key]

    env = jinja2.Environment()
    env.filters, env.tests = Any(), Any()
    found = set()

    def walk(node, condition=False):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, key in ("when", "that", "failed_when", "changed_when", "until"))
        elif isinstance(node, list):
            for value in node:
                walk(value, condition)
        elif isinstance(node, str):
            text = "{{ %s }}" % node if condition and "{{" not in node else node
            if "{{" in text or "{%" in text:
                found.update(jinja2.meta.find_undeclared_variables(env.parse(text)))

    with open(os.path.join(REPO, playbook), encoding="utf-8") as fh:
        walk(yaml.safe_load(fh))
    return found


def check_survey(spec):
    """AWX's rules for a survey (awx/api/views: the survey spec's validation), those a definition can break."""
    assert set(spec) == {"name", "description", "spec"} and spec["name"] and isinstance(spec["spec"], list)
    variables = [q["variable"] for q in spec["spec"]]
    assert len(variables) == len(set(variables)), variables
    for q in spec["spec"]:
        assert q["question_name"] and isinstance(q["required"], bool)
        assert q["type"] in ("text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect")
        assert re.fullmatch(r"[A-Za-z_]\w*", q["variable"])
        if q["type"] in ("multiplechoice", "multiselect"):
            assert isinstance(q["choices"], list) and q["choices"] and all(isinstance(c, str) for c in q["choices"])
            if "default" in q:
                assert q["default"] in q["choices"], q
        if q["type"] == "text":
            assert 0 <= q.get("min", 0) <= q.get("max", 1024)


def surveys(calls):
    for name, module, params in calls:
        if module in ("job_template", "workflow_job_template") and params.get("survey_spec"):
            assert params["survey_enabled"] is True
            yield params["name"], params.get("playbook"), params["survey_spec"]


def test_the_surveys_are_valid(calls):
    found = list(surveys(calls))
    assert len(found) == 6 + 1
    for name, playbook, spec in found:
        check_survey(spec)


def test_every_job_template_runs_a_playbook_of_the_repository_that_reads_its_survey(calls, data):
    templates = [params for dummy, module, params in calls if module == "job_template"]
    assert sorted(t["playbook"] for t in templates) == sorted(
        "playbooks/%s.yml" % p for p in ("provision", "bootstrap", "deploy", "promote", "rollback", "backup",
                                         "restore", "destroy"))
    for template in templates:
        assert os.path.isfile(os.path.join(REPO, template["playbook"])), template["playbook"]
        assert template["project"] == data["awx_project_name"]
        asked = {q["variable"] for q in (template.get("survey_spec") or {"spec": []})["spec"]}
        assert asked <= playbook_variables(template["playbook"]), (template["name"], asked)
        # Runs on all the hosts of its inventory (no env to pick one): the inventory is chosen on launch, no default.
        if "env" not in asked and "to" not in asked:
            assert "inventory" not in template and template["ask_inventory_on_launch"] is True, template["name"]


def test_the_destroy_survey_asks_the_name_that_destroy_yml_checks(calls):
    destroy = next(p for dummy, m, p in calls if m == "job_template" and p["playbook"] == "playbooks/destroy.yml")
    question = next(q for q in destroy["survey_spec"]["spec"] if q["variable"] == "confirm_destroy")
    assert question["type"] == "text" and question["required"] is True and question["min"] >= 1


def destroy_dev(tmp_path, confirm):
    """destroy.yml on the dev inventory in check mode, with no OVH credentials (it cannot reach the API)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OVH_", "KEIKO_"))}
    env.update(KEIKO_SECRETS_DIR=str(tmp_path), ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "inventories/dev",
         "playbooks/destroy.yml", "--check", "-e", "confirm_destroy=" + confirm],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_destroy_yml_refuses_a_confirmation_that_names_another_environment(tmp_path):
    run = destroy_dev(tmp_path, "staging")
    assert run.returncode != 0
    assert "Refusing to destroy dev: confirm with -e confirm_destroy=dev (confirm_destroy names staging)" in run.stdout
    # The right name passes that guard (and stops at the next one: no OVH project in this environment).
    run = destroy_dev(tmp_path, "dev")
    assert run.returncode != 0 and "Refusing to destroy" not in run.stdout, run.stdout
    assert "No OVH project or endpoint" in run.stdout, run.stdout


def inventory_environments():
    envs = {}
    for env in ENVIRONMENTS_IN_INVENTORIES:
        host_vars = os.path.join(REPO, "inventories", env, "host_vars", env)
        with open(os.path.join(REPO, "inventories", env, "hosts.yml")) as fh:
            assert list(yaml.safe_load(fh)["all"]["hosts"]) == [env]
        merged = {}
        for f in sorted(os.listdir(host_vars)):
            with open(os.path.join(host_vars, f)) as fh:
                merged.update(yaml.safe_load(fh))
        assert merged["keiko_environment"] == env
        envs[env] = merged
    return envs


def test_the_survey_choices_are_the_inventories_environments_and_services(calls, data):
    envs = inventory_environments()
    # The environments, in promotion order (each one's keiko_promotion.from is the one before).
    chain = list(data["awx_environments"])
    assert sorted(chain) == sorted(envs)
    assert [envs[e]["keiko_promotion"].get("from") for e in chain] == [None] + chain[:-1]
    services = [s if isinstance(s, str) else s["name"] for s in envs[chain[0]]["keiko_services"]]
    for env in chain:
        assert [s if isinstance(s, str) else s["name"] for s in envs[env]["keiko_services"]] == services
    databases = [s for s in services if s != "gateway"]
    for name, playbook, spec in surveys(calls):
        for q in spec["spec"]:
            if q["variable"] in ("env", "from", "to"):
                assert q["choices"] == chain, (name, q["variable"])
            elif q["variable"] in ("service", "services"):
                assert q["choices"] == services, (name, q["variable"])
            elif q["variable"] == "database":
                assert q["choices"] == databases, name


def test_an_inventory_per_environment_and_one_with_all_sourced_from_inventories(calls, data):
    sources = [p for dummy, m, p in calls if m == "inventory_source"]
    inventories = [p["name"] for dummy, m, p in calls if m == "inventory"]
    expected = {"Keiko " + env: ["inventories/%s/" % env] for env in data["awx_environments"]}
    expected["Keiko environments"] = ["inventories/%s/" % env for env in data["awx_environments"]]
    assert sorted(inventories) == sorted(expected)
    for inventory, paths in expected.items():
        assert [s["source_path"] for s in sources if s["inventory"] == inventory] == paths
    for source in sources:
        assert source["source"] == "scm" and source["source_project"] == data["awx_project_name"]
        assert os.path.isfile(os.path.join(REPO, source["source_path"], "hosts.yml"))


# --- the release workflow -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nodes(calls):
    return [p for dummy, m, p in calls if m == "workflow_job_template_node"]


def test_the_release_workflow_is_deploy_promote_approve_promote(calls, nodes):
    workflow = next(p for dummy, m, p in calls if m == "workflow_job_template")
    assert workflow["name"] == "Keiko release" and workflow["inventory"] == "Keiko environments"
    assert all(n["workflow_job_template"] == workflow["name"] for n in nodes)
    by_id = {n["identifier"]: n for n in nodes}
    assert len(by_id) == len(nodes)
    # The roots: the nodes no edge leads to.
    targets = {t for n in nodes for kind in ("success_nodes", "failure_nodes", "always_nodes") for t in n[kind]}
    roots = [n["identifier"] for n in nodes if n["identifier"] not in targets]
    assert roots == ["deploy-dev"]
    # The success path.
    path, node = [], by_id["deploy-dev"]
    while True:
        path.append(node)
        assert node["always_nodes"] == [] and len(node["success_nodes"]) <= 1
        if not node["success_nodes"]:
            break
        node = by_id[node["success_nodes"][0]]
    assert [n["identifier"] for n in path] == ["deploy-dev", "promote-staging", "approve-production",
                                               "promote-production"]
    deploy, staging, approval, production = path
    assert deploy["unified_job_template"] == "Keiko deploy" and deploy["extra_data"] == {"env": "dev"}
    assert staging["unified_job_template"] == "Keiko promote"
    assert staging["extra_data"] == {"from": "dev", "to": "staging"}
    assert "unified_job_template" not in approval and approval["approval_node"]["name"]
    assert approval["approval_node"]["timeout"] == 86400
    assert production["unified_job_template"] == "Keiko promote"
    assert production["extra_data"] == {"from": "staging", "to": "production", "approved": "true"}
    # The approval gates production: nothing but the approval leads to it.
    assert [n["identifier"] for n in nodes if "promote-production" in n["success_nodes"] + n["failure_nodes"]
            + n["always_nodes"]] == ["approve-production"]


def test_every_failure_runs_the_rollback_of_the_environment_that_failed_and_stops(nodes):
    by_id = {n["identifier"]: n for n in nodes}
    failures = {n["identifier"]: n["failure_nodes"] for n in nodes if n["failure_nodes"]}
    assert failures == {"deploy-dev": ["rollback-dev"], "promote-staging": ["rollback-staging"],
                        "promote-production": ["rollback-production"]}
    for source, (target,) in failures.items():
        rollback = by_id[target]
        failed_env = by_id[source]["extra_data"].get("to") or by_id[source]["extra_data"]["env"]
        assert rollback["unified_job_template"] == "Keiko rollback"
        assert rollback["extra_data"]["env"] == failed_env
        # Only what the failed job left live: a plain rollback would take back the release before it, a good one.
        assert rollback["extra_data"]["after_failure"] == "true"
        assert rollback["success_nodes"] == rollback["failure_nodes"] == rollback["always_nodes"] == []
    # A denied (or timed-out) approval has no failure edge: the workflow stops, production untouched.
    assert by_id["approve-production"]["failure_nodes"] == []
    # Every node is reached, and rollbacks only through failure edges.
    success = {t for n in nodes for t in n["success_nodes"]}
    assert not {i for i in by_id if i.startswith("rollback-")} & success


def test_the_nodes_are_created_after_the_nodes_they_link_to(nodes):
    seen = set()
    for node in nodes:
        for kind in ("success_nodes", "failure_nodes", "always_nodes"):
            assert set(node[kind]) <= seen, (node["identifier"], kind, node[kind])
        seen.add(node["identifier"])


def test_the_nodes_and_the_workflow_pass_only_variables_their_templates_ask(calls, nodes):
    templates = {p["name"]: p for dummy, m, p in calls if m == "job_template"}
    workflow = next(p for dummy, m, p in calls if m == "workflow_job_template")
    asked_by_workflow = {q["variable"] for q in workflow["survey_spec"]["spec"]}
    for node in nodes:
        if "unified_job_template" not in node:
            continue
        template = templates[node["unified_job_template"]]
        asked = {q["variable"] for q in template["survey_spec"]["spec"]}
        assert set(node["extra_data"]) <= asked, node["identifier"]
        # Every required question is answered by the node or the workflow's survey, or has a default.
        for q in template["survey_spec"]["spec"]:
            if q["required"] and "default" not in q:
                assert q["variable"] in set(node["extra_data"]) | asked_by_workflow, (node["identifier"], q["variable"])
    # The workflow's survey (service, image) is read by the playbooks of its deploy and promote nodes.
    assert asked_by_workflow == {"service", "image"}
    assert asked_by_workflow <= playbook_variables("playbooks/deploy.yml")
    assert "service" in playbook_variables("playbooks/promote.yml")


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(REPO, ".collections"))
    print(json.dumps(render_here(json.loads(sys.argv[1]))))
