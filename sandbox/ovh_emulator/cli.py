"""``python -m ovh_emulator serve --state-dir DIR [--host 127.0.0.1] [--port 0] [--ready-file F]
[--clusters-dir DIR [--argocd] [--own-clusters] [--max-clusters N]] [--transition-seconds S] [fault flags]``"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .config import KEYS, Settings


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ovh_emulator", description="OVH API emulator (loopback only)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the emulator in the foreground")
    s.add_argument("--state-dir", required=True, help="directory of the persisted state and credentials")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (loopback; default 127.0.0.1)")
    s.add_argument("--port", type=int, default=0, help="port (0: a free port)")
    s.add_argument("--ready-file", help="write {endpoint, port, pid, token_url, credentials...} here once listening")
    s.add_argument("--clusters-dir", help="give each Kubernetes cluster a local control plane (localkube) of its "
                                          "own under DIR/<cluster name>/: the kubeconfig POST returns its admin "
                                          "kubeconfig and node pools drive its simulated nodes")
    s.add_argument("--argocd", action="store_true",
                   help="with --clusters-dir: an Argo CD supervisor (localargo) per cluster too")
    s.add_argument("--own-clusters", action="store_true",
                   help="with --clusters-dir: stop the control planes when the emulator stops (tests); by default "
                        "they outlive it and a restarted emulator finds them again")
    s.add_argument("--verbose", "-v", action="store_true", help="log every request to stderr")
    for key in KEYS:
        s.add_argument(_flag(key.name), dest=key.name, default=None,
                       help=f"{key.help} (env {key.env}, default {key.default})")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "serve":  # pragma: no cover
        return 2
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("ovh-emulator: refusing to bind a non-loopback address", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    overrides = {k.name: getattr(args, k.name) for k in KEYS if getattr(args, k.name) is not None}
    try:
        settings.update(overrides)
    except ValueError as exc:
        print(f"ovh-emulator: {exc}", file=sys.stderr)
        return 2

    from .server import Emulator

    app = Emulator(args.state_dir, settings=settings, host=args.host, port=args.port,
                   clusters_dir=args.clusters_dir, argocd=args.argocd, own_clusters=args.own_clusters,
                   verbose=args.verbose)
    stop = threading.Event()

    def _on_signal(signum, frame):  # noqa: ARG001
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    t = threading.Thread(target=app.serve_forever, name="ovh-emulator-http", daemon=True)
    t.start()
    if args.ready_file:
        app.write_ready_file(args.ready_file)
    print(f"ovh-emulator: serving {app.endpoint} (state {app.state_dir}, project {app.creds['service_name']})",
          file=sys.stderr, flush=True)
    while not stop.wait(0.1):
        if not t.is_alive():
            break
    app.shutdown()
    print("ovh-emulator: stopped", file=sys.stderr, flush=True)
    return 0
