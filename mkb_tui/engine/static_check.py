"""Reject a candidate before building: routes back to native code, timers, threads/processes, foreign includes,
file I/O, and inline assembly. Identifiers come from tree-sitter, so comments and strings never trigger it."""

from __future__ import annotations

import re
from functools import lru_cache

from mkb_tui.engine.preprocessed_check import code_lines, banned_names, directive_findings
from mkb_tui.engine.slots import NATIVE_COMBINER_PREFIX, Slot
from mkb_tui.engine.types import Finding
from mkb_tui.vocabulary.verdicts import KernelCandidate

BANNED_CALLS = {
    "timers": {"clock_gettime", "gettimeofday", "clock", "time", "rdtsc", "__rdtsc", "QueryPerformanceCounter", "steady_clock",
               "high_resolution_clock", "system_clock", "chrono"},
    "threads or processes": {"thread", "pthread_create", "fork", "vfork", "clone", "execv", "execve", "execvp", "execl",
                             "execlp", "system", "popen", "posix_spawn", "async", "kill", "thread_local", "__thread"},
    "file or network I/O": {"fopen", "open", "openat", "creat", "ofstream", "ifstream", "fstream", "freopen", "socket",
                            "connect", "mmap", "unlink", "remove", "rename", "dlopen", "dlsym", "getenv", "setenv"},
    "system calls, affinity or memory protection": {"syscall", "sched_setaffinity", "pthread_setaffinity_np", "mprotect",
                                                    "setsid", "prctl", "ptrace"},
}  # fmt: skip
STD_HEADERS = {
    "algorithm", "array", "atomic", "cassert", "cfloat", "climits", "cmath", "cstddef", "cstdint", "cstdio", "cstdlib",
    "cstring", "functional", "limits", "map", "memory", "numeric", "set", "string", "tuple", "type_traits", "unordered_map",
    "unordered_set", "utility", "vector", "math.h", "stdint.h", "string.h", "stdlib.h", "float.h", "limits.h", "stddef.h",
    "assert.h", "immintrin.h", "xmmintrin.h", "emmintrin.h", "pmmintrin.h", "smmintrin.h", "tmmintrin.h", "nmmintrin.h",
    "arm_neon.h", "initializer_list", "iterator", "stdio.h",
}  # fmt: skip
MNN_INCLUDE_PREFIXES = ("MNN/", "core/", "backend/cpu/", "geometry/", "math/", "compute/", "MNN_generated.h", "Tensor_generated.h",
                        "CPU", "Geometry", "MKBCandidate.hpp", "shape/", "utils/", "half.hpp")  # fmt: skip
# a combiner is converter code: its own headers (the directory of MNN's transforms) are in reach too
CONVERTER_INCLUDES = {"OnnxExtraManager.hpp", "logkit.h", "OnnxRNNHelper.hpp", "../TemplateMerge.hpp", "MNN_generated.h",
                      "config.hpp"}  # fmt: skip


@lru_cache(maxsize=1)
def _parser():
    import tree_sitter_cpp
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_cpp.language()))


def _identifiers(source: str) -> dict[str, int]:
    """Identifier -> the first line it is on (comments and literals never count)."""
    tree = _parser().parse(source.encode())
    names: dict[str, int] = {}
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type in ("identifier", "field_identifier", "type_identifier", "namespace_identifier"):
            name = node.text.decode(errors="replace")
            line = node.start_point[0] + 1
            if name not in names or line < names[name]:
                names[name] = line
        if node.type in ("comment", "string_literal", "raw_string_literal", "char_literal"):
            continue
        stack.extend(node.children)
    return names


# MNN's compute kernels that are layout or table plumbing, not an op's computation: a kernel may use them
GENERIC_HELPERS = re.compile(r"(MNNGetCoreFunctions|MNNTranspose\d+Bit|MNN(Un)?[Pp]ack(?!ed)\w*|MNNGet\w*PackMode|MNNCopyC\d\w*|"
                             r"MNNMemory\w*|MNNSelectBlitFunction|MNNFp32ToLowp|MNNLowpToFp32)")  # fmt: skip
CORE_FUNCTIONS_HEADER = "source/backend/cpu/compute/CommonOptFunction.h"
_CORE_STRUCT = re.compile(r"struct\s+CoreFunctions\s*\{(.*?)\n\};", re.S)
_MEMBER = re.compile(r"\(\s*\*\s*(\w+)\s*\)\s*\(")


@lru_cache(maxsize=8)
def _table_members(header: str) -> frozenset[str]:
    match = _CORE_STRUCT.search(header)
    return frozenset(_MEMBER.findall(match.group(1))) if match else frozenset()


def native_table_members(slot: Slot, tree) -> set[str]:
    """The members of MNN's CPU function table (CoreFunctions: MNNReluWithSlopeChannel, MNNPoolingMax, ...) that the
    native implementation's own files use: reached as `functions()->member`, they leave no symbol in an object, so the
    preprocessed text is judged by name. Read from the tree (the workspace's copy of MNN's files)."""
    if slot.mechanism != "cpu":
        return set()
    try:
        members = _table_members((tree / CORE_FUNCTIONS_HEADER).read_text(errors="replace"))
    except OSError:
        return set()
    used: set[str] = set()
    for path in slot.native_files:
        try:
            words = set(re.findall(r"\b\w+\b", (tree / path).read_text(errors="replace")))
        except OSError:
            continue
        used |= {m for m in members & words if not GENERIC_HELPERS.search(m)}
    return used


def native_names(slot: Slot) -> set[str]:
    """Names of MNN's own implementation of this op that a candidate may not use."""
    names = set()
    if slot.mechanism == "combiner":
        return set(slot.native_classes)
    for path in slot.native_files:
        stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        names.add(stem)  # e.g. CPUUnary: the native Execution class
    if slot.native_creator:
        names.add(slot.native_creator)
    if slot.op_type == "UnaryOp":
        names |= {"MNNSelectUnaryFunctionForFloat", "MNNSelectUnaryFunctionForInt8"}
    if slot.op_type == "BinaryOp":
        names |= {"MNNSelectBinaryFunctionForFloat", "selectForFloat", "selectForInt", "CPUBinaryInt8"}
    if slot.op_type == "Softmax":
        names |= {"MNNSoftmax"}
    if slot.op_type == "LayerNorm":
        names |= {"MNNNorm"}
    return names


def _include_lines(source: str) -> list[tuple[str, int]]:
    return [(m.group(1), source.count("\n", 0, m.start()) + 1)
            for m in re.finditer(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', source, re.M)]  # fmt: skip


def findings(candidate: KernelCandidate, slot: Slot) -> list[Finding]:
    """The raw text's check, before building: quick answers with the model's own line numbers. The build's
    preprocessed translation unit and object are judged again afterwards (judge.py), so nothing hidden from this
    text check (macros, computed includes, token pasting) gets through."""
    found: list[Finding] = []
    banned_native = native_names(slot) if slot.mechanism in ("cpu", "combiner") else set()
    native_headers = {p.rsplit("/", 1)[-1] for p in slot.native_files if p.endswith(".hpp")} if slot.mechanism == "cpu" else set()
    for path, source in candidate.files.items():
        if path not in slot.all_files:
            found.append(Finding("slot", f"not a file of this slot ({', '.join(slot.all_files)})", path))
            continue
        found += directive_findings(path, source)
        idents = _identifiers(source)
        code = "\n".join(text for _, text in code_lines(source))
        for why, names in BANNED_CALLS.items():
            for name in sorted(banned_names(set(idents), code, names)):
                found.append(Finding("banned-call", f"{why} are not allowed in a kernel ({name})", path, idents[name]))
        for name in sorted(idents.keys() & banned_native):
            found.append(Finding("native", f"calls into MNN's native implementation of this op ({name})", path, idents[name]))
        if slot.mechanism == "combiner" and NATIVE_COMBINER_PREFIX in source:
            line = source.count("\n", 0, source.index(NATIVE_COMBINER_PREFIX)) + 1
            found.append(Finding("native", f"reaches MNN's own transform of this op ({NATIVE_COMBINER_PREFIX}{slot.op_type})", path, line))
        for inc, line in _include_lines(source):
            if not (inc in STD_HEADERS or inc.startswith(MNN_INCLUDE_PREFIXES) or (slot.mechanism == "combiner" and inc in CONVERTER_INCLUDES)):
                found.append(Finding("include", f"#include <{inc}> is outside MNN and the standard library", path, line))
            if inc.rsplit("/", 1)[-1] in native_headers:
                found.append(Finding("native", f"includes MNN's native implementation of this op ({inc})", path, line))
        m = re.search(r"\b(asm|__asm__|__asm)\b", source)
        if m:
            found.append(Finding("asm", "inline assembly is not allowed (use intrinsics)", path, source.count("\n", 0, m.start()) + 1))
    return found


def check(candidate: KernelCandidate, slot: Slot) -> list[str]:
    """The raw text's findings as messages."""
    return [f"{f.file}: {f.message}" for f in findings(candidate, slot)]
