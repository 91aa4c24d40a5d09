# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs the module ovh_kube_kubeconfig; a result that carries the kubeconfig is hidden from the output (see _secret_result)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.keikolatam.gitops.plugins.plugin_utils._secret_result import SecretResultAction


class ActionModule(SecretResultAction):
    secret_keys = ("kubeconfig",)
