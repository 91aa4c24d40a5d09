"""localkube: a real Kubernetes control plane on loopback (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler) with kwok-simulated nodes, for tests and the sandbox.

Run ``localkube --help`` (the console script of the sandbox package, installed by ``make venv``).
"""
