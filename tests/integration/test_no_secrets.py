"""A verbose (-vvv) run of OVH modules prints none of the secrets it used, on success and on failure."""

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


def test_vvv_output_holds_no_credential(emu, tmp_path):
    info = emu.info
    common = {"endpoint": emu.endpoint, "service_name": emu.service_name}
    signed = dict(common, application_key=info["application_key"], application_secret=info["application_secret"],
                  consumer_key=info["consumer_key"])
    oauth2 = dict(common, client_id=info["client_id"], client_secret=info["client_secret"],
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
    assert "refused" in output and "query_id" in output  # the run really was verbose about the failures
    for name in ("application_secret", "consumer_key", "client_secret"):
        assert info[name] not in output, "%s leaked in the -vvv output" % name
    assert wrong_secret not in output
