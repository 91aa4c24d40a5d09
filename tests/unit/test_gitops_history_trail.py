"""gitops_history's trail() on made-up commits: the environment's entries newest first, who, source, result."""

from ansible_collections.keikolatam.gitops.plugins.module_utils._git import build_message
from ansible_collections.keikolatam.gitops.plugins.modules import gitops_history as hist


def overlay(identity, learning="0.3.0"):
    return {"identity": "r.io/keiko/identity:" + identity, "learning": "r.io/keiko/learning:" + learning}


def commit(sha, subject, **trailers):
    return {"sha": sha, "parents": ["p" + sha], "author": "CI", "email": "ci@x.io", "when": "2026-12-01T00:00:0%s+00:00"
            % sha[-1], "message": build_message(subject, dict((k.replace("_", "-"), v) for k, v in trailers.items()))}


def test_trail_lists_the_environments_entries_with_their_results():
    commits = [  # newest first
        commit("c5", "rollback dev: identity 0.3.0 -> 0.2.0", Keiko_Action="rollback", Keiko_Environment="dev",
               Keiko_Reverts="c4", Keiko_Actor="Ana <ana@x.io>"),
        commit("c4", "deploy dev: identity 0.2.0 -> 0.3.0", Keiko_Action="deploy", Keiko_Environment="dev"),
        commit("c3", "render dev", Keiko_Action="render", Keiko_Environment="dev"),
        commit("c2", "deploy staging: identity", Keiko_Action="deploy", Keiko_Environment="staging"),
        commit("c1", "promote dev: identity 0.1.0 -> 0.2.0, learning 0.3.0 -> 0.3.1", Keiko_Action="promote",
               Keiko_Environment="dev", Keiko_Source_Environment="staging", Keiko_Source_Revision="abc"),
        commit("c0", "deploy dev: identity 0.0.1 -> 0.1.0", Keiko_Action="deploy", Keiko_Environment="dev"),
        commit("b0", "a commit without trailers"),
    ]
    images = {"c5": (overlay("0.2.0", "0.3.1"), overlay("0.3.0", "0.3.1")),
              "c4": (overlay("0.3.0", "0.3.1"), overlay("0.2.0", "0.3.1")),
              "c3": (overlay("0.2.0", "0.3.1"), overlay("0.2.0", "0.3.1")),
              "c1": (overlay("0.2.0", "0.3.1"), overlay("0.1.0")),
              "c0": (overlay("0.1.0"), overlay("0.0.1"))}
    entries = hist.trail(commits, images, overlay("0.2.0", "0.3.1"), "dev", ["deploy", "promote", "rollback"], 0)
    assert [(e["commit"], e["action"], e["who"], e["result"]) for e in entries] == [
        ("c5", "rollback", "Ana <ana@x.io>", "current"),
        ("c4", "deploy", "CI <ci@x.io>", "reverted by c5"),
        ("c1", "promote", "CI <ci@x.io>", "current"),
        ("c0", "deploy", "CI <ci@x.io>", "superseded by c1"),
    ]
    promote = entries[2]
    assert promote["source"] == "staging" and promote["source_revision"] == "abc"
    assert promote["changed_services"] == ["identity", "learning"]
    assert promote["images_before"] == {"identity": "r.io/keiko/identity:0.1.0", "learning": "r.io/keiko/learning:0.3.0"}
    assert entries[0]["reverts"] == "c4" and entries[1]["reverts"] == ""
    assert [e["commit"] for e in hist.trail(commits, images, overlay("0.2.0", "0.3.1"), "dev", ["deploy"], 1)] == ["c4"]
    assert hist.trail(commits, images, None, "production", ["deploy"], 0) == []
    with_render = hist.trail(commits, images, overlay("0.2.0", "0.3.1"), "dev", ["render"], 0)
    assert [e["commit"] for e in with_render] == ["c3"] and with_render[0]["changed_services"] == []
