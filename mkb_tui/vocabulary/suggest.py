""""Did you mean": the one way an unknown name (a task id, a session id or name, a category) is answered with the
nearest known ones, so every command words it alike and none grows its own difflib call."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_names(word: str, names: Iterable[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """The known names nearest to `word`, best first (none when nothing is near enough to be a likely typo)."""
    return difflib.get_close_matches(word, list(dict.fromkeys(names)), n=n, cutoff=cutoff)


def did_you_mean(word: str, names: Iterable[str], otherwise: str = "") -> str:
    """': did you mean A or B?' for the tail of an error line, or `otherwise` when nothing is close."""
    close = close_names(word, names)
    return f": did you mean {' or '.join(close)}?" if close else otherwise
