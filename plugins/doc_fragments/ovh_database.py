# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The database service that users, databases and connection pools belong to.
    DOCUMENTATION = r"""
options:
  service:
    description:
      - The managed database service (OVH calls it a cluster) this object belongs to.
      - Its ID, or its description (the name given with M(keikolatam.gitops.ovh_database)). A description
        that matches several services fails; use the ID then.
      - An ID is read with one request; a description (or an ID that is not found) lists the project's
        services, with a request per service.
      - Its former name C(cluster) is an alias.
    type: str
    required: true
    aliases: [service_id, cluster, cluster_id]
  engine:
    description:
      - The engine of the service. Only V(postgresql) for now.
    type: str
    choices: [postgresql]
    default: postgresql
"""
