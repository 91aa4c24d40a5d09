"""keikolatam.gitops.yaml_documents: the documents of a YAML stream, as from_yaml_all gives them, without the empty
ones; a clear error for text that is not YAML. Also through a real playbook, on the pinned Argo CD manifest."""

import json
import os
import subprocess
import sys

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.keikolatam.gitops.plugins.filter.yaml_documents import FilterModule, yaml_documents

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
BIN = os.path.dirname(sys.executable)


def test_the_documents_in_order_without_the_empty_ones():
    text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\nkind: Secret\nstringData: {k: 'v: 1'}\n---\n"
    assert yaml_documents(text) == [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
                                    {"kind": "Secret", "stringData": {"k": "v: 1"}}]
    assert yaml_documents(text.encode()) == yaml_documents(text)
    assert yaml_documents("") == [] and yaml_documents("---\n") == []


def test_a_str_subclass_as_the_templar_hands_it_over_is_parsed():
    class Tagged(str):
        pass

    assert yaml_documents(Tagged("a: 1\n---\nb: [x, 'ü']\n")) == [{"a": 1}, {"b": ["x", "ü"]}]


def test_only_safe_yaml_is_loaded():
    with pytest.raises(AnsibleFilterError, match="not valid YAML"):
        yaml_documents("!!python/object/apply:os.system ['true']\n")


@pytest.mark.parametrize("value", [None, 3, {"a": 1}, ["a: 1"]])
def test_anything_but_text_is_refused_by_name(value):
    with pytest.raises(AnsibleFilterError, match="expects YAML text, not " + type(value).__name__):
        yaml_documents(value)


def test_a_syntax_error_names_the_line():
    with pytest.raises(AnsibleFilterError, match=r"line 2"):
        yaml_documents("a: 1\nb: [unclosed\n")


def test_the_filter_is_registered_under_its_name():
    assert FilterModule().filters() == {"yaml_documents": yaml_documents}


def test_in_a_playbook_it_gives_what_from_yaml_all_gives_for_the_argo_cd_manifest(tmp_path):
    mirror = os.environ.get("KEIKO_UPSTREAM_MIRROR") or os.path.join(os.path.dirname(REPO), "shared", "upstream")
    manifest = os.path.join(mirror, "argocd", "install-v3.6.1.yaml")
    book = tmp_path / "play.yml"
    book.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "ansible.builtin.copy": {
            "dest": str(tmp_path / "out.json"),
            "content": "{{ {'fast': docs | keikolatam.gitops.yaml_documents, 'builtin': docs | from_yaml_all | select | list}"
                       " | to_json }}"},
        "vars": {"docs": "{{ lookup('ansible.builtin.file', '%s') }}" % manifest}}]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), PATH=BIN + os.pathsep + os.environ["PATH"])
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=" + sys.executable, str(book)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads((tmp_path / "out.json").read_text())
    assert len(out["fast"]) > 50
    assert out["fast"] == out["builtin"]
