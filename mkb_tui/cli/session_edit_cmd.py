"""`mkb-tui sessions rm|rename|tag`: a person tidying the sessions list (issue 21).

Each resolves every reference before it changes anything, so a typo in the third of three refs removes nothing; a
session a live process is writing is never removed unless --force (its writer would go on appending to a session
that is gone). The writes are the store's methods; this module only words the result, one line a session.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from mkb_tui.errors import ConfigError
from mkb_tui.untrusted import shown


def register(actions: argparse._SubParsersAction, db_help: str) -> None:
    """The actions under `mkb-tui sessions`; each takes --db after it too (SUPPRESS: an earlier --db stands)."""
    from mkb_tui.cli.completion import completes

    p = actions.add_parser("rm", help="remove sessions and everything stored for them (refuses a running one unless --force)")
    completes(p.add_argument("refs", nargs="+", metavar="REF", help="session ids, unique prefixes, names, or 'latest'"), "sessions")
    p.add_argument("--force", action="store_true", help="remove a session even while a live process is writing it")
    p.add_argument("--db", type=Path, default=argparse.SUPPRESS, help=db_help)
    p.set_defaults(func=cmd_rm)

    p = actions.add_parser("rename", help="give a session a name, usable wherever its id is")
    completes(p.add_argument("ref", metavar="REF", help="session id, unique prefix, name, or 'latest'"), "sessions")
    p.add_argument("name", metavar="NEW_NAME", help="one word: letters, digits and . _ : + / -")
    p.add_argument("--db", type=Path, default=argparse.SUPPRESS, help=db_help)
    p.set_defaults(func=cmd_rename)

    p = actions.add_parser("tag", help="add tags to a session (or take them away with --untag)")
    completes(p.add_argument("ref", metavar="REF", help="session id, unique prefix, name, or 'latest'"), "sessions")
    p.add_argument("tags", nargs="+", metavar="TAG", help="one word each")
    p.add_argument("--untag", action="store_true", help="remove these tags instead")
    p.add_argument("--db", type=Path, default=argparse.SUPPRESS, help=db_help)
    p.set_defaults(func=cmd_tag)


def _edit(args, change) -> list[str]:
    """Run `change(store)` on the existing database (never made by a command that edits) and return its lines."""
    from mkb_tui.cli.sessions_cmd import existing_db
    from mkb_tui.store import Store

    async def run() -> list[str]:
        async with Store(existing_db(args)) as store:
            return await change(store)

    return asyncio.run(run())


def cmd_rm(args) -> int:
    async def change(store) -> list[str]:
        ids = list(dict.fromkeys([await store.resolve(ref) for ref in args.refs]))
        summaries = {s.id: s for s in await store.sessions()}
        for sid in ids:
            writer = await store.live_writer(sid)
            if writer is not None and not args.force:
                raise ConfigError(f"session {sid} is running (pid {writer[1]} on {writer[0]}): nothing removed; stop it first, or pass --force")
        lines = []
        for sid in ids:
            await store.remove_session(sid)
            s = summaries[sid]
            lines.append(f"removed {sid}{f' ({s.name})' if s.name else ''}: {s.status}, {s.model or '-'}, {s.done}/{s.tasks} tasks")
        return lines

    for line in _edit(args, change):
        print(shown(line))
    return 0


def cmd_rename(args) -> int:
    async def change(store) -> list[str]:
        sid = await store.resolve(args.ref)
        await store.rename_session(sid, args.name)
        return [f"renamed {sid} to {args.name}"]

    print(shown(_edit(args, change)[0]))
    return 0


def cmd_tag(args) -> int:
    async def change(store) -> list[str]:
        sid = await store.resolve(args.ref)
        tags = await store.tag_session(sid, args.tags, remove=args.untag)
        return [f"{sid}: tags {', '.join(tags) if tags else '(none)'}"]

    print(shown(_edit(args, change)[0]))
    return 0
