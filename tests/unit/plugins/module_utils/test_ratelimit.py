"""The rate limit shared by every process of the control node: a token bucket in a locked file.

On a fake clock: the burst, the pace, the refill after a pause, a clock that goes back, several "processes"
(buckets on the same file) sharing one budget, what the file holds. With real processes: the lock holds.
"""

import json
import os
import stat
import subprocess
import sys

import pytest

from ansible_collections.keikolatam.gitops.plugins.module_utils import _ratelimit as rl
from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhClient, OvhConfigError

CONSUMER_KEY = "ck-0123456789abcdef0123456789abcdef"


def most_in_a_window(times, seconds):
    """The largest number of ``times`` inside any window of ``seconds`` (closed at both ends)."""
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] > seconds + 1e-9:
            start += 1
        best = max(best, end - start + 1)
    return best


def sends(bucket, clock, count):
    """``count`` requests of one process, in turn: the (wall) times at which each is sent."""
    out = []
    for dummy in range(count):
        bucket.acquire()
        out.append(clock.wall)
    return out


def test_the_burst_goes_at_once_then_one_request_every_1_over_rate_seconds(clock):
    bucket = rl.LocalBucket(2.0, clock=clock)
    assert bucket.burst == 2.0 and rl.burst_for(0.5) == 1.0 and rl.burst_for(10) == 10.0
    times = sends(bucket, clock, 6)
    assert [round(t - times[0], 6) for t in times] == [0, 0, 0.5, 1.0, 1.5, 2.0]


def test_a_pause_refills_the_bucket_up_to_the_burst_only(clock):
    bucket = rl.LocalBucket(1.0, burst=3, clock=clock)
    sends(bucket, clock, 3)
    clock.advance(3600)
    times = sends(bucket, clock, 5)
    assert [round(t - times[0], 6) for t in times] == [0, 0, 0, 1.0, 2.0]


def test_a_clock_that_goes_back_gives_no_tokens_and_no_endless_wait(clock):
    bucket = rl.LocalBucket(1.0, clock=clock)
    sends(bucket, clock, 1)
    clock.wall -= 3600
    assert bucket.reserve() == 1.0


def test_processes_on_one_file_share_one_budget(tmp_path, clock):
    """Four "processes" reserve at the same moments: together they keep rate x T + burst."""
    rate = 2.0
    buckets = [rl.SharedBucket.for_credentials(rate, "ovh-eu", CONSUMER_KEY, directory=str(tmp_path), clock=clock)
               for dummy in range(4)]
    assert len(set(b.path for b in buckets)) == 1
    due = []
    for step in range(10):  # every 0.25 s, each process wants to send one request
        for bucket in buckets:
            due.append(clock.wall + bucket.reserve())
        clock.advance(0.25)
    for seconds in (1, 2, 5):
        assert most_in_a_window(due, seconds) <= rate * seconds + rl.burst_for(rate)
    span = max(due) - min(due)
    assert len(due) <= rate * span + rl.burst_for(rate)  # the average: rate, plus the burst
    separate = [rl.LocalBucket(rate, clock=clock) for dummy in range(4)]  # what a limit per process gives
    alone = []
    for step in range(10):
        for bucket in separate:
            alone.append(clock.wall + bucket.reserve())
        clock.advance(0.25)
    assert most_in_a_window(alone, 5) > rate * 5 + rl.burst_for(rate)


def test_other_credentials_or_endpoints_have_their_own_bucket(tmp_path, clock):
    def path(endpoint, key):
        return rl.SharedBucket.for_credentials(1.0, endpoint, key, directory=str(tmp_path), clock=clock).path

    assert len({path("ovh-eu", "a"), path("ovh-eu", "b"), path("ovh-ca", "a")}) == 3
    assert path("ovh-eu", "a") == path("ovh-eu", "a")


def test_the_file_holds_no_credential_and_is_private(tmp_path, clock, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bucket, why = rl.make_bucket(1.0, "https://eu.api.ovh.com/1.0", CONSUMER_KEY, clock=clock)
    assert why is None and isinstance(bucket, rl.SharedBucket)
    bucket.acquire()
    directory = tmp_path / "cache" / "keikolatam-gitops" / "ratelimit"
    assert os.path.dirname(bucket.path) == str(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(os.stat(bucket.path).st_mode) == 0o600
    name = os.path.basename(bucket.path)
    content = open(bucket.path).read()
    for secret_part in (CONSUMER_KEY, CONSUMER_KEY[3:19], "eu.api.ovh.com"):
        assert secret_part not in name and secret_part not in content
    assert sorted(json.loads(content)) == ["time", "tokens"]


def test_a_damaged_file_is_a_full_bucket(tmp_path, clock):
    bucket = rl.SharedBucket.for_credentials(1.0, "ovh-eu", "k", directory=str(tmp_path), clock=clock)
    with open(bucket.path, "w") as fh:
        fh.write("{not json")
    assert bucket.reserve() == 0.0 and bucket.reserve() == 1.0


def test_no_rate_no_bucket_and_an_unusable_directory_limits_this_process_only(tmp_path, clock):
    assert rl.make_bucket(None, "ovh-eu", "k") == (None, None)
    assert rl.make_bucket(0, "ovh-eu", "k") == (None, None)
    blocker = tmp_path / "file"
    blocker.write_text("")
    bucket, why = rl.make_bucket(1.0, "ovh-eu", "k", clock=clock, directory=str(blocker / "ratelimit"))
    assert isinstance(bucket, rl.LocalBucket) and not isinstance(bucket, rl.SharedBucket) and "cannot use" in why


def test_the_client_paces_every_http_request_and_shares_the_bucket(tmp_path, clock):
    """Each client (a task) first sends python-ovh's GET /auth/time: it takes a token and its own turn too."""
    sent = []

    class Answer(object):
        status_code = 200
        headers = {}

        def __init__(self, path):
            self.payload = int(clock.wall) if path == "/auth/time" else {}
            self.content = self.text = json.dumps(self.payload)

        def json(self):
            return self.payload

    def client(key=CONSUMER_KEY):
        c = OvhClient(endpoint="http://127.0.0.1:9/1.0", application_key="ak", application_secret="as",
                      consumer_key=key, rate_limit=1.0, clock=clock, rate_limit_dir=str(tmp_path))

        def raw_call(method, path, data=None, need_auth=True, headers=None):
            sent.append((key[:2], path, clock.wall - 1.7e9))
            return Answer(path)
        c._client.raw_call = raw_call
        return c

    first, second = client(), client()
    first.get("/a")
    first.get("/b")
    second.get("/c")  # a second task, same credentials: its own GET /auth/time first
    other = client(key="another-consumer-key")
    other.get("/d")  # other credentials: another bucket, full
    assert sent == [("ck", "/auth/time", 0.0), ("ck", "/a", 1.0), ("ck", "/b", 2.0),
                    ("ck", "/auth/time", 3.0), ("ck", "/c", 4.0), ("an", "/auth/time", 4.0), ("an", "/d", 5.0)]
    assert OvhClient(endpoint="ovh-eu", application_key="a", application_secret="b", consumer_key="c").bucket is None
    with pytest.raises(OvhConfigError):
        OvhClient(endpoint="ovh-eu", application_key="a", application_secret="b", consumer_key="c", rate_limit=-1)


def test_the_client_warns_and_falls_back_when_the_cache_directory_cannot_be_written(tmp_path, clock):
    warnings = []
    blocker = tmp_path / "file"
    blocker.write_text("")
    c = OvhClient(endpoint="ovh-eu", application_key="a", application_secret="b", consumer_key=CONSUMER_KEY,
                  rate_limit=2, clock=clock, warn=warnings.append, rate_limit_dir=str(blocker / "x"))
    assert isinstance(c.bucket, rl.LocalBucket) and not isinstance(c.bucket, rl.SharedBucket)
    assert len(warnings) == 1 and "holds for this task only" in warnings[0] and CONSUMER_KEY not in warnings[0]


WORKER = r"""
import sys, time
sys.path[:0] = sys.argv[4].split(":")
from ansible_collections.keikolatam.gitops.plugins.module_utils._ratelimit import SharedBucket
bucket = SharedBucket.for_credentials(float(sys.argv[2]), "ovh-eu", "key", directory=sys.argv[1], burst=1)
out = []
for dummy in range(int(sys.argv[3])):
    bucket.acquire()
    out.append(time.time())
print(" ".join(repr(t) for t in out))
"""


def test_real_processes_at_once_keep_the_rate_over_every_window(tmp_path):
    """Burst 1 here, so that the windows show the pacing rather than the burst."""
    rate, each, procs = 20.0, 10, 4
    path = os.pathsep.join(p for p in sys.path if p)
    running = [subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), str(rate), str(each), path],
                                stdout=subprocess.PIPE, text=True) for dummy in range(procs)]
    times = []
    for proc in running:
        out, dummy = proc.communicate(timeout=60)
        assert proc.returncode == 0
        times.extend(float(t) for t in out.split())
    assert len(times) == each * procs
    for seconds in (0.25, 0.5, 1.0):
        # + 1: a process reads the clock a moment after its token was due
        assert most_in_a_window(times, seconds) <= rate * seconds + 1 + 1
