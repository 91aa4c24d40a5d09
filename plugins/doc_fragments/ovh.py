# -*- coding: utf-8 -*-
# Copyright: keikolatam.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Authentication and API behaviour, shared by every OVH module and the inventory plugin.
    DOCUMENTATION = r"""
options:
  endpoint:
    description:
      - The OVH API endpoint, as a python-ovh name (V(ovh-eu), V(ovh-ca), V(ovh-us), V(kimsufi-eu),
        V(kimsufi-ca), V(soyoustart-eu), V(soyoustart-ca)) or as an C(http(s)://) URL of the API root
        (for example C(https://eu.api.ovh.com/1.0), a corporate proxy, or the collection's sandbox).
      - If not set, the E(OVH_ENDPOINT) environment variable, then the C([default]) section of
        C(ovh.conf), then V(ovh-eu).
    type: str
  application_key:
    description:
      - The application key, with O(application_secret) and O(consumer_key).
      - If not set, E(OVH_APPLICATION_KEY), then the endpoint's section of C(ovh.conf)
        (C(./ovh.conf), C(~/.ovh.conf), C(/etc/ovh.conf)), as python-ovh does.
    type: str
  application_secret:
    description:
      - The application secret. Never logged.
      - If not set, E(OVH_APPLICATION_SECRET), then C(ovh.conf).
    type: str
  consumer_key:
    description:
      - The consumer key that the application secret signs for. Never logged.
      - If not set, E(OVH_CONSUMER_KEY), then C(ovh.conf).
    type: str
  client_id:
    description:
      - The OAuth2 client ID of a service account (client credentials flow), instead of an application key.
      - If not set, E(OVH_CLIENT_ID), then C(ovh.conf).
    type: str
  client_secret:
    description:
      - The OAuth2 client secret that goes with O(client_id). Never logged.
      - If not set, E(OVH_CLIENT_SECRET), then C(ovh.conf).
    type: str
  oauth2_token_url:
    description:
      - The OAuth2 token URL. Only needed when O(endpoint) is a URL whose token URL is not
        C(<scheme>://<host>/auth/oauth2/token); the endpoint names know theirs.
      - If not set, E(OVH_OAUTH2_TOKEN_URL).
    type: str
  api_max_attempts:
    description:
      - How many times one request is sent at most. Answers 429, 5xx and "busy" answers (a 400
        C([IntegrityError]) or 409 naming a status such as C(UPSCALING)) are retried with jittered
        exponential backoff.
      - A create (POST) that timed out or got a 5xx is never resent; the module looks the object up by
        name and adopts it if it was created.
    type: int
    default: 8
  api_rate_limit:
    description:
      - Send at most this many requests per second (client side). Unset or V(0) means no limit.
      - The limit holds for all the tasks of a run, for runs at the same time and one after the other, and for
        the C(keikolatam.gitops.ovh_cloud) inventory plugin, on the host that runs them (the control node for
        C(localhost)), when they use the same O(endpoint) and O(consumer_key) (or O(client_id)). They share a
        token bucket in a file under C(${XDG_CACHE_HOME:-~/.cache}/keikolatam-gitops/ratelimit/), named by a
        hash of the endpoint and the key; the file holds no credential. Give them the same value.
      - "The burst is one second of requests (O(api_rate_limit), at least one): after a pause, that many go at
        once; over any T seconds, at most O(api_rate_limit) x T + burst requests start."
      - Every HTTP request counts, also the C(GET /auth/time) or the OAuth2 token request that each task sends
        first.
      - When the directory cannot be written, the limit holds within each task only, with a warning.
      - OVH describes fair use as about 60 requests a minute per consumer key.
    type: float
  api_timeout:
    description:
      - Seconds to wait for the connection and for each answer.
    type: int
    default: 60
requirements:
  - python-ovh >= 1.2.0 (pip package C(ovh))
notes:
  - Secrets (O(application_secret), O(consumer_key), O(client_secret), passwords and kubeconfig keys
    returned by the API) are never written to a log or a diff.
  - Every failure carries the HTTP status, the OVH error class, the message and the C(X-Ovh-Queryid) that OVH
    support asks for (a module returns them in C(failure), the inventory plugin in its error message).
"""

    PROJECT = r"""
options:
  service_name:
    description:
      - The Public Cloud project ID.
      - If not set, the E(OVH_CLOUD_PROJECT_SERVICE) environment variable.
    type: str
    required: true
"""

    WAIT = r"""
options:
  wait:
    description:
      - Wait until the resource reaches its target status (ready, or gone when deleting).
      - Every transitional status counts as pending; an error status fails at once.
      - Before changing or deleting a resource, the module always waits until no operation runs on it.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait at most, for each wait.
    type: int
    default: 1800
  wait_sleep:
    description:
      - Seconds between two reads of the status while waiting.
    type: float
    default: 10
notes:
  - To set O(wait), O(wait_timeout) or O(wait_sleep) for several modules, use C(module_defaults) with
    C(group/keikolatam.gitops.ovh_wait), the modules that take them. C(group/keikolatam.gitops.ovh) also holds
    modules that do not (the C(_info) modules, M(keikolatam.gitops.ovh_s3_bucket)), which would fail with
    C(Unsupported parameters).
"""

    # The cluster of the modules that manage a part of a Managed Kubernetes cluster (node pools, OIDC, IP
    # restrictions, kubeconfig); its argument spec is _kube.CLUSTER_ARGS.
    KUBE_CLUSTER = r"""
options:
  cluster:
    description:
      - The cluster, by name or ID.
      - An ID is read with one request; a name (or an ID that is not found, a cluster may be named like one)
        lists the project's clusters, with a request per cluster. Playbooks that run often pass the ID.
    type: str
    required: true
"""

    # check_mode and diff_mode of the modules that change something (plan -> check mode, diff, apply).
    # A module adds its own C(details) under attributes.
    ATTRIBUTES = r"""
attributes:
  check_mode:
    description: Can run in check mode and return the changed status prediction without modifying the target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
"""
