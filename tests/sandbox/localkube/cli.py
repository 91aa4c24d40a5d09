"""Command line: python -m localkube {build,up,down,status,env}."""

from __future__ import annotations

import argparse
import sys

from . import build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localkube", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("build", help="build (or find in the cache) the binaries")
    p.add_argument("--force", action="store_true", help="rebuild even if cached")
    args = parser.parse_args(argv)
    if args.cmd == "build":
        paths = build.ensure_binaries(force=args.force)
        print(paths["kube-apiserver"].parent)
        return 0
    return 2
