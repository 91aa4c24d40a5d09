# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Controller side of the modules that return a secret (passwords, S3 secrets, a kubeconfig).

PRIVATE to this collection: not a public API, may change in any release.

A module cannot hide its own result: ``_ansible_*`` keys it returns are stripped, and adding the secret
to ``no_log_values`` would mask it in the result too, so ``register`` would never receive it. This
action runs the module and, when the result carries a non-empty string under one of the action's
``secret_keys`` (at any depth), marks the whole result ``no_log``: callbacks (``-vvv`` included) print
"the output has been hidden", while ``register`` still gets the secret. Results without a secret (the
usual idempotent run) are shown as usual.

The action of a module is two lines::

    class ActionModule(SecretResultAction):
        secret_keys = ("kubeconfig",)    # only when they are not the default ("password", "secret")

``async`` is refused unless the task is ``no_log``: the result of an async task is the one ``async_status``
reads afterwards, which this action never sees and so cannot hide.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

SECRET_KEYS = ("password", "secret")


def carries_secret(value, keys=SECRET_KEYS):
    """True when ``value`` holds, at any depth, a non-empty string under one of ``keys`` (case-insensitive)."""
    keys = tuple(k.lower() for k in keys)
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() in keys and isinstance(item, str) and item:
                return True
            if carries_secret(item, keys):
                return True
    elif isinstance(value, list):
        return any(carries_secret(item, keys) for item in value)
    return False


class SecretResultAction(ActionBase):
    """Run the module of the same name; hide a result that carries a secret."""

    # The result keys whose non-empty string value is a secret; a subclass names its own.
    secret_keys = SECRET_KEYS

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        if self._task.async_val and not self._task.no_log:
            return dict(failed=True, changed=False, msg=(
                "%s returns a secret that would be printed with async (the async_status result cannot be "
                "hidden): run it without async, or set no_log: true on this task and on its async_status "
                "task." % self._task.action))
        result = super(SecretResultAction, self).run(tmp, task_vars)
        del tmp
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
        if carries_secret(result, self.secret_keys):
            result["_ansible_no_log"] = True
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
