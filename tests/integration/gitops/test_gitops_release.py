"""gitops_release against the real git server: a deploy is one commit with the message and trailers, the same
images again make none, check mode pushes nothing, a pin refuses another version until clear_pins, a revert
commit (once), a conflicting revert fails, bad input fails before any commit."""

import subprocess

import yaml
from localargo import build as localargo_build

from ovh_scenario import Step

from gitops_play import git, hook_env, write_script

ACTOR = "Ana <ana@keikolatam.example>"
AUTHOR = "Keiko CI <ci@keikolatam.example>"
REG = "registry.example.com/keiko/"
DIGEST = "sha256:" + "ab" * 32
OVERLAY = "k8s/overlays/dev/kustomization.yaml"
IDENTITY = "k8s/overlays/dev/identity/kustomization.yaml"
PINS = "k8s/overlays/dev/pins.yaml"
TOP = """# The services of dev.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - identity
  - learning
  - gateway
"""


def service_text(service, tag=None):
    """A service's kustomization as the role renders it: its image in the middle, other keys around it."""
    text = ("# %s in dev.\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: keiko\n"
            "resources:\n  - ../../../base/%s\n" % (service, service))
    if tag:
        text += 'images:\n  - name: "keiko/%s"\n    newName: "%s%s"\n    newTag: "%s"\n' % (service, REG, service, tag)
    return text + "replicas:\n  - name: %s\n    count: 1\n" % service


def overlay(env="dev", identity="0.1.0", learning="0.3.0"):
    """The files of an environment: identity and learning with an image, the gateway without one yet."""
    return {"k8s/overlays/%s/kustomization.yaml" % env: TOP,
            "k8s/overlays/%s/identity/kustomization.yaml" % env: service_text("identity", identity),
            "k8s/overlays/%s/learning/kustomization.yaml" % env: service_text("learning", learning),
            "k8s/overlays/%s/gateway/kustomization.yaml" % env: service_text("gateway")}


def release(remote, **kw):
    args = dict(remote.auth, author=AUTHOR, environment="dev", known_services=["identity", "learning", "gateway"])
    args.update(kw)
    return args


def trailers(remote, rev):
    out = git("log", "-1", "--format=%(trailers:unfold,only)", rev, cwd=remote.bare)
    return dict(line.split(": ", 1) for line in out.splitlines() if line)


def test_deploy_pin_clear_and_revert(remote, play):
    remote.seed(dict(overlay(), **{"k8s/overlays/staging/kustomization.yaml": "resources: []\n"}))
    deploy_subject = "deploy dev: identity 0.1.0 -> 0.2.0"
    run = play([
        Step("deploy", "gitops_release", release(remote, actor=ACTOR, images={"identity": "0.2.0"},
                                                 source_revision="abc123"), diff=True),
        Step("again", "gitops_release", release(remote, images={"identity": REG + "identity:0.2.0"})),
        Step("preview", "gitops_release", release(remote, images={"learning": REG + "learning@" + DIGEST,
                                                                  "gateway": REG + "gateway:1.0"}), check=True),
        Step("rollback", "gitops_release", release(remote, action="rollback", images={"identity": "0.1.0"}, pin=True,
                                                   reason="0.2.0 breaks the login", actor=ACTOR)),
        Step("rollback_again", "gitops_release", release(remote, action="rollback", images={"identity": "0.1.0"},
                                                         pin=True, reason="again")),
        Step("pinned", "gitops_release", release(remote, images={"identity": "0.2.0"}), fails=True),
        Step("pinned_check", "gitops_release", release(remote, images={"identity": "0.2.0"}), check=True, fails=True),
        Step("promote", "gitops_release", release(remote, action="promote", source_environment="staging",
                                                  images={"learning": "0.3.1"})),
        Step("clear", "gitops_release", release(remote, action="rollback", clear_pins=["identity"]), diff=True),
        Step("redeploy", "gitops_release", release(remote, images={"identity": "0.2.0"})),
        Step("revert", "gitops_release", release(remote, action="rollback", images={},
                                                 revert="{{ step_redeploy.commit }}", reason="smoke check failed")),
        Step("revert_again", "gitops_release", release(remote, action="rollback",
                                                       revert="{{ step_redeploy.commit[:12] }}")),
        Step("revert_noop", "gitops_release", release(remote, action="rollback", revert="{{ step_deploy.commit }}")),
        Step("learning", "gitops_release", release(remote, images={"learning": "0.3.2"})),
        Step("revert_conflict", "gitops_release", release(remote, action="rollback", revert="{{ step_promote.commit }}"),
             fails=True),
        Step("history", "gitops_history", dict(remote.auth, environment="dev", limit=0), check=True),
        Step("history_two", "gitops_history", dict(remote.auth, environment="dev", limit=2)),
        Step("history_staging", "gitops_history", dict(remote.auth, environment="staging")),
        Step("history_bad", "gitops_history", dict(remote.auth, environment="../dev"), fails=True),
    ])
    deploy = run["deploy"]
    assert deploy["changed"] and deploy["files"] == [IDENTITY]
    assert deploy["previous"] == {"identity": REG + "identity:0.1.0", "learning": REG + "learning:0.3.0"}
    assert deploy["images"] == {"identity": REG + "identity:0.2.0", "learning": REG + "learning:0.3.0"}
    assert deploy["diff"] == [{"before_header": IDENTITY, "after_header": IDENTITY,
                               "before": service_text("identity", "0.1.0"),
                               "after": service_text("identity", "0.2.0")}]
    log = remote.log()
    subjects = [row[3] for row in log]
    assert subjects == [
        "deploy dev: learning 0.3.1 -> 0.3.2",
        "rollback dev: identity 0.2.0 -> 0.1.0",            # the revert
        "deploy dev: identity 0.1.0 -> 0.2.0",              # redeploy
        "rollback dev: clear pin identity",
        "promote dev: learning 0.3.0 -> 0.3.1",
        "rollback dev: identity 0.2.0 -> 0.1.0, pin identity 0.1.0",
        deploy_subject,
        "seed",
    ]
    assert all(len(row[1]) <= 1 for row in log)
    assert log[6][0] == deploy["commit"] and log[6][2] == AUTHOR
    assert trailers(remote, deploy["commit"]) == {"Keiko-Action": "deploy", "Keiko-Environment": "dev",
                                                  "Keiko-Source-Revision": "abc123", "Keiko-Actor": ACTOR}
    assert remote.show(IDENTITY, deploy["commit"]) == service_text("identity", "0.2.0")
    assert remote.show(OVERLAY, deploy["commit"]) == TOP

    assert not run["again"]["changed"] and run["again"]["commit"] == deploy["commit"]

    preview = run["preview"]
    assert preview["changed"] and preview["commit"] == deploy["commit"]
    assert preview["message"].startswith("deploy dev: gateway (none) -> 1.0, learning 0.3.0 -> sha256:abababababab")
    assert preview["images"]["gateway"] == REG + "gateway:1.0"

    rollback = run["rollback"]
    assert rollback["files"] == [IDENTITY, PINS]
    pin = yaml.safe_load(remote.show(PINS, rollback["commit"]))["pins"]["identity"]
    assert pin["image"] == REG + "identity:0.1.0" and pin["by"] == ACTOR and pin["reason"] == "0.2.0 breaks the login"
    assert rollback["pins"]["identity"] == pin
    assert remote.message(rollback["commit"]).split("\n")[2] == "0.2.0 breaks the login"
    assert not run["rollback_again"]["changed"]

    for label in ("pinned", "pinned_check"):
        msg = run[label]["msg"]
        assert "identity is pinned to %sidentity:0.1.0 in %s" % (REG, PINS) in msg
        assert "0.2.0 breaks the login" in msg and "clear_pins: [identity]" in msg

    promote = run["promote"]
    assert trailers(remote, promote["commit"])["Keiko-Source-Environment"] == "staging"
    assert trailers(remote, promote["commit"])["Keiko-Action"] == "promote"
    assert trailers(remote, promote["commit"])["Keiko-Actor"] == AUTHOR  # the actor defaults to the author

    clear = run["clear"]
    assert clear["files"] == [PINS] and clear["pins"] == {}
    assert yaml.safe_load(remote.show(PINS, clear["commit"])) == {"pins": {}}
    assert clear["diff"][0]["before_header"] == PINS

    revert = run["revert"]
    assert revert["reverted"] == run["redeploy"]["commit"]
    assert revert["previous"]["identity"] == REG + "identity:0.2.0"
    assert revert["images"]["identity"] == REG + "identity:0.1.0"
    assert trailers(remote, revert["commit"]) == {"Keiko-Action": "rollback", "Keiko-Environment": "dev",
                                                  "Keiko-Actor": AUTHOR, "Keiko-Reverts": run["redeploy"]["commit"]}
    assert "This reverts commit %s" % run["redeploy"]["commit"] in remote.message(revert["commit"])
    assert remote.show(IDENTITY, revert["commit"]) == remote.show(IDENTITY, run["clear"]["commit"])
    assert not run["revert_again"]["changed"] and run["revert_again"]["commit"] == revert["commit"]

    # the first deploy's change is already undone: a revert of it changes nothing
    assert not run["revert_noop"]["changed"] and run["revert_noop"]["commit"] == revert["commit"]
    assert "conflicts with later commits" in run["revert_conflict"]["msg"]
    assert remote.head() == run["learning"]["commit"]

    history = run["history"]
    assert not history["changed"] and history["head"] == remote.head()
    rows = [(e["commit"], e["action"], e["who"], e["changed_services"], e["result"]) for e in history["history"]]
    sha = dict((label, run[label]["commit"]) for label in ("deploy", "rollback", "promote", "clear", "redeploy",
                                                           "revert", "learning"))
    assert rows == [
        (sha["learning"], "deploy", AUTHOR, ["learning"], "current"),
        (sha["revert"], "rollback", AUTHOR, ["identity"], "current"),
        (sha["redeploy"], "deploy", AUTHOR, ["identity"], "reverted by " + sha["revert"]),
        (sha["clear"], "rollback", AUTHOR, [], "current"),
        (sha["promote"], "promote", AUTHOR, ["learning"], "superseded by " + sha["learning"]),
        (sha["rollback"], "rollback", ACTOR, ["identity"], "current"),
        (sha["deploy"], "deploy", ACTOR, ["identity"], "superseded by " + sha["rollback"]),
    ]
    promoted = history["history"][4]
    assert promoted["source"] == "staging" and promoted["subject"] == "promote dev: learning 0.3.0 -> 0.3.1"
    assert promoted["images_before"]["learning"] == REG + "learning:0.3.0"
    assert promoted["images_after"] == {"identity": REG + "identity:0.1.0", "learning": REG + "learning:0.3.1"}
    assert history["history"][1]["reverts"] == sha["redeploy"]
    assert history["history"][6]["source_revision"] == "abc123" and history["history"][6]["author"] == AUTHOR
    assert [e["commit"] for e in run["history_two"]["history"]] == [sha["learning"], sha["revert"]]
    assert run["history_staging"]["history"] == []
    assert "environment '../dev' is not a name" in run["history_bad"]["msg"]


def test_bad_input_fails_before_any_commit(remote, play):
    remote.seed(dict(overlay(), **overlay("prod")))
    remote.seed({"k8s/overlays/legacy/kustomization.yaml": "resources: [../../base/identity]\nimages:\n"
                 "  - {name: keiko/identity, newName: %sidentity, newTag: '0.1.0'}\n" % REG}, message="one file")
    remote.seed({"k8s/overlays/dev/notes.txt": "dev only\n"}, message="a dev-only commit")
    bad = {
        "uppercase": ({"images": {"identity": "registry.example.com/Keiko/identity:1"}}, "not lower case"),
        "empty_tag": ({"images": {"identity": REG + "identity:"}}, "tag after ':' is empty"),
        "short_digest": ({"images": {"identity": REG + "identity@sha256:abc"}}, "64 hex digits"),
        "space": ({"images": {"identity": REG + "identity 1.0"}}, "white space"),
        "no_tag": ({"images": {"identity": REG + "identity"}}, "no tag and no digest"),
        "unknown_service": ({"images": {"billing": REG + "billing:1"}}, "unknown service billing"),
        "unknown_no_list": ({"images": {"billing": REG + "billing:1"}, "known_services": None},
                            "unknown service billing"),
        "bare_tag_new": ({"images": {"gateway": "1.0"}}, "give the whole reference"),
        "both": ({"images": {"identity": "1"}, "revert": "abcdef1"}, "mutually exclusive"),
        "bad_sha": ({"revert": "HEAD~1"}, "not a commit sha"),
        "unknown_sha": ({"revert": "abcdef1"}, "not in the history"),
        "other_env_commit": ({"revert": "{{ seed }}", "environment": "prod"}, "does not change the overlay of prod"),
        "environment": ({"environment": "Dev", "images": {"identity": "1"}}, "environment 'Dev'"),
        "no_overlay": ({"environment": "qa", "images": {"identity": "1"}}, "does not exist"),
        "not_rendered": ({"images": {"search": REG + "search:1"}, "known_services": ["identity", "search"]},
                         "search has no overlay in dev"),
        "one_file_layout": ({"environment": "legacy", "images": {"identity": "1"}}, "the one-file layout"),
        "nothing": ({}, "nothing to do"),
        "url": ({"repo_url": "ssh://example.com/x.git", "images": {"identity": "1"}}, "scheme"),
    }
    seed = remote.head()
    steps = []
    for label, (args, dummy) in bad.items():
        args = release(remote, **args)
        if args.get("revert") == "{{ seed }}":
            args["revert"] = seed
        steps.append(Step(label, "gitops_release", args, fails=True))
        steps.append(Step(label + "_check", "gitops_release", args, check=True, fails=True))
    run = play(steps)
    for label, (dummy, words) in bad.items():
        for key in (label, label + "_check"):
            assert words in run[key]["msg"], (key, run[key]["msg"])
            assert "Nothing was changed" in run[key]["msg"]
    assert remote.head() == seed and remote.count() == 3


def test_a_release_raced_by_another_environments_push_is_rebased_and_both_commits_kept(remote, play, tmp_path):
    base = remote.seed(dict(overlay(), **overlay("staging")))
    staging = service_text("identity", "0.1.1")
    script = write_script(tmp_path, remote, {"k8s/overlays/staging/identity/kustomization.yaml": staging},
                          message="deploy staging: identity 0.1.0 -> 0.1.1")
    env, mark = hook_env(tmp_path, script)
    run = play([Step("raced", "gitops_release", release(remote, images={"identity": "0.2.0"}))], env=env)
    assert mark.exists()
    raced = run["raced"]
    assert raced["retries"] == 1 and raced["commit"] == remote.head()
    log = remote.log()
    assert [row[3] for row in log] == ["deploy dev: identity 0.1.0 -> 0.2.0", "deploy staging: identity 0.1.0 -> 0.1.1",
                                       "seed"]
    assert [len(row[1]) for row in log] == [1, 1, 0] and log[2][0] == base
    assert remote.show("k8s/overlays/staging/identity/kustomization.yaml") == staging
    assert remote.show(IDENTITY) == service_text("identity", "0.2.0")


BASE_DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: identity
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: identity}
  template:
    metadata:
      labels: {app.kubernetes.io/name: identity}
    spec:
      containers:
        - name: identity
          image: keiko/identity
"""


def test_the_edited_overlay_builds_with_kustomize_and_runs_the_written_image(remote, play, tmp_path):
    """kustomize (the build Argo CD uses, from the sandbox's cache) renders the image each release wrote."""
    kustomize = str(localargo_build.bin_dir() / "kustomize")
    remote.seed({"k8s/base/identity/kustomization.yaml": "resources: [deployment.yaml]\n",
                 "k8s/base/identity/deployment.yaml": BASE_DEPLOYMENT, OVERLAY: "resources: [identity]\n",
                 IDENTITY: service_text("identity", "0.1.0")})
    run = play([
        Step("digest", "gitops_release", release(remote, images={"identity": DIGEST})),
        Step("tag", "gitops_release", release(remote, images={"identity": "registry.example.com:5000/keiko/identity:0.4.0"})),
    ])
    images = []
    for label in ("digest", "tag"):
        work = tmp_path / label
        git("clone", "-q", str(remote.bare), str(work))
        git("checkout", "-q", run[label]["commit"], cwd=work)
        built = subprocess.run([kustomize, "build", str(work / "k8s/overlays/dev")], capture_output=True, text=True,
                               timeout=120, check=True).stdout
        deployment = next(d for d in yaml.safe_load_all(built) if d and d["kind"] == "Deployment")
        images.append(deployment["spec"]["template"]["spec"]["containers"][0]["image"])
    assert images == [REG + "identity@" + DIGEST, "registry.example.com:5000/keiko/identity:0.4.0"]


def test_the_history_reads_through_the_move_from_the_one_file_layout(remote, play):
    """Commits of the one-file layout (images in the overlay), the render that split it, then a deploy."""
    one_file = ("resources: [../../base/identity, ../../base/learning]\nimages:\n"
                "  - {name: keiko/identity, newName: %sidentity, newTag: '%s'}\n"
                "  - {name: keiko/learning, newName: %slearning, newTag: '0.3.0'}\n")
    remote.seed({OVERLAY: one_file % (REG, "0.0.9", REG)})
    old = remote.seed({OVERLAY: one_file % (REG, "0.1.0", REG)},
                      message="deploy dev: identity 0.0.9 -> 0.1.0\n\nKeiko-Action: deploy\nKeiko-Environment: dev\n")
    remote.seed(overlay(),
                message="render dev\n\nKeiko-Action: render\nKeiko-Environment: dev\n")
    run = play([
        Step("deploy", "gitops_release", release(remote, images={"learning": "0.3.1"})),
        Step("history", "gitops_history", dict(remote.auth, environment="dev", actions=["deploy", "render"])),
    ])
    rows = [(e["commit"], e["action"], e["changed_services"], e["images_before"], e["images_after"], e["result"])
            for e in run["history"]["history"]]
    split = {"identity": REG + "identity:0.1.0", "learning": REG + "learning:0.3.0"}
    assert rows == [
        (run["deploy"]["commit"], "deploy", ["learning"], split, dict(split, learning=REG + "learning:0.3.1"), "current"),
        (rows[1][0], "render", [], split, split, "current"),
        (old, "deploy", ["identity"], dict(split, identity=REG + "identity:0.0.9"), split, "current"),
    ]
