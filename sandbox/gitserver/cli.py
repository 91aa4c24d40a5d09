"""``python -m gitserver serve|start|stop|status|init``.

The password is never an argument (it would show in the process table): ``start`` reads it from
``$GITSERVER_PASSWORD`` and hands it to the server on its standard input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .server import PASSWORD_ENV


def _echo(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gitserver", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sv = sub.add_parser("serve", help="serve in the foreground (what `start` runs)")
    st = sub.add_parser("start", help="start in the background (no-op if running); prints the state as JSON")
    for p in (sv, st):
        p.add_argument("--root", required=True, help="directory of the bare repositories")
        p.add_argument("--username", required=True)
        p.add_argument("--port", type=int, default=0, help="default: a free port")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--ready-file")
    sv.add_argument("--password-stdin", action="store_true",
                    help=f"read the password from the first line of stdin (default: ${PASSWORD_ENV})")
    for name, text in (("start", None), ("stop", "stop the background server"), ("status", "state as JSON; exit 1 if not running")):
        p = st if name == "start" else sub.add_parser(name, help=text)
        p.add_argument("--state-dir", required=True)
    ini = sub.add_parser("init", help="create an empty bare repository ROOT/NAME.git")
    ini.add_argument("--root", required=True)
    ini.add_argument("name")
    ini.add_argument("--branch", default="main")
    args = parser.parse_args(argv)

    if args.cmd == "serve":
        from .server import serve
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = os.environ.pop(PASSWORD_ENV, "")
        return serve(args.root, args.username, password, host=args.host, port=args.port, ready_file=args.ready_file)
    from . import process
    if args.cmd == "start":
        password = os.environ.get(PASSWORD_ENV, "")
        if not password:
            _echo(f"gitserver start: set ${PASSWORD_ENV}")
            return 2
        state = process.start(args.state_dir, args.root, args.username, password, port=args.port, echo=_echo)
        print(json.dumps(state, indent=2))
        return 0
    if args.cmd == "stop":
        process.stop(args.state_dir, echo=_echo)
        return 0
    if args.cmd == "status":
        st = process.status(args.state_dir)
        print(json.dumps(st, indent=2))
        return 0 if st["running"] else 1
    if args.cmd == "init":
        print(process.init_bare(args.root, args.name, args.branch))
        return 0
    return 2
