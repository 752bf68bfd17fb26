"""Entry point: `mkb-tui` opens the app; subcommands and `--batch` run headless.

Each concern registers its own subcommands from a small module (cli/<concern>_cmd.py) exposing
`register(subparsers)`; handlers return an exit code. Nothing heavy (torch, onnx) is imported here.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from mkb_tui import __version__
from mkb_tui.errors import MkbError

# concern module -> registers these subcommands; order is the order shown in --help
COMMAND_MODULES = [
    "mkb_tui.cli.tasks_cmd",  # tasks list/show/export/validate
    "mkb_tui.cli.report_cmd",  # report
    "mkb_tui.cli.engine_cmd",  # setup, eval, oracle, doctor
    "mkb_tui.cli.sessions_cmd",  # sessions, export, replay
    "mkb_tui.cli.compare_cmd",  # compare
    "mkb_tui.cli.serve_cmd",  # serve (the reward service)
    "mkb_tui.cli.cluster_cmd",  # cluster node/status
    "mkb_tui.cli.completion",  # completion bash|zsh|fish
]


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)


DEVICE_HELP = "local | qemu | adb[:SERIAL] | adb:* (every phone) | adb://HOST:PORT[/SERIAL|/*], or a comma list of phones (a pool); default local"


def add_device_argument(p: argparse.ArgumentParser, help: str = DEVICE_HELP, **kw) -> None:
    """`--device` text, which the command parses at once by the one grammar (mkb_tui.sessions.devices): a bad string is
    one error line naming it (exit 1), before anything opens."""
    p.add_argument("--device", default="local", help=help, **kw)


def add_session_arguments(p: argparse.ArgumentParser) -> None:
    """How a new session evaluates and samples: the same flags for the app and for --batch."""
    p.add_argument("--base-url", default=None, help="for openai-compatible servers (Ollama, vLLM, llama.cpp)")
    add_device_argument(p)
    p.add_argument("--cluster", default=None, metavar="ADDRESS", help="evaluate on a Ray cluster: ray://HOST:PORT, HOST:PORT or auto (pip install 'mkb-tui[cluster]')")
    p.add_argument("--method", default="moka", help="moka | single | pass@k (with --k K), or pass@K (default moka)")
    p.add_argument("--k", type=int, default=None, help="samples for --method pass@k (default 10)")
    p.add_argument("--iterations", type=int, default=None, help="MoKA iterations per task (default 10)")
    p.add_argument("--jobs", type=int, default=None, help="tasks in flight at once (default 8; 1 for scripted models)")
    p.add_argument("--workspaces", type=int, default=None, help="MNN workspaces per device, made when first needed (default: 2, or 1 on one core)")
    p.add_argument("--threads", type=int, default=None, help="MNN threads when timing (default 1)")


def build_parser() -> Parser:
    from mkb_tui.cli.completion import completes

    parser = Parser(
        prog="mkb-tui",
        description="MobileKernelBench + MoKA: LLM-written MNN CPU kernels, built, verified and timed. "
        "With no command, opens the terminal app.",
    )
    parser.add_argument("--version", action="version", version=f"mkb-tui {__version__}")
    # the one --db: a Path here; subcommands' own --db (after the command) default to SUPPRESS and land in the same place
    parser.add_argument("--db", type=Path, default=None, help="session database (default sessions/mkb.sqlite)")
    parser.add_argument("--batch", action="store_true", help="run a headless benchmark sweep (see `mkb-tui --batch --help`)")
    completes(parser.add_argument("--resume", metavar="SESSION", default=None, help="continue an interrupted session in the app"), "sessions")
    parser.add_argument("--tasks", default=None, help="with --model: queue these tasks in the app (press s to start)")
    parser.add_argument("--model", default=None, help="PROVIDER:NAME for a new session in the app")
    add_session_arguments(parser)
    parser.add_argument("--budget-usd", type=float, default=None, help="stop the session cleanly once this much is spent")
    parser.add_argument("--budget-tokens", type=int, default=None, help="stop the session cleanly after this many tokens")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # concern not built yet
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    code = _main(argv)
    try:
        sys.stdout.flush()  # here, not at exit: a reader gone away (`| head`) is a quiet exit 0, not a traceback
    except BrokenPipeError:
        return _closed_pipe()
    return code


def _main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if "--batch" in argv:
            from mkb_tui.cli import batch_cmd

            return batch_cmd.main([a for a in argv if a != "--batch"])
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            from mkb_tui.cli import app_cmd

            return app_cmd.main(args)
        return int(args.func(args) or 0)
    except MkbError as exc:
        from mkb_tui.untrusted import shown

        sys.stderr.write(f"mkb-tui: error: {shown(exc)}\n")  # may quote a stored id: no escape reaches the terminal
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("mkb-tui: interrupted\n")
        return 130
    except BrokenPipeError:
        return _closed_pipe()


def _closed_pipe() -> int:
    """The reader went away (`| head`): end quietly, exit 0, and keep Python from complaining at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
