"""Judge what the compiler saw, not the text the model wrote.

The candidate's files are compiled with `-save-temps=obj` (compile_launcher.sh), so the build leaves the translation
unit exactly as the preprocessor produced it with the build's own flags and include paths (`.ii`), and `-MD` leaves the
compiler's own list of every file it read (`.d`). Macros, computed `#include MACRO`, token pasting and `_Pragma` are
expanded there, so a banned call cannot hide behind them. The line markers of the `.ii` say which lines come from the
candidate's files; they can be trusted because the raw text may not hold line-changing directives (`#line`, `# N "f"`),
the one way a source could forge them (directives never come out of macro expansion).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from mkb_tui.engine.types import Finding

ALLOWED_DIRECTIVES = {"", "include", "include_next", "define", "undef", "if", "ifdef", "ifndef", "elif", "else", "endif", "pragma",
                      "error", "warning"}  # fmt: skip
# pragmas a kernel may use: optimisation hints only (no visibility, weak, redefine_extname, poison, system_header, ...)
ALLOWED_PRAGMAS = re.compile(r"^\s*(once|pack\b|unroll\b|omp\s+simd\b|GCC\s+(optimize|push_options|pop_options|unroll|ivdep|target|"
                             r"diagnostic)\b|clang\s+loop\b|message\b)")  # fmt: skip
# attributes that run code at load time, change linkage or place code: interposers and constructors start here
BANNED_ATTRIBUTES = {"constructor", "destructor", "init_priority", "alias", "ifunc", "weakref", "weak", "visibility", "section",
                     "naked", "symver"}  # fmt: skip
ASM_TOKENS = {"asm", "__asm__", "__asm"}
INSPECTION = {"__builtin_frame_address", "__builtin_return_address", "__builtin_extract_return_addr", "__builtin_apply",
              "__builtin_apply_args", "__builtin_setjmp", "__builtin_longjmp", "setjmp", "longjmp", "_setjmp", "sigsetjmp",
              "__builtin_readcyclecounter", "__builtin_ia32_rdtsc", "__builtin_ia32_rdtscp", "__rdtscp", "_rdtsc",
              "__builtin_arm_rsr", "__builtin_arm_rsr64", "__arm_rsr", "__arm_rsr64"}  # fmt: skip
HEADER_SUFFIXES = ("", ".h", ".hpp", ".hh", ".hxx", ".h++", ".tcc", ".inl", ".inc", ".def")
# system headers that are about the operating system, not computation: a kernel's own files may not include them
# (however the include is spelled: computed, digraph); MNN's and the standard library's headers may
OS_HEADERS = re.compile(r"/(elf|link|dlfcn|unistd|fcntl|pthread|sched|dirent|signal|setjmp|syscall|spawn|poll|netdb|termios|"
                        r"ucontext|execinfo|sys/\w+|linux/\w+|asm/\w+|asm-generic/\w+|bits/syscall|ifaddrs|pwd|grp|mqueue|"
                        r"semaphore)\.h$|/(thread|future|chrono|ctime|fstream|csignal|csetjmp)$")  # fmt: skip
_LITERAL = re.compile(r'"([A-Za-z_]\w*)"')

# a literal prefix ("\n# "), so the scan over a few MB of headers runs at memchr speed
_MARKER = re.compile(r'\n# (\d+) "((?:[^"\\\n]|\\.)*)"((?: [1-4])*)[ \t]*(?=\n|$)')
_STRINGS = re.compile(r'R"([^()\\\s]{0,16})\((?:.|\n)*?\)\1"|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'')
_IDENT = re.compile(r"[A-Za-z_]\w*")
_ATTRIBUTE = re.compile(r"__attribute(?:__)?\s*\(\((.*?)\)\)|\[\[(.*?)\]\]", re.S)


# ------------------------------------------------------------------ the raw text: directives


def code_lines(source: str) -> list[tuple[int, str]]:
    """Logical source lines as the preprocessor's first phases see them (continuation lines spliced, comments and
    literals blanked), each with its first physical line number."""
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    line = start = 1
    i, n = 0, len(source)
    state = "code"  # code | block | line_comment | string | char
    while i < n:
        c = source[i]
        if c == "\\" and i + 1 < n and source[i + 1] in "\r\n":  # splice: the line continues
            i += 2 if source[i + 1 : i + 3] != "\r\n" else 3
            line += 1
            continue
        if c == "\n":
            if state in ("line_comment", "string", "char"):
                state = "code"
            if state != "block":
                out.append((start, "".join(buf)))
                buf, start = [], line + 1
            line += 1
            i += 1
            continue
        if state == "code":
            two = source[i : i + 2]
            if two == "/*":
                state, i = "block", i + 2
                buf.append(" ")
                continue
            if two == "//":
                state, i = "line_comment", i + 2
                continue
            if c in "\"'":
                state = "string" if c == '"' else "char"
                buf.append(c)
            else:
                buf.append(c)
        elif state == "block":
            if source[i : i + 2] == "*/":
                state, i = "code", i + 2
                continue
        elif state in ("string", "char"):
            if c == "\\":
                i += 2
                continue
            if (c == '"' and state == "string") or (c == "'" and state == "char"):
                state = "code"
                buf.append(c)
        i += 1
    if buf:
        out.append((start, "".join(buf)))
    return out


def directive_findings(path: str, source: str) -> list[Finding]:
    """Directives a kernel may not use: anything that changes line numbers or file names (`#line`, `# 12 "f"`), which
    would forge the line markers the judge attributes code by, and unknown ones; `__has_include` probes the host."""
    found = []
    for line, text in code_lines(source):
        m = re.match(r"\s*(?:#|%:|\?\?=)\s*(\w*)", text)
        if m:
            name = m.group(1)
            if name not in ALLOWED_DIRECTIVES:
                what = "a line marker" if name[:1].isdigit() else f"#{name}"
                found.append(Finding("directive", f"{what} is not allowed in a kernel (it changes what the judge sees)", path, line))
        if re.search(r"\b__has_include(_next)?\b", text):
            found.append(Finding("directive", "__has_include is not allowed (it probes the host's files; the target is fixed: "
                                              "use #ifdef __aarch64__ / __SSE__)", path, line))  # fmt: skip
    return found


# ------------------------------------------------------------------ the preprocessed translation unit


@dataclass
class TranslationUnit:
    """A parsed `.ii`: the candidate's own lines (after macro expansion) and what its files included directly."""

    lines: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, text) from the candidate's files
    pragmas: list[tuple[str, int, str]] = field(default_factory=list)
    direct_includes: list[tuple[str, int, str]] = field(default_factory=list)  # (candidate file, line, included file)
    files: list[str] = field(default_factory=list)  # every file entered, in order


def _unescape(name: str) -> str:
    return re.sub(r"\\(.)", r"\1", name) if "\\" in name else name


def parse_ii(text: str, candidate_files: set[str], resolve) -> TranslationUnit:
    """`resolve(name)` maps a marker's file name to the path compared with `candidate_files`."""
    tu = TranslationUnit()
    stack: list[str] = [""]  # the file being read, and those that included it
    line, pos = 1, 0
    cache: dict[str, str] = {}

    def take(segment: str, file: str, first: int) -> None:
        if file not in candidate_files or not segment:
            return
        for offset, body in enumerate(segment.split("\n")):
            if not body.strip():
                continue
            if body.lstrip().startswith("#pragma"):
                tu.pragmas.append((file, first + offset, body.strip()[len("#pragma") :].strip()))
            else:
                tu.lines.append((file, first + offset, body))

    text = "\n" + text
    for m in _MARKER.finditer(text):
        take(text[pos : m.start()], stack[-1], line)
        pos = m.end() + 1
        raw = _unescape(m.group(2))
        if raw not in cache:
            cache[raw] = resolve(raw)
        name, flags, line = cache[raw], m.group(3).split(), int(m.group(1))
        if "1" in flags:  # entering an included file
            stack.append(name)
            tu.files.append(name)
        elif "2" in flags:  # back in the includer: the marker names the line after the #include
            child = stack.pop() if len(stack) > 1 else ""
            stack[-1] = name
            if name in candidate_files and child:
                tu.direct_includes.append((name, line - 1, child))
        else:
            stack[-1] = name
    take(text[pos:], stack[-1], line)
    return tu


# banned names that are also everyday words (a variable called `remove` or `time`): banned only when called, unqualified,
# as `::name(` or `std::name(` (std::remove is also the algorithm: left to the object check, which sees the symbol)
COMMON_WORDS = {"time", "clock", "open", "remove", "rename", "system", "kill", "connect", "async", "thread", "socket", "unlink",
                "creat", "mmap", "fork", "clone"}  # fmt: skip
_COMMON_CALL = re.compile(r"(\w+\s*::\s*|::\s*|\.\s*|->\s*)?\b(" + "|".join(sorted(COMMON_WORDS)) + r")\s*\(")


def called_common_words(code: str) -> set[str]:
    found = set(re.findall(r"\bstd\s*::\s*(thread|async)\b", code))  # the types and std::async, however used
    for m in _COMMON_CALL.finditer(code):
        prefix = (m.group(1) or "").replace(" ", "")
        if prefix in ("", "::") or (prefix == "std::" and m.group(2) != "remove"):
            found.add(m.group(2))
    return found


def banned_names(idents: set[str], code: str, names: set[str]) -> set[str]:
    """The banned names a line uses: distinctive ones as any identifier, everyday words only as calls."""
    hits = idents & names
    return (hits - COMMON_WORDS) | (called_common_words(code) & hits) if hits & COMMON_WORDS else hits


def _code(text: str) -> str:
    return _STRINGS.sub(" ", text)


def line_findings(tu: TranslationUnit, banned: dict[str, set[str]], native: set[str], rel: dict[str, str]) -> list[Finding]:
    """The candidate's lines after macro expansion: banned calls, MNN's native implementation, inline assembly,
    load-time or linkage attributes, stack and counter builtins. One finding per rule and name."""
    findings: list[Finding] = []
    reported: set[tuple[str, str]] = set()

    def add(rule: str, key: str, message: str, file: str, line: int) -> None:
        if (rule, key) not in reported:
            reported.add((rule, key))
            findings.append(Finding(rule, message, rel.get(file, file), line))

    for file, line, text in tu.lines:
        code = _code(text)
        idents = set(_IDENT.findall(code))
        if not idents:
            continue
        for why, names in banned.items():
            for name in sorted(banned_names(idents, code, names)):
                add("banned-call", name, f"{why} are not allowed in a kernel ({name}, after macro expansion)", file, line)
        for name in sorted(idents & native):
            add("native", name, f"uses MNN's native implementation of this op ({name}, after macro expansion)", file, line)
        if '"' in text:  # a banned function named in a string: a lookup by name (dlsym, or a walk of libc's tables)
            for name in sorted({m for m in _LITERAL.findall(text) if any(m in names for names in banned.values())} - COMMON_WORDS):
                add("banned-call", f'"{name}"', f'names {name} in a string (a lookup by name is a call all the same)', file, line)
        for name in sorted(idents & ASM_TOKENS):
            add("asm", name, "inline assembly is not allowed (use intrinsics)", file, line)
        for name in sorted(idents & INSPECTION):
            add("banned-call", name, f"{name} is not allowed in a kernel (stack inspection, non-local jumps or cycle counters)", file, line)
    # attributes over the joined lines: `__attribute__((` on one line and `constructor(200)))` on the next is one
    for file, line, body in _attribute_bodies(tu.lines):
        for name in sorted({n.strip("_") for n in _IDENT.findall(body)} & BANNED_ATTRIBUTES):
            add("attribute", name, f"the attribute `{name}` is not allowed in a kernel (load-time code, linkage or placement)", file, line)
    return findings


def _attribute_bodies(lines: list[tuple[str, int, str]]):
    """(file, line where it starts, body) of each __attribute__((...)) or [[...]] in the candidate's lines, read
    across line breaks (consecutive lines of one file joined)."""
    runs: list[tuple[str, list[tuple[int, str]]]] = []
    for file, line, text in lines:
        if not runs or runs[-1][0] != file:
            runs.append((file, []))
        runs[-1][1].append((line, _code(text)))
    for file, run in runs:
        joined, starts, at = "", [], 0
        for line, code in run:
            starts.append((at, line))
            joined += code + "\n"
            at = len(joined)
        if "__attribute" not in joined and "[[" not in joined:
            continue
        for m in _ATTRIBUTE.finditer(joined):
            line = next(ln for offset, ln in reversed(starts) if offset <= m.start())
            yield file, line, m.group(1) or m.group(2) or ""


def pragma_findings(tu: TranslationUnit, rel: dict[str, str]) -> list[Finding]:
    return [Finding("pragma", f"#pragma {text.split('(')[0].strip()} is not allowed in a kernel (optimisation hints only)",
                    rel.get(file, file), line)
            for file, line, text in tu.pragmas if not ALLOWED_PRAGMAS.match(text)]  # fmt: skip
