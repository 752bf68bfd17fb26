"""`mkb-tui cluster node` and `mkb-tui cluster status` (argument parsing and printing only)."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys

from rich.table import Table

from mkb_tui.cli.output import print_json, print_table
from mkb_tui.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    cluster = sub.add_parser("cluster", help="evaluate on a Ray cluster: start a node agent, show the cluster")
    csub = cluster.add_subparsers(dest="cluster_what", metavar="WHAT", required=True, parser_class=type(cluster))
    p = csub.add_parser("node", help="check this node, then join the cluster advertising its devices as Ray resources")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--address", help="the cluster's head, HOST:PORT (as `ray start --address`)")
    where.add_argument("--head", action="store_true", help="start a new cluster with this node as its head")
    p.add_argument("--port", type=int, default=6379, help="with --head: the port to listen on (default 6379)")
    p.add_argument("--bind", default="127.0.0.1", metavar="IP",
                   help="with --head: the address Ray listens on (default 127.0.0.1, this machine only; anyone who reaches "
                        "a Ray head's ports can run code on every node, so expose it only on a trusted network)")
    p.add_argument("--no-auth", action="store_true", help="do not turn on Ray's token authentication (RAY_AUTH_MODE=token)")
    p.add_argument("--no-phones", action="store_true", help="do not offer this node's adb phones")
    p.add_argument("--dry-run", action="store_true", help="print the checks and the resources, start nothing")
    p.set_defaults(func=cmd_node)

    p = csub.add_parser("status", help="nodes, devices, queue depth and evaluations per minute")
    p.add_argument("--cluster", default="auto", help="ray://HOST:PORT, HOST:PORT or auto (default)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)


def cmd_node(args) -> int:
    from mkb_tui.cluster import node_devices

    # --dry-run starts nothing: listing phones would start an adb server, so they are not probed
    devices, problems = node_devices(phones=not args.no_phones and not args.dry_run)
    if args.dry_run and not args.no_phones:
        problems.append("phones: not probed with --dry-run (it would start an adb server)")
    for line in problems:
        print(f"note: {line}", file=sys.stderr)
    resources = devices.resources()
    if not resources:
        raise ConfigError("this node has no device to evaluate on: " + "; ".join(problems))
    ray_cli = shutil.which("ray") or os.path.join(os.path.dirname(sys.executable), "ray")
    argv = [ray_cli, "start", "--resources", json.dumps(resources), "--block"]
    argv += ["--head", "--port", str(args.port), "--node-ip-address", args.bind, "--include-dashboard=false"] if args.head else ["--address", args.address]
    print("devices: " + ", ".join(f"{k}={v:g}" for k, v in sorted(resources.items())), file=sys.stderr)
    env = {}
    if not args.no_auth and (args.head or os.environ.get("RAY_AUTH_TOKEN")):
        env["RAY_AUTH_MODE"] = "token"  # Ray's token authentication: a client without the token is refused
        env["RAY_AUTH_TOKEN"] = os.environ.get("RAY_AUTH_TOKEN") or secrets.token_hex(32)
    if args.head:
        where = f"{args.bind}:{args.port}"
        token = "RAY_AUTH_TOKEN=<the token> " if env else ""
        print(f"head on {where}" + (" (this machine only: --bind IP to let other nodes in)" if args.bind in ("127.0.0.1", "localhost") else ""),
              file=sys.stderr)  # fmt: skip
        print(f"other nodes join with: {token}mkb-tui cluster node --address {where}", file=sys.stderr)
        if env and not args.dry_run and not os.environ.get("RAY_AUTH_TOKEN"):
            print(f"the token (keep it secret; give it to the nodes you trust): {env['RAY_AUTH_TOKEN']}", file=sys.stderr)
    if args.dry_run:
        print(" ".join([*(f"{k}={'***' if k == 'RAY_AUTH_TOKEN' else v}" for k, v in env.items()), *argv]))
        return 0
    if not os.path.exists(argv[0]):
        raise ConfigError("`ray` is not installed: pip install 'mkb-tui[cluster]'")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.update(env)
    os.execv(argv[0], argv)  # Ray's own node process takes over: Ctrl-C leaves the cluster
    return 0


def cmd_status(args) -> int:
    from mkb_tui.cluster import cluster_status

    status = cluster_status(args.cluster)
    if args.json:
        print_json(status.to_dict())
        return 0
    table = Table(title=f"cluster {status.address}")
    for column in ("node", "address", "state", "devices", "busy"):
        table.add_column(column)
    for n in status.nodes:
        table.add_row(n.node_id, n.address, "alive" if n.alive else "dead", ", ".join(n.devices) or "-", ", ".join(n.busy) or "-")
    print_table(table, keep=("node", "devices"))
    s = status.stats
    verdicts = ", ".join(f"{k} {v}" for k, v in sorted(s.verdicts.items())) or "none yet"
    print(f"queue depth {status.queue_depth}, in flight {s.in_flight}, {s.per_minute:.1f} evaluations/min, "
          f"{s.finished} finished ({verdicts}), {s.retries} retried")  # fmt: skip
    return 0
