"""`mkb-tui` with no command: the terminal app (optionally starting or resuming a session)."""

from __future__ import annotations

from pathlib import Path

from mkb_tui.paths import DEFAULT_DB


def main(args) -> int:
    from mkb_tui.tui.app import run_app
    from mkb_tui.tui.screens import NewSession

    session = None
    if getattr(args, "tasks", None) and getattr(args, "model", None):
        session = NewSession(args.tasks, args.model, args.device, args.iterations, args.base_url)
    return run_app(db=Path(args.db or DEFAULT_DB), new_session=session, resume=args.resume)
