"""``python -m localargo build|up|down|status|wait|env|admin-password``: the real Argo CD components
as processes on loopback against a local control plane (see ``localargo.run``)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
from pathlib import Path

from localkube.gobuild import echo as _echo
from localkube.gobuild import cli_parser, down_or_status


def main(argv: list[str] | None = None) -> int:
    from . import run

    parser, sub = cli_parser("localargo", __doc__,
                             "build the Argo CD and kustomize binaries (cached; prints the bin dir)")
    sub.add_parser("paths", help="JSON: bin dir, install manifest and git-verify-wrapper.sh of the pinned release")

    def data_dir_arg(p):
        p.add_argument("--data-dir", type=Path, default=None,
                       help="default: $KEIKO_LOCALARGO_DIR, else <cache>/localargo/run/default")

    u = sub.add_parser("up", help="start the supervisor (no-op if running); components start once Argo CD is installed")
    data_dir_arg(u)
    u.add_argument("--kubeconfig", type=Path, default=os.environ.get("KUBECONFIG"),
                   help="admin kubeconfig of the local control plane (default: $KUBECONFIG)")
    u.add_argument("--namespace", default=run.NAMESPACE)
    u.add_argument("--applicationset", action="store_true", help="also run argocd-applicationset-controller")
    u.add_argument("--wait", action="store_true", help="wait until every component is healthy")
    u.add_argument("--timeout", type=float, default=180.0)
    u.add_argument("--owner-pid", type=int, default=None, help="stop everything when this process dies")
    for name, text in (("down", "stop everything and remove the data dir"),
                       ("status", "JSON; exit 1 unless every component is healthy"),
                       ("env", "shell lines for .sandbox/env (API address; no secret)"),
                       ("admin-password", "print the initial admin password, read from the cluster now")):
        data_dir_arg(sub.add_parser(name, help=text))
    w = sub.add_parser("wait", help="wait until every component is healthy")
    data_dir_arg(w)
    w.add_argument("--timeout", type=float, default=180.0)
    s = sub.add_parser("supervise", help=argparse.SUPPRESS)
    s.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    data_dir = getattr(args, "data_dir", None) or run.default_data_dir()

    try:
        if args.cmd == "build":
            from . import build
            files = build.ensure_binaries(echo=_echo, force=args.force)
            print(files["argocd"].parent)
            return 0
        if args.cmd == "paths":
            from . import build
            print(json.dumps({"bin_dir": str(build.bin_dir()), "install_manifest": str(build.install_manifest()),
                              "git_verify_wrapper": str(build.git_verify_wrapper_source()),
                              "buildinfo": build.buildinfo()}, indent=2))
            return 0
        if args.cmd == "supervise":
            return run.supervise(args.data_dir)
        if args.cmd == "up":
            if not args.kubeconfig:
                _echo("localargo up: --kubeconfig or $KUBECONFIG is required")
                return 2
            comps = run.DEFAULT_COMPONENTS + ((run.APPSET,) if args.applicationset else ())
            run.up(data_dir, args.kubeconfig, namespace=args.namespace, components=comps, wait=args.wait,
                   timeout=args.timeout, owner_pid=args.owner_pid, echo=_echo)
            print(json.dumps(run.status(data_dir), indent=2))
            return 0
        if args.cmd == "wait":
            print(json.dumps(run.wait_ready(data_dir, timeout=args.timeout), indent=2))
            return 0
        code = down_or_status(args.cmd, run, data_dir)
        if code is not None:
            return code
        if args.cmd == "env":
            for key, value in run.env_vars(data_dir).items():
                print(f"export {key}={shlex.quote(value)}")
            return 0
        if args.cmd == "admin-password":
            cfg = run.load_config(data_dir)
            if not cfg:
                _echo(f"no localargo in {data_dir}")
                return 1
            print(run.admin_password(cfg["kubeconfig"], cfg["namespace"]))
            return 0
    except run.LocalargoError as err:
        _echo(f"localargo: {err}")
        return 1
    return 2
