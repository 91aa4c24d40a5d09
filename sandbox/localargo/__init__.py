"""localargo: the real Argo CD controllers (application controller, repo-server, API server) as
processes on loopback against a local control plane (localkube), with Debian's redis-server.

Run ``python -m localargo --help``.
"""
