"""SecretResultAction: a result that carries a secret is marked no_log, register still gets it; async is refused."""

import importlib
import os

import pytest

from ansible_collections.keikolatam.gitops.plugins.plugin_utils._secret_result import (
    SecretResultAction, carries_secret)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ACTIONS = sorted(f[:-3] for f in os.listdir(os.path.join(REPO, "plugins", "action")) if f.endswith(".py"))


class FakeTask(object):
    def __init__(self, async_val=0, no_log=False):
        self.async_val = async_val
        self.no_log = no_log
        self.check_mode = False
        self.action = "keikolatam.gitops.some_module"
        self.args = {}


class FakeShell(object):
    tmpdir = "/tmp/ansible-tmp-fake"


class FakeConnection(object):
    has_native_async = False
    _shell = FakeShell()


def action(cls, answer, **task):
    plugin = cls(FakeTask(**task), FakeConnection(), None, None, None)
    plugin.calls = []

    def execute_module(task_vars=None, wrap_async=False):
        plugin.calls.append(wrap_async)
        return dict(answer)

    plugin._execute_module = execute_module
    plugin._remove_tmp_path = lambda path: None
    return plugin


class Passwords(SecretResultAction):
    pass


class Kubeconfig(SecretResultAction):
    secret_keys = ("kubeconfig",)


def test_carries_secret_looks_for_the_given_keys():
    assert carries_secret({"credentials": [{"Secret": "y"}]})
    assert carries_secret({"kubeconfig": "apiVersion: v1"}, ("kubeconfig",))
    assert not carries_secret({"kubeconfig": "apiVersion: v1"})
    assert not carries_secret({"password": "x", "dest": "/tmp/config"}, ("kubeconfig",))


@pytest.mark.parametrize("cls,answer,hidden", [
    (Passwords, {"changed": True, "user": {"password": "s3cr3t"}}, True),
    (Passwords, {"changed": False, "user": {"username": "app"}}, False),
    (Kubeconfig, {"changed": False, "kubeconfig": "apiVersion: v1\nusers: []\n", "host": "https://x"}, True),
    (Kubeconfig, {"changed": True, "dest": "/home/deploy/.kube/config", "mode": "0600"}, False),
    (Kubeconfig, {"changed": False, "kubeconfig": None}, False),
])
def test_a_result_with_a_secret_is_hidden_and_still_returned(cls, answer, hidden):
    plugin = action(cls, answer)
    result = plugin.run(task_vars={})
    assert plugin.calls == [False]
    assert result.get("_ansible_no_log", False) is hidden
    for key, value in answer.items():
        assert result[key] == value  # what register receives is the module's result, unmasked


@pytest.mark.parametrize("cls", [Passwords, Kubeconfig])
def test_async_is_refused_unless_the_task_is_no_log(cls):
    plugin = action(cls, {"changed": True, "user": {"password": "s3cr3t"}, "kubeconfig": "k"}, async_val=60)
    result = plugin.run(task_vars={})
    assert result["failed"] is True and "async" in result["msg"] and plugin.calls == []

    plugin = action(cls, {"ansible_job_id": "j1", "started": 1}, async_val=60, no_log=True)
    result = plugin.run(task_vars={})
    assert plugin.calls == [True] and result["ansible_job_id"] == "j1"


@pytest.mark.parametrize("name", ACTIONS)
def test_every_action_plugin_is_a_secret_result_action(name):
    module = importlib.import_module("ansible_collections.keikolatam.gitops.plugins.action." + name)
    assert issubclass(module.ActionModule, SecretResultAction)
    assert os.path.isfile(os.path.join(REPO, "plugins", "modules", name + ".py"))
    assert module.ActionModule.secret_keys, "%s names no secret key" % name
