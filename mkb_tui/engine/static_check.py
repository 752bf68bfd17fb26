"""Reject a candidate before building: routes back to native code, timers, threads/processes, foreign includes,
file I/O, and inline assembly. Identifiers come from tree-sitter, so comments and strings never trigger it."""

from __future__ import annotations

import re
from functools import lru_cache

from mkb_tui.engine.slots import NATIVE_COMBINER_PREFIX, Slot
from mkb_tui.vocabulary.verdicts import KernelCandidate

BANNED_CALLS = {
    "timers": {"clock_gettime", "gettimeofday", "clock", "time", "rdtsc", "__rdtsc", "QueryPerformanceCounter", "steady_clock",
               "high_resolution_clock", "system_clock", "chrono"},
    "threads or processes": {"thread", "pthread_create", "fork", "vfork", "clone", "execv", "execve", "execvp", "execl",
                             "execlp", "system", "popen", "posix_spawn", "async", "kill"},
    "file or network I/O": {"fopen", "open", "openat", "creat", "ofstream", "ifstream", "fstream", "freopen", "socket",
                            "connect", "mmap", "unlink", "remove", "rename", "dlopen", "dlsym", "getenv", "setenv"},
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


def _identifiers(source: str) -> set[str]:
    tree = _parser().parse(source.encode())
    names: set[str] = set()
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type in ("identifier", "field_identifier", "type_identifier", "namespace_identifier"):
            names.add(node.text.decode(errors="replace"))
        if node.type in ("comment", "string_literal", "raw_string_literal", "char_literal"):
            continue
        stack.extend(node.children)
    return names


def _includes(source: str) -> list[str]:
    return re.findall(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', source, re.M)


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


def check(candidate: KernelCandidate, slot: Slot) -> list[str]:
    problems: list[str] = []
    banned_native = native_names(slot) if slot.mechanism in ("cpu", "combiner") else set()
    for path, source in candidate.files.items():
        if path not in slot.all_files:
            problems.append(f"{path}: not a file of this slot ({', '.join(slot.all_files)})")
            continue
        idents = _identifiers(source)
        for why, names in BANNED_CALLS.items():
            hit = sorted(idents & names)
            if hit:
                problems.append(f"{path}: {why} are not allowed in a kernel ({', '.join(hit)})")
        hit = sorted(idents & banned_native)
        if hit:
            problems.append(f"{path}: calls into MNN's native implementation of this op ({', '.join(hit)})")
        if slot.mechanism == "combiner" and NATIVE_COMBINER_PREFIX in source:
            problems.append(f"{path}: reaches MNN's own transform of this op ({NATIVE_COMBINER_PREFIX}{slot.op_type})")
        for inc in _includes(source):
            if inc in STD_HEADERS or inc.startswith(MNN_INCLUDE_PREFIXES):
                continue
            if slot.mechanism == "combiner" and inc in CONVERTER_INCLUDES:
                continue
            problems.append(f"{path}: #include <{inc}> is outside MNN and the standard library")
        native_headers = {p.rsplit("/", 1)[-1] for p in slot.native_files if p.endswith(".hpp")} if slot.mechanism == "cpu" else set()
        for inc in _includes(source):
            if inc.rsplit("/", 1)[-1] in native_headers:
                problems.append(f"{path}: includes MNN's native implementation of this op ({inc})")
        if re.search(r"\b(asm|__asm__|__asm)\b", source):
            problems.append(f"{path}: inline assembly is not allowed (use intrinsics)")
    return problems
