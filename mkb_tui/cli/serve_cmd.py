"""`mkb-tui serve`: the reward service on uvicorn (argument parsing only; the service is mkb_tui/service)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="the reward service: evaluations over HTTP for training loops (OpenAPI at /docs)",
                       description="Evaluations over HTTP. Tokens come from --tokens FILE and/or $MKB_SERVE_TOKENS "
                                   "(NAME:TOKEN, comma- or line-separated); never from the command line.")  # fmt: skip
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--device", action="append", default=None,
                   help="a served device, or a comma list of phones served as one pool (as everywhere); repeat it to serve several "
                        "(the first is the default): local, qemu, adb, adb:SERIAL, adb:*, adb://HOST:PORT[/SERIAL|/*]")
    p.add_argument("--cluster", default=None, metavar="ADDR", help="evaluate on a Ray cluster (ray://HOST:PORT or auto)")
    p.add_argument("--evaluator", default=None, metavar="MODULE:FUNC", help="a plug-in evaluator factory (device, threads) -> Evaluator")
    p.add_argument("--db", dest="serve_db", type=Path, default=None, metavar="PATH", help="the service database: jobs and the verdict cache (default sessions/serve.sqlite)")
    p.add_argument("--tokens", type=Path, default=None, help="file of bearer tokens")
    p.add_argument("--no-auth", action="store_true", help="no tokens (only on a loopback address)")
    p.add_argument("--hmac-key", default=None, metavar="env:VAR|FILE", help="sign stored verdicts (cached answers carry and are checked by it)")
    p.add_argument("--reward", default=None, metavar="SPEC", help="reward formula, e.g. compiled=0.3,correct=0.3,speedup=1,speedup_cap=10,untrusted_cap=1")
    p.add_argument("--on-restart", choices=("resume", "fail"), default="resume",
                   help="jobs a previous run left unfinished: run them (default), or fail them with a status")
    p.add_argument("--queue", type=int, default=256, help="evaluations waiting for a device before new ones get 503")
    p.add_argument("--slots-per-device", type=int, default=None,
                   help="evaluations at once per device (default: the local pipeline's workspaces, since it keeps its runs "
                        "exclusive and builds the next candidate meanwhile; 1 for other evaluators)")
    p.add_argument("--job-days", type=float, default=7.0, help="days a finished job's status stays queryable (verdicts stay cached)")
    p.add_argument("--token-concurrency", type=int, default=32, help="evaluations in flight per token before 429")
    p.add_argument("--rate", type=float, default=600.0, help="evaluation requests per token and minute before 429")
    p.add_argument("--max-body", type=int, default=2 << 20, help="bytes per request")
    p.add_argument("--max-files", type=int, default=8, help="files per evaluation")
    p.add_argument("--max-file-bytes", type=int, default=256 << 10, help="bytes per file")
    p.add_argument("--max-batch", type=int, default=64, help="evaluations per batch request")
    p.add_argument("--max-threads", type=int, default=4, help="largest `threads` a request may ask for")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    from mkb_tui.errors import ConfigError
    from mkb_tui.paths import REPO_ROOT
    from mkb_tui.service import Limits, RewardFormula, ServiceConfig
    from mkb_tui.service.config import load_secret, load_tokens
    from mkb_tui.service.server import LOOPBACK, serve
    from mkb_tui.sessions.devices import LOCAL, DeviceSpec
    from mkb_tui.sessions.evaluators import EvaluatorSource

    if args.no_auth and args.host not in LOOPBACK:
        raise ConfigError(f"--no-auth is only allowed on a loopback address, not {args.host}")
    factory = EvaluatorSource(cluster=args.cluster, plugin=args.evaluator).factory()
    served = [DeviceSpec.parse(text).text for text in args.device or [LOCAL]]
    if len(set(served)) < len(served):
        raise ConfigError(f"--device {next(d for d in served if served.count(d) > 1)!r} is served twice")
    limits = Limits(max_body_bytes=args.max_body, max_files=args.max_files, max_file_bytes=args.max_file_bytes, max_batch=args.max_batch,
                    max_queue=args.queue, token_concurrency=args.token_concurrency, token_rate_per_min=args.rate,
                    max_threads=args.max_threads)  # fmt: skip
    db = args.serve_db or REPO_ROOT / "sessions" / "serve.sqlite"  # not the session database: jobs and verdicts only
    config = ServiceConfig(
        devices=tuple(served), db_path=db, limits=limits,
        tokens={} if args.no_auth else load_tokens(args.tokens), auth=not args.no_auth, hmac_key=load_secret(args.hmac_key),
        reward=RewardFormula.parse(args.reward), on_restart=args.on_restart, slots_per_device=args.slots_per_device, job_days=args.job_days,
    )  # fmt: skip
    serve(config, factory, args.host, args.port, log_level=args.log_level)
    return 0
