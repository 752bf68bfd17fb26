"""`mkb-tui` with no command: the terminal app (optionally starting or resuming a session)."""

from __future__ import annotations

from pathlib import Path

from mkb_tui.paths import DEFAULT_DB


def main(args) -> int:
    from mkb_tui.sessions.settings import SessionSettings, check_base_url
    from mkb_tui.tui.app import run_app

    session = None
    if args.tasks or args.model:
        session = SessionSettings.new(args.tasks or "", args.model, method=args.method, k=args.k, device=args.device, cluster=args.cluster, base_url=args.base_url,
                                      iterations=args.iterations, jobs=args.jobs, threads=args.threads, workspaces=args.workspaces,
                                      budget_usd=args.budget_usd, budget_tokens=args.budget_tokens)  # fmt: skip
    db = Path(args.db or DEFAULT_DB)
    if args.resume:  # an unknown id is one error line and exit 1, before the app opens
        from mkb_tui.cli.sessions_cmd import check_session
        from mkb_tui.errors import ConfigError

        if not db.is_file():
            raise ConfigError(f"{db}: no session database yet (nothing to resume)")
        check_session(db, args.resume)
        if args.base_url:  # a malformed URL is one line naming it, before the app opens
            check_base_url(args.base_url)
    return run_app(db=db, new_session=session, resume=args.resume, base_url=args.base_url if args.resume else None)
