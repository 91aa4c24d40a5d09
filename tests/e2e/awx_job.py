"""A job of roles/awx's job templates and workflow, run the way AWX runs it, without an AWX server.

- The survey answers are checked by AWX's rules before anything runs: a required question is answered, a multiple
  choice is one of its choices and each answer of a multiselect is, a text's length is within min and max; a variable
  that no question asks is dropped (the job templates do not ask for variables on launch).
- The credentials become the environment variables that their credential type's env injectors render with AWX's
  templating: Jinja2's immutable sandbox over the credential's inputs, an input left out rendering as "".
- The extra variables merge as in an AWX workflow: a node's extra_data, under the artifacts of the jobs before it,
  under the workflow's survey answers.
- ansible-runner runs the playbook from the project's directory as AWX's worker does (its pexpect mode: a pseudo
  terminal that nobody types into, so a prompt would only wait until the job's timeout), from a process with no
  controlling terminal and no standard input, in an environment of its own (the execution environment's: PATH, HOME
  and what the caller gives).
- The job's artifacts (what it set with set_stats) and its per-host counts (ok, changed, failures) are read from its
  stats event, as AWX reads them into the job's host summaries.

Run as a script, it is the job's process: ``python awx_job.py <private data dir>`` reads ``job.json`` there.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=None)
def definitions() -> dict:
    """roles/awx's variables as AWX gets them, every template rendered (tests/unit/test_awx_definitions.py renders
    them, in a process of its own: once per test process): awx_job_templates, awx_credential_types,
    awx_release_workflow... Not to be changed by the caller."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("awx_definitions", ROOT / "tests/unit/test_awx_definitions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render(module.CONTROLLER_ENV)["data"]


def template(name: str) -> dict:
    """The job template ``name`` of roles/awx (its playbook, survey...)."""
    return next(t for t in definitions()["awx_job_templates"] if t["name"] == name)


class SurveyRefused(Exception):
    """A survey answer that AWX refuses: the job does not start."""


def survey_answers(spec: list[dict], answers: dict) -> dict:
    """The extra variables of a launch with these answers, or SurveyRefused with AWX's reasons."""
    errors, out = [], {}
    for q in spec:
        var = q["variable"]
        if var not in answers or answers[var] in (None, ""):
            if q.get("required"):
                if "default" in q and q["default"] not in (None, ""):
                    out[var] = q["default"]
                else:
                    errors.append(f"{q['question_name']!r} ({var}) is required")
            continue
        value = answers[var]
        kind = q["type"]
        if kind == "multiplechoice":
            if value not in q["choices"]:
                errors.append(f"{value!r} is not a valid choice of {var}: {q['choices']}")
        elif kind == "multiselect":
            values = value if isinstance(value, list) else str(value).split("\n")
            bad = [v for v in values if v not in q["choices"]]
            if bad:
                errors.append(f"{bad!r} are not valid choices of {var}: {q['choices']}")
            value = values
        elif kind in ("text", "textarea", "password"):
            if not isinstance(value, str):
                errors.append(f"{var} must be a string")
            elif not q.get("min", 0) <= len(value) <= q.get("max", 1024):
                errors.append(f"{var} must be {q.get('min', 0)} to {q.get('max', 1024)} characters long")
        out[var] = value
    if errors:
        raise SurveyRefused("; ".join(errors))
    return out


def injected_env(credential_type: dict, inputs: dict) -> dict[str, str]:
    """The environment variables a credential of this type injects, rendered as AWX renders them."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    fields = {f["id"] for f in credential_type["inputs"]["fields"]}
    missing = [f for f in credential_type["inputs"].get("required", []) if not inputs.get(f)]
    assert not missing, f"AWX refuses a {credential_type['name']!r} credential without {missing}"
    assert set(inputs) <= fields, set(inputs) - fields
    sandbox = ImmutableSandboxedEnvironment()
    return {name: sandbox.from_string(template).render(**inputs)
            for name, template in credential_type["injectors"].get("env", {}).items()}


def ovh_credentials(env: dict) -> dict[str, str]:
    """What an "OVHcloud API" credential (application key mode) injects, its inputs read from ``env``'s OVH_*
    variables (the emulator's)."""
    ovh = next(t for t in definitions()["awx_credential_types"] if t["name"] == "OVHcloud API")
    return injected_env(ovh, {
        "endpoint": env["OVH_ENDPOINT"], "project": env["OVH_CLOUD_PROJECT_SERVICE"],
        "application_key": env["OVH_APPLICATION_KEY"], "application_secret": env["OVH_APPLICATION_SECRET"],
        "consumer_key": env["OVH_CONSUMER_KEY"]})


class Job:
    """The outcome of one job: its exit status, its standard output, its artifacts and its host summaries (``stats``:
    ok, changed, failures, dark, skipped, each a mapping of host to count, as the stats event gives them)."""

    def __init__(self, rc: int, status: str, stdout: str, artifacts: dict, stats: dict):
        self.rc, self.status, self.stdout, self.artifacts, self.stats = rc, status, stdout, artifacts, stats


def run(private_data_dir: Path, playbook: str, inventory: str, extra_vars: dict, credentials_env: dict,
        base_env: dict, timeout: float = 900, limit: str = "") -> Job:
    """The job in a process of its own (the environment AWX's worker would have), through ansible-runner; ``limit`` is
    the job template's limit (the hosts of the inventory it runs on)."""
    private_data_dir.mkdir(parents=True, exist_ok=True)
    (private_data_dir / "job.json").write_text(json.dumps({
        "playbook": playbook, "inventory": str(ROOT / inventory), "extravars": extra_vars,
        "envvars": credentials_env, "timeout": int(timeout), "limit": limit}))
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
           "LANG": "C.UTF-8", **base_env}
    proc = subprocess.run([sys.executable, __file__, str(private_data_dir)], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout + 60, check=False,
                          start_new_session=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return Job(result["rc"], result["status"], result["stdout"], result["artifacts"], result["stats"])


def main(private_data_dir: str) -> None:
    import ansible_runner

    spec = json.loads((Path(private_data_dir) / "job.json").read_text())
    assert not sys.stdin.isatty() and "ANSIBLE_CONFIG" not in os.environ
    r = ansible_runner.run(private_data_dir=private_data_dir, project_dir=str(ROOT), playbook=spec["playbook"],
                           inventory=spec["inventory"], extravars=spec["extravars"], envvars=spec["envvars"],
                           timeout=spec["timeout"], limit=spec["limit"] or None, quiet=True)
    artifacts, stats = {}, {}
    for event in r.events:
        if event.get("event") == "playbook_on_stats":
            data = event.get("event_data", {})
            artifacts = data.get("artifact_data") or {}
            stats = {key: data.get(key) or {} for key in ("ok", "changed", "failures", "dark", "skipped")}
    print(json.dumps({"rc": r.rc, "status": r.status, "stdout": r.stdout.read(), "artifacts": artifacts,
                      "stats": stats}))


if __name__ == "__main__":
    main(sys.argv[1])
