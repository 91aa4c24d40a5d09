"""``python -m localcyclonus build [--force]``: build cyclonus into the cache (nothing when cached); prints its path."""

from __future__ import annotations

import sys

from localkube import gobuild

from . import build


def main(argv=None) -> int:
    parser = gobuild.cli_parser("localcyclonus", "cyclonus of the tests, from the Go module proxy",
                                "build cyclonus into the cache (nothing when it is there)")[0]
    args = parser.parse_args(argv)
    try:
        print(build.ensure_binary(echo=gobuild.echo, force=args.force))
    except gobuild.BuildError as exc:
        gobuild.echo(f"localcyclonus: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
