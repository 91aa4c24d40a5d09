# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Controller side of the modules that return a secret once (passwords, S3 secrets).

PRIVATE to this collection: not a public API, may change in any release.

A module cannot hide its own result: ``_ansible_*`` keys it returns are stripped, and adding the secret
to ``no_log_values`` would mask it in the result too, so ``register`` would never receive it. This
action runs the module and, when the result carries a non-empty secret field, marks the whole result
``no_log``: callbacks (``-vvv`` included) print "the output has been hidden", while ``register`` still
gets the secret. Results without a secret (the usual idempotent run) are shown as usual.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

SECRET_KEYS = ("password", "secret")


def carries_secret(value):
    """True when ``value`` holds, at any depth, a non-empty ``password``/``secret`` string."""
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() in SECRET_KEYS and isinstance(item, str) and item:
                return True
            if carries_secret(item):
                return True
    elif isinstance(value, list):
        return any(carries_secret(item) for item in value)
    return False


class SecretResultAction(ActionBase):
    """Run the module of the same name; hide a result that carries a secret."""

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super(SecretResultAction, self).run(tmp, task_vars)
        del tmp
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
        if carries_secret(result):
            result["_ansible_no_log"] = True
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
