"""What a session may be called and tagged, and the error line for a reference that names no session.

Names and tags are typed by people and later typed back as references (`mkb-tui export NAME`, `--tag T`) and
completed by the shell, so they are kept to one word each: no spaces, no '#' (SESSION#SEQ is an event reference),
never 'latest' (it already means the newest session). Pure: the store calls these before it writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from mkb_tui.errors import ConfigError, RefError
from mkb_tui.vocabulary.suggest import did_you_mean

WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+/-]{0,63}")


def check_name(name: str) -> str:
    """The name as stored; ConfigError (one line) for one that could not be typed back as a reference."""
    if name == "latest" or not WORD.fullmatch(name):
        raise ConfigError(f"{name!r} cannot name a session: use one word of letters, digits and . _ : + / - (at most 64), not 'latest'")
    return name


def check_tags(tags: Iterable[str]) -> list[str]:
    """The tags, each once and in the order given; ConfigError for one that is not a word."""
    out = list(dict.fromkeys(tags))
    for tag in out:
        if not WORD.fullmatch(tag):
            raise ConfigError(f"{tag!r} cannot be a tag: use one word of letters, digits and . _ : + / - (at most 64)")
    return out


def unknown_ref(ref: str, known: Iterable[str], db: Path) -> RefError:
    """The error for a reference that matches no session id, prefix or name: the nearest ones, when any is close."""
    return RefError(f"no session {ref!r} in {db}{did_you_mean(ref, known, ' (see `mkb-tui sessions`)')}")


def ambiguous_ref(ref: str, ids: list[str]) -> RefError:
    return RefError(f"session {ref!r} is ambiguous: {', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''} (give more of the id)")
