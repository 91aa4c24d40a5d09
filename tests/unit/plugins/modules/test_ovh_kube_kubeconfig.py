"""ovh_kube_kubeconfig: no refusal without dest (its action hides the result), and a diff that shows no secret."""

import yaml

from ansible_collections.keikolatam.gitops.plugins.action.ovh_kube_kubeconfig import ActionModule
from ansible_collections.keikolatam.gitops.plugins.modules import ovh_kube_kubeconfig as kubeconfig
from ansible_collections.keikolatam.gitops.plugins.plugin_utils._secret_result import carries_secret

KEY = "S0VZLXNlY3JldA=="
CERT = "Q0VSVC1zZWNyZXQ="
TOKEN = "dG9rZW4tc2VjcmV0"
EXEC_SECRET = "exec-env-secret"
KUBECONFIG = yaml.safe_dump({
    "apiVersion": "v1", "kind": "Config", "current-context": "admin@k",
    "clusters": [{"name": "k", "cluster": {"server": "https://abc.c1.gra11.k8s.ovh.net",
                                           "certificate-authority-data": "Q0EtREFUQQ=="}}],
    "contexts": [{"name": "admin@k", "context": {"cluster": "k", "user": "admin"}}],
    "users": [{"name": "admin", "user": {"client-key-data": KEY, "client-certificate-data": CERT}},
              {"name": "bot", "user": {"token": TOKEN, "exec": {"command": "ovh-auth", "env": [
                  {"name": "OVH_SECRET", "value": EXEC_SECRET}]}}}],
})


class FakeAnsible(object):
    no_log = False
    check_mode = False
    _diff = False


def test_without_dest_a_task_that_is_not_no_log_is_accepted():
    mod = kubeconfig.OvhKubeKubeconfig.__new__(kubeconfig.OvhKubeKubeconfig)
    mod.module = FakeAnsible()
    mod.params = {"cluster": "k", "dest": None, "reset": False}
    mod.validate()  # the refusal is gone: the action plugin hides the result instead


def test_the_action_hides_a_result_that_carries_the_kubeconfig():
    assert ActionModule.secret_keys == ("kubeconfig",)
    assert carries_secret({"kubeconfig": KUBECONFIG, "host": "https://x"}, ActionModule.secret_keys)
    assert not carries_secret({"dest": "/tmp/config", "diff": {"after": "..."}}, ActionModule.secret_keys)


def test_the_diff_shows_public_values_and_fingerprints_every_other():
    text = kubeconfig.redacted_text(KUBECONFIG)
    for secret in (KEY, CERT, TOKEN, EXEC_SECRET, "ovh-auth"):
        assert secret not in text
    shown = yaml.safe_load(text)
    assert shown["clusters"][0]["cluster"] == {"server": "https://abc.c1.gra11.k8s.ovh.net",
                                               "certificate-authority-data": "Q0EtREFUQQ=="}
    assert shown["contexts"][0] == {"name": "admin@k", "context": {"cluster": "k", "user": "admin"}}
    assert [u["name"] for u in shown["users"]] == ["admin", "bot"]
    assert shown["users"][1]["user"]["token"].startswith("<redacted, sha256 ")
    assert kubeconfig.redacted_text(KUBECONFIG.replace(TOKEN, "bmV3LXRva2Vu")) != text  # a new token shows


def test_a_file_that_is_not_a_kubeconfig_shows_no_value():
    for content in ("client-key-data: %s\n" % KEY, "- %s\n" % KEY, "users: {admin: %s}\n" % KEY,
                    "key: [unclosed %s" % KEY, KEY):
        text = kubeconfig.redacted_text(content)
        assert KEY not in text and "redacted, sha256" in text, content
    assert kubeconfig.redacted_text(None) == ""
