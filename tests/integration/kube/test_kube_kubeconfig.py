"""ovh_kube_kubeconfig in the request log and the -vvv output: only the read-only POST, the reset before the fetch,
the mode repaired, and no key in any output (also when the kubeconfig is returned to register by a task that is
not no_log). The fixed order is the integration target."""

import os
import re
import stat

import yaml
from ovh_scenario import Step

M = "ovh_kube_kubeconfig"
KUBECONFIG = "/cloud/project/{serviceName}/kube/{kubeId}/kubeconfig"


def _secrets(content):
    user = yaml.safe_load(content)["users"][0]["user"]
    return [user["client-key-data"], user["client-certificate-data"]]


def test_kubeconfig_file_reset_and_secrets_at_vvv(play, cluster, tmp_path):
    dest = tmp_path / "kube" / "config.yaml"
    args = {"cluster": "keiko-test", "dest": str(dest)}
    run = play([
        Step("create", M, args, diff=True),
        Step("create_again", M, args, check=True, diff=True),
        Step("again", M, args),
        Step("loosen", "ansible.builtin.file", {"path": str(dest), "mode": "0644"}),
        Step("mode_fixed", M, args),
        Step("in_memory", M, {"cluster": cluster["id"]}),  # not no_log: its action hides the result
        Step("reset", M, dict(args, reset=True), diff=True),
        Step("reset_check", M, dict(args, reset=True), check=True),
    ], verbosity=3)
    # The only POST is the read-only kubeconfig POST.
    assert run["create"]["changed"] is True and run.writes("create") == [("POST", KUBECONFIG)]
    assert run["create"]["host"].startswith("https://") and run["create"]["certificate_authority_data"]
    assert "<redacted, sha256 " in run["create"]["diff"]["after"]
    for label in ("create_again", "again"):
        assert run[label]["changed"] is False and run.writes(label) == [("POST", KUBECONFIG)]
    assert run["mode_fixed"]["changed"] is True and run["mode_fixed"]["actions"] == ["set mode 0600 on %s" % dest]

    first = run["in_memory"]["kubeconfig"]
    assert first.startswith("apiVersion: v1")

    # reset: regenerated (a new key), written again, 0600.
    assert run.writes("reset") == [("POST", KUBECONFIG + "/reset"), ("POST", KUBECONFIG)]
    assert run["reset"]["changed"] is True and run["reset"]["reset"] is True
    assert run["reset_check"]["changed"] is True and run.writes("reset_check") == []
    final = dest.read_text()
    assert final != first and _secrets(final)[0] != _secrets(first)[0]
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(dest.parent).st_mode) == 0o700
    assert [p.name for p in dest.parent.iterdir()] == ["config.yaml"]  # no temp file left behind

    # Neither key nor certificate, old or new, in the -vvv output (nor a fragment of them).
    for secret in _secrets(first) + _secrets(final):
        for fragment in (secret, secret[100:160]):
            assert fragment not in run.output
    shown = re.findall(r"client-key-data: (\S+)", run.output)
    assert shown and all(value.startswith("<redacted") for value in shown)  # the diffs show fingerprints
