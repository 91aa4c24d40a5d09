"""A verbose (-vvv) run of OVH modules prints none of the secrets it used or returned, on success and on failure."""

import os
import subprocess
import sys

import pytest
import yaml

from ovh_emulator.testing import EmulatorProcess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


@pytest.fixture
def emu(tmp_path):
    with EmulatorProcess(state_dir=tmp_path / "emu", transition_seconds=0.2) as emulator:
        yield emulator


def run_vvv(tasks, tmp_path):
    """Run ``tasks`` on localhost with -vvv; the output (stdout and stderr) once it succeeded."""
    book = tmp_path / "secrets.yml"
    book.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "connection": "local",
                                     "tasks": tasks}]))
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("OVH_"))
    env.update(ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), PATH=BIN + os.pathsep + env.get("PATH", ""),
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-vvv", "-i", "localhost,",
                           "-e", "ansible_python_interpreter=" + sys.executable, str(book)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    return output


def signed_args(emu):
    info = emu.info
    return {"endpoint": emu.endpoint, "service_name": emu.service_name, "application_key": info["application_key"],
            "application_secret": info["application_secret"], "consumer_key": info["consumer_key"]}


def test_vvv_output_holds_no_credential(emu, tmp_path):
    info = emu.info
    signed = signed_args(emu)
    oauth2 = dict(endpoint=emu.endpoint, service_name=emu.service_name, client_id=info["client_id"], client_secret=info["client_secret"],
                  oauth2_token_url=emu.token_url)
    wrong_secret = "wrong-secret-0f3a9c"
    tasks = [
        {"name": "signed request", "keikolatam.gitops.ovh_kube_cluster_info": signed, "register": "signed"},
        {"name": "OAuth2 request", "keikolatam.gitops.ovh_kube_cluster_info": oauth2, "register": "oauth"},
        {"name": "a refused consumer key", "ignore_errors": True, "register": "refused",
         "keikolatam.gitops.ovh_kube_cluster_info": dict(signed, application_secret=wrong_secret)},
        {"name": "a refused OAuth2 secret", "ignore_errors": True, "register": "refused_oauth",
         "keikolatam.gitops.ovh_kube_cluster_info": dict(oauth2, client_secret=wrong_secret)},
        {"name": "the calls worked and the refusals failed",
         "ansible.builtin.assert": {"that": ["signed is succeeded", "oauth is succeeded", "refused is failed",
                                             "refused.failure.query_id | length > 0", "refused_oauth is failed"]}},
    ]
    output = run_vvv(tasks, tmp_path)
    assert "refused" in output and "query_id" in output  # the run really was verbose about the failures
    for name in ("application_secret", "consumer_key", "client_secret"):
        assert info[name] not in output, "%s leaked in the -vvv output" % name
    assert wrong_secret not in output


def test_vvv_output_holds_no_kubeconfig(emu, tmp_path):
    """The kubeconfig returned to register (no dest), written to dest, and in diffs, at -vvv."""
    signed = signed_args(emu)
    dest = str(tmp_path / "kube" / "config")
    fetch = dict(signed, cluster="it-secrets")
    to_file = dict(fetch, dest=dest)

    def keep(var, name):  # what register received, written out of band (no_log, no diff)
        return {"name": "keep " + var, "no_log": True, "diff": False, "register": "kept_" + var,
                "ansible.builtin.copy": {"content": "{{ %s.kubeconfig }}" % var, "dest": str(tmp_path / name),
                                         "mode": "0600"}}

    tasks = [
        {"name": "a cluster", "keikolatam.gitops.ovh_kube_cluster": dict(signed, name="it-secrets", region="GRA11",
                                                                         wait_sleep=0.1)},
        {"name": "kubeconfig into register", "keikolatam.gitops.ovh_kube_kubeconfig": fetch, "register": "first"},
        keep("first", "first.yaml"),
        {"name": "kubeconfig to a file, check mode", "keikolatam.gitops.ovh_kube_kubeconfig": to_file,
         "check_mode": True, "diff": True, "register": "check"},
        {"name": "kubeconfig to a file", "keikolatam.gitops.ovh_kube_kubeconfig": to_file, "diff": True,
         "register": "written"},
        {"name": "reset it", "keikolatam.gitops.ovh_kube_kubeconfig": dict(to_file, reset=True), "diff": True,
         "register": "reset"},
        {"name": "the new one into register, in diff mode", "keikolatam.gitops.ovh_kube_kubeconfig": fetch,
         "diff": True, "register": "second"},
        keep("second", "second.yaml"),
        {"name": "what register and the file received",
         "ansible.builtin.assert": {"that": [
             "first is not changed and first.kubeconfig is match('apiVersion')",
             "check is changed and written is changed and reset is changed",
             "written.kubeconfig is not defined and written.mode == '0600'",
             "(second.kubeconfig | from_yaml) == (lookup('ansible.builtin.file', '%s') | from_yaml)" % dest]}},
    ]
    output = run_vvv(tasks, tmp_path)
    keys = []
    for name in ("first.yaml", "second.yaml"):
        content = (tmp_path / name).read_text()
        assert content not in output, "the kubeconfig (%s) leaked in the -vvv output" % name
        user = yaml.safe_load(content)["users"][0]["user"]
        keys += [user["client-key-data"], user["client-certificate-data"]]
    assert keys[0] != keys[2], "the reset did not give a new key"
    for secret in keys:
        for fragment in (secret, secret[100:160]):  # nor a fragment of the client key or certificate
            assert fragment not in output, "a client key or certificate leaked in the -vvv output"
    assert output.count("the output has been hidden") >= 2  # the two results that carried it
    assert "client-key-data: <redacted, sha256 " in output  # the diffs were shown, with fingerprints
