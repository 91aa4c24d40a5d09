# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The filter keikolatam.gitops.yaml_documents (documentation: yaml_documents.yml beside this file)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import yaml

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_bytes

try:  # libyaml's parser: about seven times faster than the pure-Python one on a 2 MB manifest
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover (PyYAML built without libyaml)
    from yaml import SafeLoader as _Loader


def yaml_documents(data):
    """The documents of a YAML stream, in order, without the empty ones."""
    if not isinstance(data, (str, bytes)):
        raise AnsibleFilterError("yaml_documents expects YAML text, not %s" % type(data).__name__)
    try:
        # Bytes: the parser takes exact str or bytes only, and the templar may hand over a str subclass.
        return [doc for doc in yaml.load_all(to_bytes(data, errors="surrogate_or_strict"), Loader=_Loader)
                if doc is not None]
    except yaml.YAMLError as exc:
        raise AnsibleFilterError("yaml_documents: the text is not valid YAML: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"yaml_documents": yaml_documents}
