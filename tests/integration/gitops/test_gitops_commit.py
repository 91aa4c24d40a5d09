"""gitops_commit against the real git server: one commit, none when unchanged, check mode pushes nothing, a
concurrent push is rebased onto and retried (linear history, both commits kept), a conflict fails with the
remote untouched, a wrong password fails without showing it, bad input fails before anything is cloned."""

from ovh_scenario import Step

from gitops_play import git, hook_env, write_script

AUTHOR = "Keiko CI <ci@keikolatam.example>"


def commit(remote, files, message="render dev", **kw):
    return dict(remote.auth, author=AUTHOR, commit_message=message, files=files, **kw)


def test_first_commit_then_no_commit_when_unchanged_and_check_mode_pushes_nothing(remote, play):
    files = {"k8s/overlays/dev/kustomization.yaml": "resources: []\n", "README.md": "# dev\n"}
    run = play([
        Step("missing_branch", "gitops_commit", commit(remote, files), fails=True),
        Step("first", "gitops_commit", commit(remote, files, create_branch=True,
                                              trailers={"Keiko-Environment": "dev", "Keiko-Empty": None}), diff=True),
        Step("again", "gitops_commit", commit(remote, files)),
        Step("preview", "gitops_commit", commit(remote, {"README.md": "# dev, changed\n", "gone.txt": None}),
             check=True, diff=True),
        Step("delete", "gitops_commit", commit(remote, {"README.md": None}, message="drop the readme")),
    ])
    assert "the branch main does not exist" in run["missing_branch"]["msg"]
    first = run["first"]
    assert first["changed"] and first["pushed"] and first["parent"] is None
    assert first["files"] == ["README.md", "k8s/overlays/dev/kustomization.yaml"]
    assert [d["after"] for d in first["diff"]] == ["# dev\n", "resources: []\n"]
    log = remote.log()
    assert len(log) == 2 and log[1][0] == first["commit"]
    assert log[1][2] == AUTHOR
    assert git_message(remote, first["commit"]).rstrip() == "render dev\n\nKeiko-Environment: dev"
    assert remote.show("k8s/overlays/dev/kustomization.yaml", first["commit"]) == "resources: []\n"

    again = run["again"]
    assert not again["changed"] and again["commit"] == first["commit"] and again["files"] == []

    preview = run["preview"]
    assert preview["changed"] and not preview["pushed"] and preview["files"] == ["README.md"]
    assert preview["diff"] == [{"before_header": "README.md", "after_header": "README.md",
                                "before": "# dev\n", "after": "# dev, changed\n"}]
    assert preview["message"].startswith("render dev")

    delete = run["delete"]
    assert delete["changed"] and delete["parent"] == first["commit"] and delete["files"] == ["README.md"]
    assert remote.head() == delete["commit"] and log[0][0] == delete["commit"]
    assert "README.md" not in remote_files(remote)


def git_message(remote, sha):
    return remote.message(sha)


def remote_files(remote):
    return git("ls-tree", "-r", "--name-only", "main", cwd=remote.bare).split()


def test_a_push_between_clone_and_push_is_rebased_and_retried(remote, play, tmp_path):
    base = remote.seed({"k8s/overlays/dev/kustomization.yaml": "resources: []\n"})
    script = write_script(tmp_path, remote, {"k8s/overlays/staging/kustomization.yaml": "resources: []\n"})
    env, mark = hook_env(tmp_path, script)
    run = play([Step("raced", "gitops_commit",
                     commit(remote, {"k8s/overlays/dev/kustomization.yaml": "resources: [a.yaml]\n"}))], env=env)
    assert mark.exists(), "the concurrent push did not run"
    raced = run["raced"]
    assert raced["changed"] and raced["pushed"] and raced["retries"] == 1
    log = remote.log()
    assert [row[3] for row in log] == ["render dev", "a concurrent push", "seed"]
    assert all(len(row[1]) <= 1 for row in log), "history is not linear"
    assert log[0][0] == raced["commit"] == remote.head() and raced["parent"] == log[1][0]
    assert log[2][0] == base
    assert remote.show("k8s/overlays/staging/kustomization.yaml") == "resources: []\n"
    assert remote.show("k8s/overlays/dev/kustomization.yaml") == "resources: [a.yaml]\n"


def test_a_conflicting_concurrent_push_fails_and_leaves_the_remote_untouched(remote, play, tmp_path):
    remote.seed({"app.yaml": "replicas: 1\n"})
    script = write_script(tmp_path, remote, {"app.yaml": "replicas: 3\n"}, message="someone else")
    env, dummy = hook_env(tmp_path, script)
    run = play([Step("conflict", "gitops_commit", commit(remote, {"app.yaml": "replicas: 2\n"}), fails=True)], env=env)
    assert "conflict" in run["conflict"]["msg"] and "app.yaml" in run["conflict"]["msg"]
    assert "nothing was pushed" in run["conflict"]["msg"]
    assert [row[3] for row in remote.log()] == ["someone else", "seed"]
    assert remote.show("app.yaml") == "replicas: 3\n"


def test_a_wrong_password_fails_without_the_password_in_the_output(remote, play):
    remote.seed({"a.txt": "a\n"})
    wrong = "wrong-password-7f3e1a"
    args = commit(remote, {"a.txt": "b\n"}, password=wrong)
    run = play([Step("refused", "gitops_commit", args, fails=True),
                Step("refused_check", "gitops_commit", args, check=True, fails=True)], verbosity=3)
    for label in ("refused", "refused_check"):
        assert "username or password is refused" in run[label]["msg"]
    assert wrong not in run.output and remote.password not in run.output
    assert remote.count() == 1


def test_bad_input_fails_before_anything_is_cloned_or_pushed(remote, play):
    """A few of the refusals (tests/unit/test_git_module_utils.py has every check), each in check mode and for real."""
    remote.seed({"a.txt": "a\n"})
    good = commit(remote, {"a.txt": "b\n"})
    bad = {
        "scheme": (dict(good, repo_url=remote.url.replace("http://", "ftp://")), "scheme"),
        "userinfo": (dict(good, repo_url=remote.url.replace("http://", "http://keiko:%s@" % remote.password)),
                     "carries credentials"),
        "branch": (dict(good, branch="main..x"), "not a valid git branch"),
        "parent_path": (dict(good, files={"../escape.txt": "x"}), "'..'"),
        "author": (dict(good, author="no email"), "Name <email>"),
        "not_text": (dict(good, files={"a.txt": {"a": 1}}), "give its text"),
    }
    steps = []
    for label, (args, dummy) in bad.items():
        steps.append(Step(label, "gitops_commit", args, fails=True))
        steps.append(Step(label + "_check", "gitops_commit", args, check=True, fails=True))
    run = play(steps)
    for label, (dummy, words) in bad.items():
        for key in (label, label + "_check"):
            assert words in run[key]["msg"], (key, run[key]["msg"])
            assert "Nothing was changed" in run[key]["msg"]
    assert remote.password not in run.output
    assert remote.count() == 1 and remote.show("a.txt") == "a\n"


def test_the_gitops_group_sets_the_connection_options_of_every_gitops_module(remote, play):
    remote.seed({"a.txt": "a\n"})
    run = play([
        Step("commit", "gitops_commit", {"author": AUTHOR, "commit_message": "via the group", "files": {"a.txt": "b\n"}}),
        Step("history", "gitops_history", {"environment": "dev"}),
        Step("release", "gitops_release", {"environment": "dev", "images": {"identity": "0.1.0"}}, fails=True),
    ], defaults={"group/keikolatam.gitops.gitops": remote.auth})
    assert run["commit"]["changed"] and remote.head() == run["commit"]["commit"]
    assert run["history"]["history"] == [] and run["history"]["head"] == remote.head()
    # the release took the group's options too: it got as far as the repository (which has no overlay)
    assert "k8s/overlays/dev/kustomization.yaml does not exist" in run["release"]["msg"]
