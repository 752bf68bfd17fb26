"""Error Extractor: compiler diagnostics -> structured errors with the enclosing function/class (tree-sitter),
local vs cross-file, and "did you mean" from the symbol index for unknown names."""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass, field

from mkb_tui.agents.tools.repo_tree import Symbol
from mkb_tui.engine.static_check import _parser
from mkb_tui.vocabulary.verdicts import Diagnostic

UNKNOWN_NAME = re.compile(r"(?:has no member named|was not declared in this scope|is not a member of|does not name a type|"
                          r"no matching function for call to|use of undeclared identifier|no member named)\s*[‘'`\"]?([\w:~]+)")  # fmt: skip
QUOTED = re.compile(r"[‘'`\"]([\w:~]+)[’'`\"]")


@dataclass
class StructuredError:
    error_file: str
    error_line: int
    error_column: int
    error_message: str
    error_context: str  # enclosing function or class
    scope: str  # local (in the candidate's files) | crossfile (in MNN's files)
    node_start: tuple[int, int] | None = None  # (line, column) of the offending construct, 1-based line
    node_end: tuple[int, int] | None = None
    did_you_mean: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _enclosing(source: str, line: int, column: int) -> tuple[str, tuple[int, int] | None, tuple[int, int] | None]:
    tree = _parser().parse(source.encode())
    point = (max(line - 1, 0), max(column - 1, 0))
    node = tree.root_node.named_descendant_for_point_range(point, point)
    span = (node.start_point[0] + 1, node.start_point[1] + 1), (node.end_point[0] + 1, node.end_point[1] + 1)
    context = ""
    while node is not None:
        if node.type in ("function_definition", "class_specifier", "struct_specifier"):
            head = node.text.decode(errors="replace").split("{")[0].strip().splitlines()
            context = " ".join(h.strip() for h in head)[:200]
            break
        node = node.parent
    return context, span[0], span[1]


def nearest_symbols(name: str, symbols: tuple[Symbol, ...], n: int = 3) -> list[str]:
    bare = name.split("::")[-1]
    names = sorted({s.name for s in symbols})
    close = difflib.get_close_matches(bare, names, n=n, cutoff=0.5)
    by_name = {s.name: s for s in symbols}
    return [by_name[c].describe() for c in close]


def extract(diagnostics: list[Diagnostic], files: dict[str, str], symbols: tuple[Symbol, ...] = ()) -> list[StructuredError]:
    out: list[StructuredError] = []
    seen = set()
    for d in diagnostics:
        if d.severity not in ("error", "fatal error"):
            continue
        key = (d.file, d.line, d.message)
        if key in seen:
            continue
        seen.add(key)
        local_path = next((p for p in files if d.file == p or d.file.endswith("/" + p.rsplit("/", 1)[-1]) or d.file == p.rsplit("/", 1)[-1]), None)
        context, start, end = ("", None, None)
        if local_path is not None and d.line > 0:
            context, start, end = _enclosing(files[local_path], d.line, d.column)
        suggestions: list[str] = []
        m = UNKNOWN_NAME.search(d.message) or QUOTED.search(d.message)
        if m and symbols:
            suggestions = nearest_symbols(m.group(1), symbols)
        out.append(StructuredError(local_path or d.file, d.line, d.column, d.message, context,
                                   "local" if local_path else "crossfile", start, end, suggestions))  # fmt: skip
    return out
