# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The client-side rate limit of the OVH API calls, shared by every process of the control node.

PRIVATE to this collection: not a public API, may change in any release.

Each task of a play is a new process, and so is each run: a limit kept in
memory paces one task only. :class:`SharedBucket` is a token bucket kept in a
small file, locked with ``fcntl.flock`` for each request, so that every module
process, every run and the inventory plugin that use the same endpoint and
the same credentials share one budget:

- the bucket fills at ``rate`` tokens a second up to ``burst`` tokens, and each
  request takes one; a request that finds no token reserves the next one and
  sleeps until it is due (outside the lock). Over any ``T`` seconds, at most
  ``rate * T + burst`` requests start;
- the burst is one second of requests: ``max(1, rate)``;
- the file is ``${XDG_CACHE_HOME:-~/.cache}/keikolatam-gitops/ratelimit/<key>.json``
  (directory mode 0700, file mode 0600), where ``<key>`` is a SHA-256 of the
  endpoint and the consumer key (or OAuth2 client ID). The file holds two
  numbers (tokens, time); no credential, in its name or its content;
- the time is the wall clock (:meth:`Clock.time`), the one clock that separate
  processes and runs share.

When the file cannot be used (a read-only home, no ``fcntl``), the limit holds
within the process only (:class:`LocalBucket`) and the client is told why.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import json
import os

try:
    import fcntl

    HAS_FCNTL = True
except ImportError:  # pragma: no cover - not a POSIX control node
    HAS_FCNTL = False

from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import SYSTEM_CLOCK


def burst_for(rate):
    """The documented burst: one second of requests, at least one request."""
    return max(1.0, float(rate))


def cache_dir(environ=None):
    """``${XDG_CACHE_HOME:-~/.cache}/keikolatam-gitops/ratelimit``."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "keikolatam-gitops", "ratelimit")


def bucket_key(endpoint, identity):
    """The file name of a bucket: a hash of the endpoint and the consumer key or client ID."""
    digest = hashlib.sha256(("%s\n%s" % (endpoint or "", identity or "")).encode("utf-8")).hexdigest()
    return digest[:32]


def _refill(tokens, stamp, now, rate, burst):
    """Tokens at ``now`` of a bucket that held ``tokens`` at ``stamp``; a clock that went back adds nothing."""
    return min(burst, tokens + max(0.0, now - stamp) * rate)


class LocalBucket(object):
    """The same token bucket, in memory: the limit of one process."""

    def __init__(self, rate, burst=None, clock=None):
        self.rate = float(rate)
        self.burst = burst_for(rate) if burst is None else float(burst)
        self.clock = clock or SYSTEM_CLOCK
        self._tokens = self.burst
        self._stamp = None

    def reserve(self):
        """Take a token; returns the seconds to wait before sending."""
        now = self.clock.time()
        tokens = self.burst if self._stamp is None else _refill(self._tokens, self._stamp, now, self.rate, self.burst)
        self._tokens, self._stamp = tokens - 1.0, now
        return max(0.0, -self._tokens / self.rate)

    def acquire(self):
        wait = self.reserve()
        if wait > 0:
            self.clock.sleep(wait)
        return wait


class SharedBucket(LocalBucket):
    """A token bucket in a locked file: the limit of every process that opens the same file."""

    def __init__(self, rate, path, burst=None, clock=None):
        super(SharedBucket, self).__init__(rate, burst=burst, clock=clock)
        self.path = path

    @classmethod
    def for_credentials(cls, rate, endpoint, identity, directory=None, burst=None, clock=None):
        directory = directory or cache_dir()
        return cls(rate, os.path.join(directory, bucket_key(endpoint, identity) + ".json"), burst=burst, clock=clock)

    def _open(self):
        directory = os.path.dirname(self.path)
        try:
            os.makedirs(directory, 0o700)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def reserve(self):
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            now = self.clock.time()
            state = _read(fd)
            if state is None:
                tokens = self.burst
            else:
                tokens = _refill(state[0], state[1], now, self.rate, self.burst)
            tokens -= 1.0
            _write(fd, tokens, now)
        finally:
            os.close(fd)  # releases the lock
        return max(0.0, -tokens / self.rate)


def _read(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    raw = b""
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        raw += chunk
    try:
        data = json.loads(raw.decode("utf-8"))
        return float(data["tokens"]), float(data["time"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None  # a new or damaged file: a full bucket


def _write(fd, tokens, now):
    payload = json.dumps({"tokens": round(tokens, 6), "time": now}).encode("utf-8")
    os.lseek(fd, 0, os.SEEK_SET)
    os.ftruncate(fd, 0)
    os.write(fd, payload)


def make_bucket(rate, endpoint, identity, clock=None, directory=None):
    """The shared bucket for these credentials, or (when its file cannot be used) a
    :class:`LocalBucket` and the reason; ``(None, None)`` without a rate."""
    if not rate or rate <= 0:
        return None, None
    if not HAS_FCNTL:
        return LocalBucket(rate, clock=clock), "fcntl is not available"
    bucket = SharedBucket.for_credentials(rate, endpoint, identity, directory=directory, clock=clock)
    try:
        os.close(bucket._open())
    except (IOError, OSError) as exc:
        return LocalBucket(rate, clock=clock), "cannot use %s: %s" % (bucket.path, exc)
    return bucket, None
