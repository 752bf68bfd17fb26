"""Turn a model's answer into slot files: fenced blocks, each naming its file on its first line.

Accepted forms of the name line: `source/backend/cpu/MKBCandidate.cpp`, `// MKBCandidate.cpp`, `// file: ...`,
`/* MKBCandidate.cpp */`, or the name on the fence's info string (```cpp MKBCandidate.cpp). Prose around blocks is
ignored. A name matches a slot file by its full path or its base name.
"""

from __future__ import annotations

import re

from mkb_tui.engine.slots import Slot
from mkb_tui.errors import MkbError
from mkb_tui.vocabulary.verdicts import KernelCandidate

FENCE = re.compile(r"^(```+|~~~+)[ \t]*([^\n`]*)$", re.M)
NAME = re.compile(r"^\s*(?://+|/\*+|#)?\s*(?:file(?:name)?\s*[:=]\s*)?([\w./-]+\.(?:cpp|hpp|h|cc|cxx))\s*(?:\*/)?\s*$", re.I)


class AnswerFormatError(MkbError):
    """The answer does not contain the slot's files in the expected form."""


def _blocks(text: str) -> list[tuple[str, str]]:
    """(info string, body) of every fenced block; raises on an unterminated fence."""
    blocks, pos = [], 0
    while True:
        opening = FENCE.search(text, pos)
        if opening is None:
            return blocks
        fence = opening.group(1)
        closing = re.compile(r"^" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$", re.M).search(text, opening.end())
        if closing is None:
            raise AnswerFormatError("the answer is cut off: a code block is never closed")
        blocks.append((opening.group(2).strip(), text[opening.end() + 1 : closing.start()]))
        pos = closing.end()


def _match(name: str, slot: Slot) -> str | None:
    name = name.strip().lstrip("./")
    base = name.rsplit("/", 1)[-1]
    for path in slot.all_files:
        if name == path or base == path.rsplit("/", 1)[-1]:
            return path
    return None


def parse_answer(text: str, slot: Slot) -> KernelCandidate:
    if not text or not text.strip():
        raise AnswerFormatError("the answer is empty")
    raw, text = text, text.replace("\r\n", "\n").replace("\r", "\n")  # any line ending: CRLF answers parse as LF ones (issue 18)
    files: dict[str, str] = {}
    unknown: list[str] = []
    for info, body in _blocks(text):
        lines = body.splitlines()
        name, rest = None, lines
        info_name = next((w for w in info.split() if re.search(r"\.(cpp|hpp|h|cc)$", w)), None)
        if lines and NAME.match(lines[0]):
            name, rest = NAME.match(lines[0]).group(1), lines[1:]
        elif info_name:
            name = info_name
        if name is None:
            continue  # an unnamed block (e.g. a shell snippet) is prose
        path = _match(name, slot)
        if path is None:
            unknown.append(name)
            continue
        if path in files:
            raise AnswerFormatError(f"the answer names {path} twice; give each file once")
        files[path] = "\n".join(rest).rstrip() + "\n"
    missing = [p for p in slot.files if p not in files]
    if missing:
        extra = f" (it named {', '.join(unknown)}, which are not slot files)" if unknown else ""
        raise AnswerFormatError(
            f"the answer does not provide {', '.join(missing)}{extra}: put each file in a fenced block whose first line is its name"
        )
    return KernelCandidate(files, answer=raw)
