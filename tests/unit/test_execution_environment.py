"""The execution environment (execution-environment.yml): the build context `ansible-builder create` writes from it,
and its drift from the collection's requirements (requirements.txt, requirements.yml, galaxy.yml).

No image is built (no container engine here): the context is generated into a temporary directory and read; its
galaxy stage's own install command and its builder stage's introspection run against a collections directory that
holds, instead of Galaxy downloads, the collections `ansible` (tests/requirements.txt) bundles.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EE_FILE = "execution-environment.yml"
CONSTRAINTS_FILE = "execution-environment-constraints.txt"
# The files of the checkout the drift check reads (and copies, to change them).
SOURCES = (EE_FILE, CONSTRAINTS_FILE, "requirements.txt", "requirements.yml", "galaxy.yml")
# Collections the execution environment installs that the collection does not depend on (so not in requirements.yml).
EE_ONLY_COLLECTIONS = {"awx.awx": "the playbooks that configure AWX itself"}


# ---------------------------------------------------------------- reading the files


def read_pip_requirements(path: Path, options: bool = False) -> dict[str, SpecifierSet]:
    """name -> specifier of a requirements.txt (comments and blank lines skipped; a name twice is an error; option
    lines such as `-r file` skipped when options is true, refused otherwise)."""
    reqs: dict[str, SpecifierSet] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or (options and line.startswith("-")):
            continue
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name not in reqs, f"{path.name}: {req.name} twice"
        reqs[name] = req.specifier
    return reqs


def read_constraints(path: Path) -> dict[str, Version]:
    """name -> version of a constraints file, where every line is an exact pin."""
    pins: dict[str, Version] = {}
    for name, spec in read_pip_requirements(path).items():
        exact = [s for s in spec if s.operator == "=="]
        if len(exact) != 1 or len(spec) != 1:
            raise ValueError(f"{path.name}: {name}{spec} is not one exact pin")
        pins[name] = Version(exact[0].version)
    return pins


def galaxy_pin(version: str) -> str | None:
    """The version a Galaxy requirement's version pins ("==1.2.3" or "1.2.3"), or None for a range."""
    match = re.fullmatch(r"(?:==)?\s*(\d+\.\d+\.\d+)", str(version).strip())
    return match.group(1) if match else None


def ee_collections(ee: dict) -> dict[str, str]:
    """name -> version of the collections execution-environment.yml installs from Galaxy."""
    galaxy = ee["dependencies"]["galaxy"]
    assert isinstance(galaxy, dict), "dependencies.galaxy: an inline requirements dict"
    return {c["name"]: str(c["version"]) for c in galaxy["collections"]}


def range_specifier(version: str) -> SpecifierSet:
    """A Galaxy version range (">=5.0.0", "*", ">=1,<2") as a specifier set."""
    version = str(version).strip()
    return SpecifierSet("" if version in ("", "*") else version)


def drift(root: Path) -> list[str]:
    """What disagrees between the execution environment (execution-environment.yml and its constraints) and the
    collection's requirements (requirements.txt, requirements.yml, galaxy.yml) in root."""
    problems: list[str] = []
    ee = yaml.safe_load((root / EE_FILE).read_text())
    deps = ee["dependencies"]

    # Python: the execution environment installs requirements.txt itself, and pins each of its packages.
    if deps.get("python") != "requirements.txt":
        problems.append(f"{EE_FILE}: dependencies.python is {deps.get('python')!r}, not the file requirements.txt")
    requirements = read_pip_requirements(root / "requirements.txt")
    try:
        pins = read_constraints(root / CONSTRAINTS_FILE)
    except ValueError as exc:
        problems.append(str(exc))
        pins = {}
    for name, spec in requirements.items():
        if name not in pins:
            problems.append(f"requirements.txt: {name}{spec} is not pinned in {CONSTRAINTS_FILE}")
        elif pins[name] not in spec:
            problems.append(f"{CONSTRAINTS_FILE}: {name}=={pins[name]} is outside requirements.txt's {name}{spec}")
    copies = [e for e in ee.get("additional_build_files", []) if e["src"] == CONSTRAINTS_FILE]
    prepend = "\n".join(ee.get("additional_build_steps", {}).get("prepend_builder", []))
    if not copies or f"/{CONSTRAINTS_FILE} /tmp/src/upper-constraints.txt" not in prepend:
        problems.append(f"{EE_FILE}: {CONSTRAINTS_FILE} is not the builder's upper-constraints.txt")

    # Galaxy: requirements.yml and galaxy.yml name the same collections; the execution environment pins each of
    # them at a version both allow, and installs the collection itself.
    wanted = {c["name"]: str(c.get("version", "*")) for c in yaml.safe_load((root / "requirements.yml").read_text())
              ["collections"]}
    declared = {k: str(v) for k, v in (yaml.safe_load((root / "galaxy.yml").read_text()).get("dependencies") or {})
                .items()}
    for name in sorted(set(wanted) ^ set(declared)):
        where = "requirements.yml" if name in wanted else "galaxy.yml"
        problems.append(f"{name} is in {where} only (requirements.yml and galaxy.yml's dependencies differ)")
    installed = ee_collections(ee)
    for name in sorted(set(wanted) | set(declared)):
        if name not in installed:
            problems.append(f"{name} (requirements.yml, galaxy.yml) is not in {EE_FILE}")
            continue
        pin = galaxy_pin(installed[name])
        if pin is None:
            problems.append(f"{EE_FILE}: {name} {installed[name]} is not a pin")
            continue
        for where, versions in (("requirements.yml", wanted), ("galaxy.yml", declared)):
            if name in versions and Version(pin) not in range_specifier(versions[name]):
                problems.append(f"{EE_FILE}: {name} {pin} is outside {where}'s {versions[name]}")
    for name in sorted(set(installed) - set(wanted) - set(declared) - set(EE_ONLY_COLLECTIONS)):
        problems.append(f"{EE_FILE}: {name} is in neither requirements.yml nor galaxy.yml")
    for name in sorted(set(installed) & set(EE_ONLY_COLLECTIONS)):
        if galaxy_pin(installed[name]) is None:
            problems.append(f"{EE_FILE}: {name} {installed[name]} is not a pin")
    tarball = "keikolatam-gitops-*.tar.gz"
    append = "\n".join(ee.get("additional_build_steps", {}).get("append_galaxy", []))
    if not any(e["src"] == tarball for e in ee.get("additional_build_files", [])) or \
            f"collections/{tarball}" not in append:
        problems.append(f"{EE_FILE}: the collection itself ({tarball}) is not installed")
    return problems


def bundled_version(name: str) -> str:
    """The version of the collection the installed `ansible` package brings, from its MANIFEST.json."""
    namespace, short = name.split(".")
    dist = importlib.metadata.distribution("ansible")
    manifest = Path(dist.locate_file(f"ansible_collections/{namespace}/{short}/MANIFEST.json"))
    info = json.loads(manifest.read_text())["collection_info"]
    assert (info["namespace"], info["name"]) == (namespace, short)
    return info["version"]


def pinned_in_tests(package: str) -> str:
    """The version tests/requirements.txt pins package to (package==X)."""
    spec = read_pip_requirements(ROOT / "tests" / "requirements.txt", options=True)[canonicalize_name(package)]
    (exact,) = [s.version for s in spec if s.operator == "=="]
    return exact


# ---------------------------------------------------------------- the generated context


def run(cmd: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(cmd)}: rc {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def clean_env() -> dict:
    """No ansible.cfg of the checkout (its collections path holds this collection)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="module")
def context(tmp_path_factory) -> Path:
    """`ansible-builder create` of a copy of the checkout's definition, with the collection's tarball built as
    `make build` builds it, next to it."""
    src = tmp_path_factory.mktemp("ee-src")
    for name in SOURCES:
        shutil.copy(ROOT / name, src / name)
    run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(src), str(ROOT)], ROOT, clean_env())
    ctx = tmp_path_factory.mktemp("ee") / "context"
    run([str(BIN / "ansible-builder"), "create", "--file", str(src / EE_FILE), "--context", str(ctx),
         "--output-filename", "Containerfile"], src, clean_env())
    return ctx


@pytest.fixture(scope="module")
def containerfile(context) -> list[str]:
    return (context / "Containerfile").read_text().splitlines()


@pytest.fixture(scope="module")
def ee() -> dict:
    return yaml.safe_load((ROOT / EE_FILE).read_text())


def galaxy_version() -> str:
    return str(yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"])


def test_containerfile_base_image_ansible_core_and_runner(containerfile, ee):
    assert f'ARG EE_BASE_IMAGE="{ee["images"]["base_image"]["name"]}"' in containerfile
    refs = next(line for line in containerfile if line.startswith("ARG ANSIBLE_INSTALL_REFS="))
    assert refs == 'ARG ANSIBLE_INSTALL_REFS="ansible-core==2.19.14 ansible-runner==2.4.3"'
    assert "RUN $PYCMD -m pip install --no-cache-dir $ANSIBLE_INSTALL_REFS" in containerfile


def test_containerfile_installs_the_collections(containerfile):
    galaxy = containerfile.index("FROM base AS galaxy")
    builder = containerfile.index("FROM base AS builder")
    stage = containerfile[galaxy:builder]
    from_requirements = [i for i, line in enumerate(stage) if "ansible-galaxy collection install" in line and
                         "-r requirements.yml" in line]
    from_tarball = [i for i, line in enumerate(stage) if "ansible-galaxy collection install --offline" in line and
                    line.endswith("collections/keikolatam-gitops-*.tar.gz")]
    assert len(from_requirements) == 1 and len(from_tarball) == 1, stage
    # The tarball after the collections it depends on: --offline finds them installed.
    assert from_requirements[0] < from_tarball[0]


def test_containerfile_installs_the_python_requirements_constrained(containerfile):
    builder = containerfile[containerfile.index("FROM base AS builder"):containerfile.index("FROM base AS final")]
    copy = builder.index(f"COPY _build/configs/{CONSTRAINTS_FILE} /tmp/src/upper-constraints.txt")
    introspect = next(i for i, line in enumerate(builder) if "introspect.py introspect" in line)
    assert "--user-pip=requirements.txt" in builder[introspect]
    assert copy < introspect < builder.index("RUN /output/scripts/assemble")
    assert "COPY _build/requirements.txt requirements.txt" in builder
    final = containerfile[containerfile.index("FROM base AS final"):]
    assert "RUN /output/scripts/install-from-bindep && rm -rf /output/wheels" in final


def test_context_python_requirements_are_the_collections(context):
    generated = read_pip_requirements(context / "_build" / "requirements.txt")
    assert generated == read_pip_requirements(ROOT / "requirements.txt")
    assert {"ovh", "kubernetes", "openstacksdk"} <= set(generated)
    assert read_constraints(context / "_build" / "configs" / CONSTRAINTS_FILE) == \
        read_constraints(ROOT / CONSTRAINTS_FILE)


def test_context_collections_are_the_ones_ansible_bundles(context):
    generated = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    pins = {c["name"]: galaxy_pin(c["version"]) for c in generated["collections"]}
    assert set(pins) == {"kubernetes.core", "openstack.cloud", "awx.awx"}
    assert importlib.metadata.version("ansible") == pinned_in_tests("ansible")
    assert pins == {name: bundled_version(name) for name in pins}


def test_context_holds_the_collection_tarball(context):
    (tarball,) = (context / "_build" / "collections").glob("*.tar.gz")
    with tarfile.open(tarball) as tar:
        info = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
    assert (info["namespace"], info["name"], info["version"]) == ("keikolatam", "gitops", galaxy_version())


def test_ansible_core_pin_is_the_one_ansible_brings(ee):
    pin = Version(ee["dependencies"]["ansible_core"]["package_pip"].removeprefix("ansible-core=="))
    (requirement,) = [Requirement(r) for r in importlib.metadata.requires("ansible") or []
                      if canonicalize_name(Requirement(r).name) == "ansible-core"]
    assert pin in requirement.specifier
    installed = Version(importlib.metadata.version("ansible-core"))
    assert (pin.major, pin.minor) == (installed.major, installed.minor)


def test_galaxy_stage_and_introspection(context, containerfile, tmp_path):
    """The galaxy stage's install of the tarball, then the builder stage's introspection, on a collections path
    holding the bundled collections (as `-r requirements.yml` would have installed them): the image's Python
    requirements are the collections' and requirements.txt's, and every pin satisfies each of them."""
    collections = tmp_path / "collections"
    dist = importlib.metadata.distribution("ansible")
    for name in ("kubernetes.core", "openstack.cloud", "awx.awx"):
        namespace, short = name.split(".")
        (collections / "ansible_collections" / namespace).mkdir(parents=True, exist_ok=True)
        (collections / "ansible_collections" / namespace / short).symlink_to(
            Path(dist.locate_file(f"ansible_collections/{namespace}/{short}")))
    (install,) = [line for line in containerfile if line.startswith("RUN ansible-galaxy collection install --offline")]
    command = install.removeprefix("RUN ").replace("/usr/share/ansible/collections", str(collections))
    build = context / "_build"
    run(["bash", "-c", command], build, clean_env())
    manifest = collections / "ansible_collections" / "keikolatam" / "gitops" / "MANIFEST.json"
    assert json.loads(manifest.read_text())["collection_info"]["version"] == galaxy_version()

    merged = tmp_path / "requirements.txt"
    run([sys.executable, str(build / "scripts" / "introspect.py"), "introspect", "--user-pip=requirements.txt",
         f"--write-pip={merged}", f"--write-bindep={tmp_path / 'bindep.txt'}", str(collections)], build, clean_env())
    lines = [line for line in merged.read_text().splitlines() if line.strip()]
    by_origin: dict[str, dict[str, SpecifierSet]] = {}
    for line in lines:
        requirement, origin = line.split("# from collection ")
        req = Requirement(requirement.strip())
        by_origin.setdefault(origin.strip(), {})[canonicalize_name(req.name)] = req.specifier
    ours = read_pip_requirements(ROOT / "requirements.txt")
    assert by_origin["keikolatam.gitops"] == ours
    assert by_origin["user"] == ours
    pins = read_constraints(ROOT / CONSTRAINTS_FILE)
    for origin, reqs in by_origin.items():
        for name, spec in reqs.items():
            if name in pins:
                assert pins[name] in spec, f"{name}=={pins[name]} against {origin}'s {name}{spec}"


# ---------------------------------------------------------------- drift


def test_no_drift():
    assert drift(ROOT) == []


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


DRIFTS = {
    "requirement not pinned": ("requirements.txt", "ovh>=1.2.0,<2\n", "ovh>=1.2.0,<2\njmespath>=1\n",
                               "jmespath>=1 is not pinned"),
    "pin outside the specifier": (CONSTRAINTS_FILE, "openstacksdk==4.14.0", "openstacksdk==4.15.0",
                                  "openstacksdk==4.15.0 is outside"),
    "pin dropped": (CONSTRAINTS_FILE, "kubernetes==37.0.2\n", "", "kubernetes>=24.2.0 is not pinned"),
    "a range, not a pin": (CONSTRAINTS_FILE, "ovh==1.2.0", "ovh>=1.2.0", "is not one exact pin"),
    "python inline": (EE_FILE, "python: requirements.txt", "python: [ovh, kubernetes]",
                      "not the file requirements.txt"),
    "collection not in the EE": ("requirements.yml", "collections:\n",
                                 "collections:\n  - name: community.general\n    version: \">=9.0.0\"\n",
                                 "community.general (requirements.yml, galaxy.yml) is not in"),
    "EE pin outside the range": (EE_FILE, '"==6.2.0"', '"==4.0.0"', "kubernetes.core 4.0.0 is outside"),
    "EE range": (EE_FILE, '"==2.5.0"', '">=2.0.0"', "openstack.cloud >=2.0.0 is not a pin"),
    "EE extra collection": (EE_FILE, "- name: awx.awx", "- name: community.crypto", "community.crypto is in neither"),
    "galaxy.yml only": ("galaxy.yml", 'openstack.cloud: ">=2.0.0"\n',
                        'openstack.cloud: ">=2.0.0"\n  community.general: ">=9.0.0"\n', "in galaxy.yml only"),
    "tarball not installed": (EE_FILE, "collections/keikolatam-gitops-*.tar.gz", "collections/other.tar.gz",
                              "the collection itself"),
    "constraints not used": (EE_FILE, "/tmp/src/upper-constraints.txt", "/tmp/constraints.txt",
                             "is not the builder's upper-constraints.txt"),
}


@pytest.mark.parametrize("change", DRIFTS.values(), ids=DRIFTS.keys())
def test_drift_is_found(tmp_path, change):
    name, old, new, expected = change
    for source in SOURCES:
        shutil.copy(ROOT / source, tmp_path / source)
    assert drift(tmp_path) == []
    _edit(tmp_path / name, old, new)
    problems = drift(tmp_path)
    assert any(expected in p for p in problems), problems
