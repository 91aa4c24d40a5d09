"""Stand-ins for AnsibleModule and the OVH client, for unit tests of a module's own rules (no HTTP)."""

from ansible_collections.keikolatam.gitops.plugins.module_utils._client import OvhAmbiguousWrite


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
    """An instance of the module class ``cls`` with ``params``, without AnsibleModule or a connection."""
    mod = cls.__new__(cls)
    mod.params = params
    mod.module = FakeAnsible(params)
    mod.result = {"changed": False}
    mod._client = client
    return mod


def ambiguous():
    """A create answered 500: it may have been applied."""
    return OvhAmbiguousWrite("Internal server error", http_status=500, method="POST", path="/x", ambiguous=True)
