"""`mkb-tui sessions` (the listing, its filters, and the rm/rename/tag actions of session_edit_cmd), `mkb-tui export
SESSION`, `mkb-tui replay [SESSION]`."""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
import sys
import time
from pathlib import Path, PurePosixPath

from rich.table import Table

from mkb_tui.cli.output import print_json, print_table
from mkb_tui.paths import DEFAULT_DB, id_file_name, inside
from mkb_tui.untrusted import shown


DB_HELP = "session database (default sessions/mkb.sqlite)"


def register(sub: argparse._SubParsersAction) -> None:
    from mkb_tui.cli import session_edit_cmd
    from mkb_tui.cli.completion import completes
    from mkb_tui.store.store import SESSION_STATUSES

    # --db defaults to SUPPRESS so `mkb-tui --db X sessions` (the top-level flag) is not overwritten by the subcommand
    p = sub.add_parser("sessions", help="list stored sessions (status, model, tasks, best speedups, cost); rm, rename, tag them")
    p.add_argument("--db", type=Path, default=argparse.SUPPRESS, help=DB_HELP)
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.add_argument("--status", choices=SESSION_STATUSES, default=None, help="only sessions with this status")
    p.add_argument("--model", default=None, help="only sessions whose model matches (a glob; plain text matches anywhere in the name)")
    p.add_argument("--tag", action="append", default=[], help="only sessions with this tag (repeatable: every one)")
    p.add_argument("--ids", action="store_true", help=argparse.SUPPRESS)  # for shell completion: one id a line
    p.set_defaults(func=cmd_sessions)
    session_edit_cmd.register(p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p)), DB_HELP)

    p = sub.add_parser("export", help="a session's best kernels and report, or training data (--format sft|preference)",
                       description="kernels: one session's best kernels (one directory per task) and report.json. "
                                   "sft: JSONL of prompt/completion for selected kernels (default: correct ones). "
                                   "preference: JSONL of prompt/chosen/rejected pairs for the same prompt. Training data "
                                   "covers the sessions named, or all; keys, paths and machine details are taken out.")  # fmt: skip
    completes(p.add_argument("session", nargs="*", help="session ids, unique prefixes, names, or 'latest' (kernels: one, default latest; "
                                                        "sft/preference: default every session)"), "sessions")  # fmt: skip
    p.add_argument("--db", type=Path, default=argparse.SUPPRESS, help="session database (default sessions/mkb.sqlite)")
    p.add_argument("--format", choices=("kernels", "sft", "preference"), default="kernels")
    p.add_argument("--out", type=Path, default=None, help="default: out/<session> (kernels), out/<format>.jsonl")
    p.add_argument("--model", action="append", default=[], help="only sessions of this model (glob; repeatable)")
    p.add_argument("--category", action="append", default=[], help="only tasks of this category (repeatable)")
    p.add_argument("--verdict", action="append", default=[], help="sft: these verdicts (default correct); preference: the chosen side's")
    p.add_argument("--min-speedup", type=float, default=None, help="sft: at least this speedup; preference: the chosen side's")
    p.add_argument("--max-pairs", type=int, default=16, help="preference: pairs per prompt at most")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("replay", help="step through a stored session in the app (read-only)")
    completes(p.add_argument("session", nargs="?", help="SESSION, or SESSION#SEQ to open at that event (the app's y copies one); default: the latest"),
              "sessions")
    p.add_argument("--db", type=Path, default=argparse.SUPPRESS, help="session database (default sessions/mkb.sqlite)")
    p.set_defaults(func=cmd_replay)


def db_path(args) -> Path:
    return Path(getattr(args, "db", None) or DEFAULT_DB)


def existing_db(args) -> Path:
    from mkb_tui.errors import ConfigError

    path = db_path(args)
    if not path.is_file():
        raise ConfigError(f"{path}: no session database yet (run a session, or pass --db)")
    return path


def format_best(best: dict[str, float | None]) -> str:
    """Every task's best speedup, whole: a narrow terminal wraps the cell, a pipe gets it on one line."""
    return ", ".join(f"{t} {v:.2f}x" for t, v in best.items() if v) or "-"


def model_matches(model: str, pattern: str) -> bool:
    """A glob on the whole model name; a pattern with no glob characters matches anywhere in it ("qwen")."""
    if not any(c in pattern for c in "*?["):
        return pattern.lower() in model.lower()
    return fnmatch.fnmatch(model.lower(), pattern.lower())


def select_sessions(sessions: list, status: str | None, model: str | None, tags: list[str]) -> list:
    """The summaries that pass every filter given."""
    return [s for s in sessions if (status is None or s.status == status) and (model is None or model_matches(s.model, model))
            and set(tags) <= set(s.tags)]  # fmt: skip


def filters_said(args) -> str:
    return " ".join(f"--{k} {v}" for k, v in (("status", args.status), ("model", args.model), *(("tag", t) for t in args.tag)) if v)


def cmd_sessions(args) -> int:
    from mkb_tui.store import Store

    async def load():
        if not db_path(args).is_file():
            return []
        async with Store(db_path(args), readonly=True) as store:
            return await store.sessions()

    every = asyncio.run(load())
    sessions = select_sessions(every, args.status, args.model, args.tag)
    if args.ids:  # for completion scripts: nothing but ids, and quiet when there is nothing
        for s in sessions:
            print(s.id)
        return 0
    if every and not sessions:  # an empty list that exits 0 reads as "there are none"
        sys.stderr.write(shown(f"mkb-tui: error: no session matches {filters_said(args)} ({len(every)} in {db_path(args)})") + "\n")
        return 1
    if args.json:
        print_json([s.__dict__ for s in sessions])
        return 0
    table = Table(title=f"sessions in {db_path(args)}")
    labelled = any(s.name or s.tags for s in sessions)  # name and tags columns only once something has them
    for col in ("id", *(("name", "tags") if labelled else ()), "status", "model", "device", "method", "tasks", "best speedups", "tokens", "cost", "date"):
        table.add_column(col, justify="right" if col in ("tokens", "cost") else "left", no_wrap=col == "id")
    for s in sessions:
        label = (s.name or "-", ", ".join(s.tags) or "-") if labelled else ()
        table.add_row(s.id, *label, s.status, s.model, s.device, s.method, f"{s.done}/{s.tasks}", format_best(s.best), str(s.tokens), f"${s.cost_usd:.4f}",
                      time.strftime("%Y-%m-%d %H:%M", time.localtime(s.created)))  # fmt: skip
    stalled = [s.id for s in sessions if s.status in ("interrupted", "error", "budget", "stopped")]  # stopped: a provider gave up
    if stalled:
        url = " [--base-url URL]" if next(s for s in sessions if s.id == stalled[0]).status == "stopped" else ""  # the provider may have moved
        table.caption = f"continue one with: mkb-tui --batch --resume {stalled[0]}{url} (or mkb-tui --resume {stalled[0]} in the app)"
    if sessions:
        print_table(table)
    else:
        print(shown(f"no sessions in {db_path(args)}"))
    return 0


def kernel_paths(files: dict[str, str]) -> dict[str, str]:
    """Slot paths -> export file names: the base name, or the whole relative path when two base names collide."""
    names = [PurePosixPath(rel).name for rel in files]
    out = {}
    for rel, name in zip(files, names, strict=True):
        parts = [p for p in PurePosixPath(rel).parts if p not in ("", ".", "..", "/")]
        out[rel] = id_file_name(name) if names.count(name) == 1 and name not in ("", ".", "..") else "/".join(map(id_file_name, parts))
    return out


async def export_session(db: Path, ref: str, out: Path | None) -> tuple[Path, int]:
    """Best kernel of every task to OUT/kernels/<task>/, and OUT/report.json (metrics, per-task best, session)."""
    from mkb_tui.store import Store
    from mkb_tui.store.results import session_report

    async with Store(db, readonly=True) as store:
        session_id = await store.resolve(ref)
        states = await store.task_states(session_id)
        report = await session_report(store, session_id)
    out = out or Path("out") / id_file_name(session_id)
    best = {}
    for task_id, state in states.items():
        written = []
        for rel, name in kernel_paths(state.best_files or {}).items():
            path = inside(out, out / "kernels" / id_file_name(task_id) / name)  # ids are data, never paths
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(str(state.best_files[rel]))
            written.append(str(path.relative_to(out)))
        best[task_id] = {"status": state.status, "iteration": state.best_iteration, "speedup": state.best_speedup, "files": written}
    report["best"] = best
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str))
    return out, sum(1 for b in best.values() if b["files"])


def cmd_export(args) -> int:
    from mkb_tui.errors import ConfigError

    if args.format != "kernels":
        return export_training(args)
    if len(args.session) > 1:
        raise ConfigError("--format kernels exports one session at a time")
    out, count = asyncio.run(export_session(existing_db(args), (args.session or ["latest"])[0], args.out))
    print(shown(f"exported {count} best kernels and report.json to {out}"))
    return 0


async def training_records(db: Path, refs: list[str], fmt: str, selection, max_pairs: int = 16) -> list[dict]:
    from mkb_tui.store import Store
    from mkb_tui.store.datasets import preference_records, session_candidates, sft_records

    async with Store(db, readonly=True) as store:
        ids = [await store.resolve(r) for r in refs] if refs else [s.id for s in reversed(await store.sessions())]
        candidates = [c for sid in dict.fromkeys(ids) for c in await session_candidates(store, sid)]
    if fmt == "sft":
        return list(sft_records(candidates, selection))
    return list(preference_records(candidates, selection, max_pairs=max_pairs))


def export_training(args) -> int:
    from mkb_tui.errors import ConfigError
    from mkb_tui.store.datasets import ExportFilter

    if args.max_pairs < 1:
        raise ConfigError("--max-pairs must be at least 1")
    verdicts = tuple(args.verdict) or (("correct",) if args.format == "sft" else ())
    selection = ExportFilter(tuple(args.model), tuple(args.category), verdicts, args.min_speedup)
    records = asyncio.run(training_records(existing_db(args), args.session, args.format, selection, args.max_pairs))
    out = args.out or Path("out") / f"{args.format}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"exported {len(records)} {'records' if args.format == 'sft' else 'pairs'} to {out}")
    return 0


def cmd_replay(args) -> int:
    from mkb_tui.store.refs import parse_ref
    from mkb_tui.tui.app import run_app

    session, _ = parse_ref(args.session or "latest")  # a malformed SESSION#SEQ is one error line before the app opens
    db = existing_db(args)
    check_session(db, session)  # an unknown id is one error line and exit 1, not an empty app
    return run_app(db=db, replay=args.session or "latest")


def check_session(db: Path, ref: str) -> str:
    """The session id `ref` names in `db` (ConfigError, one line, when there is none)."""
    from mkb_tui.store import Store

    async def resolve() -> str:
        async with Store(db, readonly=True) as store:
            return await store.resolve(ref)

    return asyncio.run(resolve())
