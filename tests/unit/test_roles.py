"""Every role documents its arguments, and meta/argument_specs.yml stays in step with defaults/main.yml."""

import os

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = os.path.join(REPO, "roles")


def roles():
    return sorted(r for r in os.listdir(ROLES) if os.path.isdir(os.path.join(ROLES, r)))


def load(role, *parts):
    path = os.path.join(ROLES, role, *parts)
    with open(path) as f:
        return yaml.safe_load(f) or {}


def test_there_are_roles():
    assert "kube_cluster" in roles() and "database" in roles()


@pytest.mark.parametrize("role", roles())
def test_role_meta_and_argument_specs(role):
    meta = load(role, "meta", "main.yml")
    assert meta["galaxy_info"]["description"] and meta["dependencies"] == []
    specs = load(role, "meta", "argument_specs.yml")["argument_specs"]
    assert specs["main"]["short_description"]
    for entry, spec in specs.items():
        for name, option in spec.get("options", {}).items():
            assert name.startswith(role + "_"), "%s: option %s lacks the role prefix" % (role, name)
            assert option.get("description"), "%s: option %s is not described" % (role, name)
            assert option.get("type"), "%s: option %s has no type" % (role, name)


@pytest.mark.parametrize("role", roles())
def test_argument_specs_match_defaults(role):
    defaults = load(role, "defaults", "main.yml")
    options = load(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    undocumented = sorted(set(defaults) - set(options))
    assert not undocumented, "%s: defaults without argument spec: %s" % (role, undocumented)
    for name, option in options.items():
        if option.get("required"):
            assert name not in defaults, "%s: required option %s has a default in defaults/main.yml" % (role, name)
            assert "default" not in option
            continue
        assert name in defaults, "%s: optional option %s is missing from defaults/main.yml" % (role, name)
        assert option.get("default") == defaults[name], "%s: %s defaults to %r in the spec and %r in defaults" % (
            role, name, option.get("default"), defaults[name])
