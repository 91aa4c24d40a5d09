"""Stand-ins for AnsibleModule and the OVH client, for unit tests of a module's own rules (no HTTP)."""

from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhAmbiguousWrite
from ansible_collections.keikolatam.gitops.plugins.module_utils._waiter import Clock, Waiter


class FakeClock(Clock):
    """A clock that never sleeps: ``sleep(s)`` moves ``monotonic()`` and ``time()`` on by ``s`` (``sleeps`` keeps
    them); ``advance(s)`` is time that passes by itself (another process's turn)."""

    def __init__(self, start=1000.0, wall=1.7e9):
        super(FakeClock, self).__init__(monotonic=lambda: self.now, sleep=self._sleep, wall=lambda: self.wall)
        self.now = start
        self.wall = wall
        self.sleeps = []

    def _sleep(self, seconds):
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds):
        self.now += seconds
        self.wall += seconds


class Failed(Exception):
    """What fail_json raises."""


class FakeAnsible(object):
    def __init__(self, params):
        self.params = params
        self.warnings = []
        self.check_mode = False
        self._diff = False
        self.no_log_values = set()

    def warn(self, text):
        self.warnings.append(text)

    def debug(self, text):
        pass

    def fail_json(self, msg, **kwargs):
        raise Failed(msg)


class FakeClient(object):
    """Answers POSTs from a script (a value, or an exception to raise); GETs from a callable."""

    def __init__(self, posts=(), gets=None):
        self.posts = list(posts)
        self.sent = []
        self.gets = gets or (lambda path: None)

    def post(self, path, body=None, idempotent=False):
        self.sent.append(("POST", path))
        answer = self.posts.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def get(self, path, **query):
        return self.gets(path)


def make_module(cls, client=None, **params):
    """An instance of the module class ``cls`` with ``params``, without AnsibleModule or a connection; its waiter
    runs on a :class:`FakeClock` (``mod.clock``)."""
    mod = cls.__new__(cls)
    mod.params = params
    mod.module = FakeAnsible(params)
    mod.result = {"changed": False}
    mod._client = client
    mod.clock = FakeClock()
    mod.waiter = Waiter(timeout=params.get("wait_timeout") or 1800, interval=params.get("wait_sleep") or 10.0,
                        clock=mod.clock)
    return mod


def ambiguous():
    """A create answered 500: it may have been applied."""
    return OvhAmbiguousWrite("Internal server error", http_status=500, method="POST", path="/x", ambiguous=True)
