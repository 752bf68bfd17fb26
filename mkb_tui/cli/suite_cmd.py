"""`mkb-tui setup suite paper` and `mkb-tui tasks lock --suite paper`: the paper's published tasks, fetched at run
time into the user cache (never vendored), and the lock of the facts derived from them."""

from __future__ import annotations

import argparse
import json
import os

from rich.console import Console


def register_setup(ssub: argparse._SubParsersAction) -> None:
    p = ssub.add_parser("suite", help="fetch a published task suite (paper: MobileKernelBench's 190 tasks) into the user cache")
    p.add_argument("name", choices=["paper", "mobilekernelbench"], help="the suite")
    p.add_argument("--from", dest="from_path", default=os.environ.get("MKB_PAPER_FROM"),
                   help="a local checkout or bare git dir of the repository (default: clone it from GitHub)")
    p.add_argument("--force", action="store_true", help="fetch again even when it is set up")
    p.set_defaults(func=cmd_setup_suite)


def register_lock(tsub: argparse._SubParsersAction) -> None:
    p = tsub.add_parser("lock", help="run a foreign suite's files (in a child process) and write its lock file")
    p.add_argument("--suite", default="paper", help="paper, or a folder of KernelBench-format files")
    p.add_argument("--out", default=None, help="where to write the lock (default: the suite's lock path)")
    p.add_argument("--only", action="append", default=[], metavar="CATEGORY/NAME",
                   help="re-lock these tasks only (repeatable); the lock's other entries are kept as they are")
    p.set_defaults(func=cmd_lock)


def cmd_setup_suite(args) -> int:
    from mkb_tui.bench.suites import PAPER_COMMIT, setup_paper

    console = Console(stderr=True)
    path = setup_paper(args.from_path, force=args.force, say=lambda m: console.print(m, highlight=False, soft_wrap=True))
    print(f"paper suite ({PAPER_COMMIT[:12]}) in {path}")
    return 0


def cmd_lock(args) -> int:
    from pathlib import Path

    from mkb_tui.engine import suite_lock
    from mkb_tui.bench.suites import PAPER_COMMIT, PAPER_REPO, get_suite, require_root
    from mkb_tui.engine.mnn import find_mnn

    suite = get_suite(args.suite)
    if not suite.foreign:
        raise SystemExit("the mkb suite's metadata lives in its task files (tasks/_gen/generate.py)")
    root = require_root(suite)
    console = Console(stderr=True)
    mnn = find_mnn()
    out = Path(args.out) if args.out else suite.lock
    kept = None
    if args.only:
        try:
            kept = json.loads(out.read_text())
        except (OSError, ValueError) as exc:
            raise SystemExit(f"--only updates an existing lock, and {out} cannot be read ({exc})") from None
        unknown = sorted(set(args.only) - {e["name"] for e in kept.get("tasks", [])})
        if unknown:
            raise SystemExit(f"not in {out}: {', '.join(unknown)}")
    lock = suite_lock.lock_suite(root, say=lambda m: console.print(m, highlight=False), mnn_root=mnn.root if mnn else None,
                                 names=args.only or None)  # fmt: skip
    if kept is not None:
        fresh = {e["name"]: e for e in lock["tasks"]}
        lock = {**kept, "tasks": [fresh.get(e["name"], e) for e in kept["tasks"]]}
    elif suite.kind == "paper":
        lock = {"format": 1, "suite": "paper", "repository": PAPER_REPO, "commit": PAPER_COMMIT, **lock}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_lock(lock))
    states = {}
    for entry in lock["tasks"]:
        states[entry["state"]] = states.get(entry["state"], 0) + 1
    print(f"{len(args.only) if args.only else len(lock['tasks'])} tasks locked to {out}: " + ", ".join(f"{n} {s}" for s, n in sorted(states.items())))
    return 0


def render_lock(lock: dict) -> str:
    """One line per task, so a re-lock's diff shows which tasks changed."""
    head = {k: v for k, v in lock.items() if k != "tasks"}
    lines = ",\n".join(json.dumps(e, sort_keys=False) for e in lock["tasks"])
    return json.dumps(head)[:-1] + ', "tasks": [\n' + lines + "\n]}\n"
