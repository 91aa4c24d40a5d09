"""localkube: a real Kubernetes control plane on 127.0.0.1 with kwok-simulated nodes.

  build                    build (or find in the cache) etcd, kube-*, kwok
  up --data-dir DIR        start the cluster (no-op if already up); kubeconfig in DIR/kubeconfig
  down --data-dir DIR      stop every process it started and remove DIR
  status --data-dir DIR    JSON status (exit 0 if up, 1 if not)
  env --data-dir DIR       print `export KUBECONFIG=...`
  nodes POOL FLAVOR COUNT  sync a simulated node pool (COUNT=0 deletes it)
  crds [NAME ...]          server-side apply upstream CRDs from the mirror
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from . import build
from .gobuild import echo as _err
from .gobuild import cli_parser, down_or_status


def default_data_dir() -> Path:
    return Path(os.environ.get("KEIKO_LOCALKUBE_DIR") or build.cache_root() / "run" / "default")


def main(argv: list[str] | None = None) -> int:
    from .build import BuildError

    try:
        return _main(argv)
    except BuildError as err:
        _err(f"localkube build failed: {err}")
        return 1
    except RuntimeError as err:  # LocalkubeError, KubeError, TimeoutError-like failures
        _err(f"localkube: {err}")
        return 1
    except TimeoutError as err:
        _err(f"localkube: {err}")
        return 1


def _main(argv: list[str] | None) -> int:
    parser, sub = cli_parser("python -m localkube", __doc__,
                             "build (or find in the cache) the binaries; prints their directory",
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    sub.add_parser("versions", help="print the pinned versions and the cache location")

    def with_dir(sp):
        sp.add_argument("--data-dir", type=Path, default=None,
                        help="cluster state directory (default $KEIKO_LOCALKUBE_DIR or <cache>/localkube/run/default)")
        return sp

    p = with_dir(sub.add_parser("up", help="start the cluster"))
    p.add_argument("--default-nodes", type=int, default=2, help="nodes in the default pool (default 2)")
    p.add_argument("--default-pool", default="default", help="name of the default node pool (default 'default')")
    p.add_argument("--default-flavor", default="b3-8", help="flavor of the default pool's nodes (default b3-8)")
    p.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for readiness (default 90)")
    p.add_argument("--apiserver-port", type=int, default=None, help="port of the API server (default: a free one)")
    with_dir(sub.add_parser("down", help="stop the cluster and remove its data dir"))
    with_dir(sub.add_parser("status", help="print status as JSON"))
    with_dir(sub.add_parser("env", help="print shell exports for the cluster"))
    p = with_dir(sub.add_parser("nodes", help="sync a simulated node pool"))
    p.add_argument("pool")
    p.add_argument("flavor")
    p.add_argument("count", type=int)
    p = with_dir(sub.add_parser("watchdog", help=argparse.SUPPRESS))
    p.add_argument("--owner-pid", type=int, required=True)
    p.add_argument("--owner-start", type=int, required=True)
    p = with_dir(sub.add_parser("crds", help="apply upstream CRDs from the mirror"))
    p.add_argument("names", nargs="*", help="file stems or CRD names (default: all)")

    args = parser.parse_args(argv)
    data_dir = getattr(args, "data_dir", None) or default_data_dir()
    kubeconfig = data_dir / "kubeconfig"

    if args.cmd == "build":
        paths = build.ensure_binaries(force=args.force)
        print(paths["kube-apiserver"].parent)
        return 0
    if args.cmd == "versions":
        from . import versions as V
        print(f"KUBERNETES_VERSION={V.KUBERNETES_VERSION}\nETCD_VERSION={V.ETCD_VERSION}\n"
              f"KWOK_VERSION={V.KWOK_VERSION}\nVERSION_KEY={V.version_key()}\nBIN_DIR={build.bin_dir()}")
        return 0

    from . import cluster

    if args.cmd == "up":
        c = cluster.up(data_dir, default_nodes=args.default_nodes, default_pool=args.default_pool,
                       default_flavor=args.default_flavor, timeout=args.timeout, echo=_err,
                       apiserver_port=args.apiserver_port)
        print(c.kubeconfig)
        return 0
    code = down_or_status(args.cmd, cluster, data_dir)
    if code is not None:
        return code
    if args.cmd == "env":
        print(f"export KUBECONFIG={kubeconfig}")
        return 0
    if args.cmd == "watchdog":
        return cluster.watchdog(data_dir, args.owner_pid, args.owner_start)
    if args.cmd == "nodes":
        from . import nodes
        for name in nodes.sync_pool_nodes(kubeconfig, args.pool, args.flavor, args.count):
            print(name)
        return 0
    if args.cmd == "crds":
        from . import crds
        for name in crds.apply_crds(kubeconfig, args.names or None):
            print(name)
        return 0
    return 2
