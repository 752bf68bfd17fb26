"""Text a candidate's process wrote (the runner's stdout and stderr, the error its report gives), made fit to keep.

A runner process reads input sets, fixed and secret, and the candidate's code runs inside it: whatever it prints may
be those inputs' values (a kernel that fails on purpose and prints its inputs first). Before such text reaches a
verdict, and through it a log, a prompt or the store, every number in it is replaced by `#` (decimal, exponent and hex
forms, and hex runs without digits), a line holding characters outside printable ASCII is dropped (raw bytes of a
float printed as text), and it is bounded: its head and its tail, a few KB in all. An honest error ("Segmentation fault", "input x:
element count # != model's #") keeps its words. What stays possible is a deliberate encoding of values in letters,
within the bound; the bound is what limits it.
"""

from __future__ import annotations

import re

NUMBER = "#"
HEAD, TAIL = 1024, 2048  # characters kept from each end of a process's text
LINE = 240  # one line of it in a verdict's message

_NUMBERS = re.compile(
    r"0[xX][0-9a-fA-F]*(?:\.[0-9a-fA-F]*)?(?:[pP][+-]?\d+)?"  # hex integers and hex floats (%a)
    r"|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"  # decimals, with or without a fraction or an exponent
    r"|\b[a-fA-F]{8,}\b"  # hex digits without a decimal one (deadbeef)
)
_NOT_TEXT = re.compile(r"[^\x20-\x7e\t]")
_RUNS = re.compile(r"#(?:[#.,:;+\-\s]*#)+")  # a list of numbers becomes one mark


BINARY = "[non-text bytes]"


def scrub(text: str) -> str:
    """`text` with every number replaced by # and every line holding anything but printable ASCII and tabs replaced
    by a mark (raw bytes of floats written as text: the printable ones among them would otherwise stay)."""
    if not text:
        return ""
    lines, last = [], None
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if _NOT_TEXT.search(line):
            line = BINARY
            if last == BINARY:
                continue
        lines.append(line)
        last = line
    text = _NUMBERS.sub(NUMBER, "\n".join(lines))
    return _RUNS.sub("#...", text)


def bounded(text: str, head: int = HEAD, tail: int = TAIL) -> str:
    """`text` cut to its first `head` and last `tail` characters, with a note of what was left out."""
    if len(text) <= head + tail:
        return text
    return f"{text[:head]}\n[... {len(text) - head - tail} characters left out ...]\n{text[-tail:]}"


def process_text(text: str | bytes | None, head: int = HEAD, tail: int = TAIL) -> str:
    """A candidate process's output as a verdict may keep it: scrubbed of numbers and non-text, then bounded. The
    input is cut first (a margin beyond the bound), so a flood costs nothing."""
    if not text:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    margin = 4096
    if len(text) > head + tail + 2 * margin:
        text = text[: head + margin] + "\n" + text[-(tail + margin):]
    return bounded(scrub(text), head, tail)


def last_line(text: str | bytes | None, limit: int = LINE) -> str:
    """The last non-empty line of a process's output, scrubbed and at most `limit` characters (for a message)."""
    lines = [line.strip() for line in process_text(text, 0, 8192).splitlines() if line.strip()]
    return lines[-1][:limit] if lines else ""
