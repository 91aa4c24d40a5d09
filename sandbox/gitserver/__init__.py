"""gitserver: bare git repositories served over HTTP on loopback (git's own ``git http-backend``
behind a small threaded Python server) with HTTP basic authentication and push enabled.

Run ``python -m gitserver --help``; Python API in :mod:`gitserver.process`.
"""
