"""Side-by-side and unified diffs of kernel sources as rich Text (difflib; no third-party diff widget)."""

from __future__ import annotations

import difflib

from rich.table import Table
from rich.text import Text

from mkb_tui.untrusted import shown


def unified(old: str, new: str, old_name: str = "before", new_name: str = "after") -> Text:
    text = Text()  # kernels and names come from a model or a stored session: shown as text, controls made visible
    old, new, old_name, new_name = shown(old), shown(new), shown(old_name), shown(new_name)
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), old_name, new_name, lineterm="", n=3):
        style = "green" if line.startswith("+") and not line.startswith("+++") else "red" if line.startswith("-") and not line.startswith("---") else "cyan" if line.startswith("@@") else ""
        text.append(line + "\n", style=style)
    return text if text.plain else Text("(no changes)", style="dim")


def side_by_side(old: str, new: str, old_name: str = "before", new_name: str = "after") -> Table:
    table = Table(expand=True, show_lines=False, box=None, padding=(0, 1))
    old, new = shown(old), shown(new)
    table.add_column("#", justify="right", style="dim", no_wrap=True)
    table.add_column(Text(shown(old_name)), ratio=1, overflow="ellipsis", no_wrap=True)
    table.add_column("#", justify="right", style="dim", no_wrap=True)
    table.add_column(Text(shown(new_name)), ratio=1, overflow="ellipsis", no_wrap=True)
    a, b = old.splitlines(), new.splitlines()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        span = max(i2 - i1, j2 - j1)
        for k in range(span):
            left = a[i1 + k] if i1 + k < i2 else ""
            right = b[j1 + k] if j1 + k < j2 else ""
            style_l = "on #3b1f1f" if tag in ("replace", "delete") and left else ""
            style_r = "on #1f3b1f" if tag in ("replace", "insert") and right else ""
            table.add_row(str(i1 + k + 1) if i1 + k < i2 else "", Text(left, style=style_l), str(j1 + k + 1) if j1 + k < j2 else "", Text(right, style=style_r))
    return table


def changed_lines(old: str, new: str) -> int:
    return sum(1 for line in difflib.ndiff(old.splitlines(), new.splitlines()) if line[:1] in "+-")


def side_by_side_hunks(old: str, new: str) -> list[int]:
    """The table rows (0 is the header) where each run of changed lines starts in side_by_side(old, new)."""
    a, b = shown(old).splitlines(), shown(new).splitlines()
    starts, row = [], 1
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            starts.append(row)
        row += max(i2 - i1, j2 - j1)
    return starts


def unified_hunks(diff: Text) -> list[int]:
    """The lines of a unified() diff where each hunk (@@) starts."""
    return [i for i, line in enumerate(diff.plain.splitlines()) if line.startswith("@@")]
