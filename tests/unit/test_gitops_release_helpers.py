"""gitops_release without a remote: image references, the kustomization images edit, pins, the message."""

import pytest
import yaml

from ansible_collections.keikolatam.gitops.plugins.modules import gitops_release as rel

DIGEST = "sha256:" + "0123456789abcdef" * 4

KUSTOMIZATION = """# The services of dev: rendered by keikolatam.gitops.gitops_repository from the inventory.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: keiko
resources:
  - ../../base/identity
  - ../../base/learning
patches:
  - target: {kind: Deployment, name: identity}
    patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: identity
images:
  - name: "keiko/identity"
    newName: "registry.example.com/keiko/identity"
    newTag: "0.1.0"
  - name: "keiko/learning"
    newName: "registry.example.com/keiko/learning"
    newTag: "0.3.0"
replicas:
  - name: identity
    count: 1
"""


@pytest.mark.parametrize("ref,parsed", [
    ("registry.example.com/keiko/identity:0.2.0", ("registry.example.com/keiko/identity", "0.2.0", None)),
    ("localhost:5000/keiko/identity:1", ("localhost:5000/keiko/identity", "1", None)),
    ("127.0.0.1:5000/a/b@" + DIGEST, ("127.0.0.1:5000/a/b", None, DIGEST)),
    ("Registry.Example.com/keiko/identity:0.2.0-rc.1", ("Registry.Example.com/keiko/identity", "0.2.0-rc.1", None)),
    ("reg.io/a/b:v1@" + DIGEST, ("reg.io/a/b", "v1", DIGEST)),
    ("keiko/identity:latest", ("keiko/identity", "latest", None)),
    ("0.2.0", (None, "0.2.0", None)),
    ("v1.2.3_build-4", (None, "v1.2.3_build-4", None)),
    (DIGEST, (None, None, DIGEST)),
])
def test_parse_reference_accepts_references_tags_and_digests(ref, parsed):
    got = rel.parse_reference(ref)
    assert (got["name"], got["tag"], got["digest"]) == parsed


@pytest.mark.parametrize("ref,words", [
    ("reg.io/Keiko/identity:0.2.0", "not lower case"),
    ("reg.io/keiko/IDENTITY:0.2.0", "not lower case"),
    ("reg.io/keiko/identity:", "tag after ':' is empty"),
    ("reg.io/keiko/identity@sha256:abc", "64 hex digits"),
    ("sha256:" + "0" * 63, "64 hex digits"),
    ("sha256:" + "G" * 64, "hex digits"),
    ("reg.io/keiko/identity@md5:" + "0" * 32, "sha256:<64 hex digits>"),
    ("reg.io/keiko/identity 0.2.0", "white space"),
    (" 0.2.0", "white space"),
    ("reg.io/keiko/identity", "no tag and no digest"),
    ("reg.io/keiko/identity:bad:tag", "not letters and digits"),
    ("bad_host:5000/keiko/identity:1", "not a registry host"),
    ("reg.io/keiko/identity@", "digest after '@' is empty"),
    (".hidden", "not a tag"),
    ("reg.io/keiko//identity:1", "not letters and digits"),
    ("reg.io/keiko/-x:1", "not letters and digits"),
    ("", "empty"),
    ("reg.io/keiko/identity:" + "x" * 129, "128 at most"),
])
def test_parse_reference_refuses_malformed_references(ref, words):
    with pytest.raises(ValueError) as err:
        rel.parse_reference(ref)
    assert words in str(err.value)


def test_resolve_gives_a_bare_tag_or_digest_the_current_name():
    current = "registry.example.com/keiko/identity:0.1.0"
    assert rel.resolve("0.2.0", current) == "registry.example.com/keiko/identity:0.2.0"
    assert rel.resolve(DIGEST, current) == "registry.example.com/keiko/identity@" + DIGEST
    assert rel.resolve("reg.io/x/y:2", current) == "reg.io/x/y:2"
    with pytest.raises(ValueError) as err:
        rel.resolve("0.2.0", None)
    assert "give the whole reference" in str(err.value)


def test_edit_images_changes_only_the_images_list():
    entries = yaml.safe_load(KUSTOMIZATION)["images"]
    entries[0] = rel.set_entry(entries[0], "identity", "registry.example.com/keiko/identity@" + DIGEST)
    entries.append(rel.set_entry(None, "gateway", "reg.io/keiko/gateway:1.0"))
    new = rel.edit_images(KUSTOMIZATION, entries)
    before, after = KUSTOMIZATION.splitlines(), new.splitlines()
    start = before.index("images:")
    assert after[:start] == before[:start]  # the comment, the keys and their order, the patch's block scalar
    assert after[-3:] == before[-3:] == ["replicas:", "  - name: identity", "    count: 1"]
    assert after[start:start + 9] == [
        "images:",
        '  - name: "keiko/identity"',
        '    newName: "registry.example.com/keiko/identity"',
        '    digest: "%s"' % DIGEST,
        '  - name: "keiko/learning"',
        '    newName: "registry.example.com/keiko/learning"',
        '    newTag: "0.3.0"',
        '  - name: "keiko/gateway"',
        '    newName: "reg.io/keiko/gateway"',
    ]
    data = yaml.safe_load(new)
    assert rel.images_of(data) == {"identity": "registry.example.com/keiko/identity@" + DIGEST,
                                   "learning": "registry.example.com/keiko/learning:0.3.0",
                                   "gateway": "reg.io/keiko/gateway:1.0"}
    assert list(data) == list(yaml.safe_load(KUSTOMIZATION))


def test_edit_images_unchanged_entries_give_the_same_text_as_the_role_renders():
    entries = yaml.safe_load(KUSTOMIZATION)["images"]
    assert rel.edit_images(KUSTOMIZATION, entries) == KUSTOMIZATION


def test_edit_images_adds_the_list_at_the_end_and_handles_a_sequence_at_column_zero():
    text = "kind: Kustomization\nresources:\n- ../../base/identity\n"
    entry = rel.set_entry(None, "identity", "reg.io/keiko/identity:1")
    assert rel.edit_images(text, [entry]).endswith(
        'images:\n  - name: "keiko/identity"\n    newName: "reg.io/keiko/identity"\n    newTag: "1"\n')
    flush = "images:\n- name: keiko/identity\n  newTag: old\nnamespace: keiko\n"
    out = rel.edit_images(flush, [entry])
    assert out.endswith("namespace: keiko\n") and yaml.safe_load(out)["namespace"] == "keiko"
    assert yaml.safe_load(out)["images"] == [entry]


def test_edit_images_refuses_a_file_it_cannot_edit_safely():
    flow = "images: [\n{name: keiko/identity, newTag: old}\n]\nnamespace: keiko\n"
    with pytest.raises(ValueError) as err:
        rel.edit_images(flow, [rel.set_entry(None, "identity", "reg.io/keiko/identity:1")])
    assert "cannot be edited" in str(err.value)
    with pytest.raises(ValueError):
        rel.edit_images("- a\n- b\n", [])


def test_check_pins_refuses_another_version_and_says_how_to_clear_the_pin():
    pins = {"identity": {"image": "reg.io/keiko/identity:0.1.0", "reason": "0.2.0 breaks login", "by": "Ana",
                         "at": "2026-01-01T00:00:00Z"}}
    previous = {"identity": "reg.io/keiko/identity:0.1.0"}
    msg = rel.check_pins({"identity": "reg.io/keiko/identity:0.2.0"}, previous, pins, set(), "production")
    assert "identity is pinned to reg.io/keiko/identity:0.1.0" in msg
    assert "0.2.0 breaks login" in msg and "clear_pins: [identity]" in msg and "clear_pin=identity" in msg
    assert rel.check_pins({"identity": "reg.io/keiko/identity:0.1.0"}, previous, pins, set(), "production") is None
    assert rel.check_pins({"identity": "reg.io/keiko/identity:0.2.0"}, previous, pins, {"identity"}, "p") is None


def test_describe_lists_each_change_and_pin():
    previous = {"identity": "reg.io/keiko/identity:0.1.0", "learning": "reg.io/keiko/learning:0.3.0"}
    after = {"identity": "reg.io/keiko/identity:0.2.0", "learning": "reg.io/keiko/learning@" + DIGEST,
             "gateway": "reg.io/keiko/gateway:1.0"}
    parts = rel.describe(previous, after, {"learning": {"image": "x"}}, {"identity": {"image": after["identity"]}})
    assert parts == ["gateway (none) -> 1.0", "identity 0.1.0 -> 0.2.0", "learning 0.3.0 -> sha256:0123456789ab",
                     "pin identity 0.2.0", "clear pin learning"]
    assert rel.describe({"a": "r.io/a:1"}, {"a": "other.io/a:1"}, {}, {}) == ["a r.io/a:1 -> other.io/a:1"]
