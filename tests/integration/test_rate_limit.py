"""api_rate_limit holds across the tasks of a run, across runs at the same time and with the inventory plugin.

Each task is a new process; they share one token bucket in a locked file under ``$XDG_CACHE_HOME``. The emulator
logs when each request arrived: over every window of W seconds, all the processes together sent at most
N x W + burst requests (the burst is one second of requests, at least one), plus one for the moment between a
token being due and its request reaching the emulator. No duration of the run is asserted.
"""

import os
import subprocess
import sys

import yaml

import ovh_scenario

RATE = 2.0
BURST = max(1.0, RATE)
TASKS = 5
CLUSTERS = 3  # each ovh_kube_cluster_info task: GET /auth/time, GET /kube, then GET /kube/{id} for each cluster


def most_in_a_window(times, seconds):
    """The largest number of ``times`` inside any window of ``seconds`` (closed at both ends)."""
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] > seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def assert_paced(times):
    assert len(times) > 2 * (RATE + BURST), "too few requests to show anything: %d" % len(times)
    for seconds in (1.0, 2.0, 5.0):
        most = most_in_a_window(times, seconds)
        assert most <= RATE * seconds + BURST + 1, "%d requests within %ss (limit %s/s, burst %s)" % (
            most, seconds, RATE, BURST)
    span = max(times) - min(times)
    assert len(times) <= RATE * span + BURST + 1, "%d requests in %.1fs" % (len(times), span)


def playbook(tmp_path, name, module, args):
    play = [{"name": name, "hosts": "localhost", "gather_facts": False, "connection": "local",
             "module_defaults": {"group/keikolatam.gitops.ovh": {"api_rate_limit": RATE}},
             "tasks": [{"name": "%s %d" % (module, i), "keikolatam.gitops." + module: args} for i in range(TASKS)]}]
    path = tmp_path / ("%s.yml" % name)
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    return [str(ovh_scenario.BIN / "ansible-playbook"), "-i", "localhost,", str(path)]


def inventory(tmp_path, name):
    path = tmp_path / ("%s.ovh_cloud.yml" % name)
    path.write_text(yaml.safe_dump({"plugin": "keikolatam.gitops.ovh_cloud", "include": ["clusters"],
                                    "api_rate_limit": RATE}))
    return [str(ovh_scenario.BIN / "ansible-inventory"), "-i", str(path), "--list"]


def add_clusters(emu):
    client = emu.ovh_client()
    for i in range(CLUSTERS):
        client.post("/cloud/project/%s/kube" % emu.service_name, name="paced-%d" % i, region="GRA11")


def run_at_once(emu, tmp_path, commands):
    env = ovh_scenario.env_for(emu)
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    since = (emu.requests() or [{"seq": 0}])[-1]["seq"]
    procs = [subprocess.Popen(cmd, cwd=str(ovh_scenario.REPO), env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for cmd in commands]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, out[-3000:] + err[-3000:]
    # Every request the emulator got: the API calls and python-ovh's GET /auth/time of each task.
    return [e for e in emu.requests(since=since) if e.get("kind") in ("api", "auth")]


def test_a_playbook_of_many_tasks_sends_at_most_the_rate_plus_the_burst(emu, tmp_path):
    add_clusters(emu)
    entries = run_at_once(emu, tmp_path, [playbook(tmp_path, "many", "ovh_kube_cluster_info", {})])
    assert len([e for e in entries if e["kind"] == "api"]) == TASKS * (1 + CLUSTERS)
    assert_paced([e["time"] for e in entries])
    files = os.listdir(str(tmp_path / "cache" / "keikolatam-gitops" / "ratelimit"))
    assert len(files) == 1 and emu.info["consumer_key"] not in files[0]


def test_two_playbooks_and_two_inventories_at_once_share_the_rate(emu, tmp_path):
    add_clusters(emu)
    entries = run_at_once(emu, tmp_path, [
        playbook(tmp_path, "clusters", "ovh_kube_cluster_info", {}),
        playbook(tmp_path, "databases", "ovh_database_info", {"include": []}),
        inventory(tmp_path, "one"), inventory(tmp_path, "two"),
    ])
    kube = [e["time"] for e in entries if e.get("operation") == "/cloud/project/{serviceName}/kube"]
    databases = [e["time"] for e in entries if e.get("operation") == "/cloud/project/{serviceName}/database/service"]
    assert len(kube) == TASKS + 2 and len(databases) == TASKS
    assert len([e for e in entries if e["kind"] == "api"]) == (TASKS + 2) * (1 + CLUSTERS) + TASKS
    # They ran at the same time: each one's requests fall between the other's first and last.
    assert min(kube) < min(databases) < max(kube) or min(databases) < min(kube) < max(databases)
    assert_paced([e["time"] for e in entries])
