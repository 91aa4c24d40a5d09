"""The Galaxy dependencies are the collections the product uses: galaxy.yml and requirements.yml list the same,
and each one is used (by its FQCN) in the roles, playbooks or plugins, never only declared."""

import os
import re

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRODUCT = ("roles", "playbooks", "plugins", "site.yml")


def product_text():
    for top in PRODUCT:
        path = os.path.join(REPO, top)
        files = [path] if os.path.isfile(path) else [
            os.path.join(d, f) for d, dummy, names in os.walk(path) for f in names if f.endswith((".yml", ".yaml", ".py"))]
        for name in files:
            with open(name, encoding="utf-8") as fh:
                yield name, fh.read()


def declared():
    with open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8") as fh:
        galaxy = sorted((yaml.safe_load(fh).get("dependencies") or {}).keys())
    with open(os.path.join(REPO, "requirements.yml"), encoding="utf-8") as fh:
        requirements = sorted(c["name"] for c in yaml.safe_load(fh).get("collections") or [])
    return galaxy, requirements


def test_galaxy_yml_and_requirements_yml_list_the_same_collections():
    galaxy, requirements = declared()
    assert galaxy == requirements


def test_every_dependency_is_used_by_its_fqcn():
    galaxy = declared()[0]
    texts = list(product_text())
    for collection in galaxy:
        fqcn = re.compile(r"\b%s\.\w+" % re.escape(collection))
        users = [name for name, text in texts if fqcn.search(text)]
        assert users, "%s is a declared dependency, but nothing in %s uses it" % (collection, ", ".join(PRODUCT))
