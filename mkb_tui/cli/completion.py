"""Shell completion generated from the argparse tree: `completes` marks an argument whose values are stored ids, so
a completion script can ask a hidden helper for them."""

from __future__ import annotations

import argparse

# what the scripts call for an argument marked with `completes`: hidden helpers printing one id a line
ID_COMMANDS = {"sessions": "sessions --ids", "tasks": "tasks list --ids"}


def completes(action: argparse.Action, kind: str) -> argparse.Action:
    """Mark an argument as taking ids of `kind` (a key of ID_COMMANDS); returns it, to wrap add_argument."""
    if kind not in ID_COMMANDS:
        raise ValueError(f"no id helper for {kind!r}")
    action.completes = kind  # type: ignore[attr-defined]
    return action
