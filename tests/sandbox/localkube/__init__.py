"""localkube: a real Kubernetes control plane on loopback (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler) with kwok-simulated nodes, for tests and the sandbox.

Run ``PYTHONPATH=tests/sandbox python -m localkube --help``.
"""
