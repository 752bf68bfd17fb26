"""MNN's own implementation of the slot's op made unusable in the candidate's process (engine/native_trap.py): which
functions are trapped, read from a real build of objects and a shared library."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from mkb_tui.engine.native_trap import _merged, model_needs_native, native_functions, trap_env

pytestmark = pytest.mark.skipif(shutil.which("g++") is None or shutil.which("nm") is None, reason="needs g++ and nm")

NATIVE = """
#include <vector>
namespace op {
__attribute__((noinline)) static int helper(int x) { return x * 3 + 1; }
template <typename T> __attribute__((noinline)) T twice(T x) { return x + x; }
int kernel(int x) { return helper(x) + twice<int>(x); }          // the op's own code: trapped
int shared_api(int x) { return x - 1; }                           // called by another object: MNN's shared code
void registration() {}                                            // called by the op list: kept
std::vector<int> grow(std::vector<int> v) { v.push_back(1); return v; }  // a std instantiation other objects share
}
"""
OTHER = """
#include <vector>
namespace op { int shared_api(int); void registration(); }
static int helper(int x) { return x; }                            // a static helper of the same name elsewhere
int other(int x) { op::registration(); return op::shared_api(x) + helper(x); }
std::vector<int> more(std::vector<int> v) { v.push_back(2); return v; }
extern "C" int MNNNorm(int x) { return x / 2; }                  // a function-table member's plain implementation
extern "C" int _AVX_MNNNorm(int x) { return x / 4; }             // and its ISA variant
int compute_helper(int x) { return x * 7; }                       // a compute function the native code calls
"""


def _build(tmp_path):
    build = tmp_path / "build"
    (build / "CMakeFiles").mkdir(parents=True)
    for name, text in (("Native.cpp", NATIVE), ("Other.cpp", OTHER)):
        (tmp_path / name).write_text(text)
        subprocess.run(["g++", "-O1", "-fPIC", "-c", str(tmp_path / name), "-o", str(build / "CMakeFiles" / f"{name}.o")], check=True)
    lib = build / "libMNN.so"
    subprocess.run(["g++", "-shared", "-o", str(lib), *map(str, sorted((build / "CMakeFiles").glob("*.o")))], check=True)
    return build, lib


def _symbols(lib) -> dict[str, tuple[int, int]]:
    out = subprocess.run(["nm", "-P", "-S", "--defined-only", str(lib)], capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            table.setdefault(subprocess.run(["c++filt", parts[0]], capture_output=True, text=True).stdout.strip(), (int(parts[2], 16), int(parts[3], 16)))
    return table


def _covered(ranges, spot) -> bool:
    start, size = spot
    return any(a <= start and start + size <= a + n for a, n in ranges)


def test_the_ops_own_functions_are_trapped_and_shared_code_is_not(tmp_path):
    build, lib = _build(tmp_path)
    ranges = native_functions(build, lib, frozenset({"Native"}))
    symbols = _symbols(lib)
    assert _covered(ranges, symbols["op::kernel(int)"])
    assert _covered(ranges, symbols["int op::twice<int>(int)"])  # its own template instantiation
    for kept in ("op::shared_api(int)", "op::registration()", "other(int)"):
        assert not _covered(ranges, symbols[kept]), kept
    grow = next(v for k, v in symbols.items() if "_M_realloc_insert" in k)
    assert not _covered(ranges, grow)  # std code other objects define too
    assert native_functions(build, lib, frozenset()) == []


def test_the_ops_compute_helpers_and_table_implementations_are_trapped_when_asked(tmp_path):
    """The compute the native kernel does through other objects (a helper it calls, a function-table member it uses,
    every ISA variant of it) is the op's too: trapped when the caller names it (it leaves out what other nodes need)."""
    build, lib = _build(tmp_path)
    symbols = _symbols(lib)
    plain = native_functions(build, lib, frozenset({"Native"}))
    asked = native_functions(build, lib, frozenset({"Native"}), helpers=frozenset({"_Z14compute_helperi"}), members=frozenset({"MNNNorm"}))
    for name in ("MNNNorm", "_AVX_MNNNorm", "compute_helper(int)"):
        assert not _covered(plain, symbols[name]) and _covered(asked, symbols[name]), name
    assert not _covered(asked, symbols["other(int)"])


def test_the_trap_list_is_merged_and_spelled_for_the_runner():
    assert _merged([(0x10, 0x10), (0x20, 0x8), (0x40, 0x4)]) == [(0x10, 0x18), (0x40, 0x4)]
    assert trap_env([(0x10, 0x18), (0x40, 0x4)]) == "10+18,40+4"


def test_a_model_that_needs_the_native_code_beside_the_slot_is_not_trapped():
    relu = "source/backend/cpu/CPURelu.cpp"
    registrations = {"ReLU": (relu, "CPUReluCreator"), "PReLU": (relu, "CPUReluCreator"), "Cast": ("source/backend/cpu/CPUCast.cpp", "C")}
    assert model_needs_native("ReLU", None, relu, [{"type": "ReLU"}, {"type": "PReLU"}], registrations)
    assert not model_needs_native("ReLU", None, relu, [{"type": "ReLU"}, {"type": "Cast"}], registrations)
    log, exp = {"type": "UnaryOp", "main": {"opType": "LOG"}}, {"type": "UnaryOp", "main": {"opType": "EXP"}}
    assert model_needs_native("UnaryOp", "LOG", "u", [log, exp], {})
    assert not model_needs_native("UnaryOp", "LOG", "u", [log, log], {})


def test_functions_a_table_holds_are_trapped_by_their_offset(tmp_path):
    """A function-table member filled with a template instantiation no name matches (MNNPoolingMax holding
    poolingMax<float, Vec8, ...>): the probe's offset into it, even mid-function, finds the whole function."""
    build, lib = _build(tmp_path)
    symbols = _symbols(lib)
    start, size = symbols["int op::twice<int>(int)"]
    other = symbols["other(int)"]
    held = native_functions(build, lib, frozenset(), held=frozenset({start + size // 2, other[0]}))
    assert _covered(held, (start, size)) and _covered(held, other)
    assert not _covered(held, symbols["op::kernel(int)"])
    assert native_functions(build, lib, frozenset(), held=frozenset({0})) == []  # an offset no function holds


PREPROCESSED = """
namespace MNN {
struct CoreFunctions {
    typedef void (*WinoTransPackFunc)(float* srcBlock, float* dstStart, size_t dstStep);
    WinoTransPackFunc (*chooseWinoSourceTransformPack)(int k, int w, int ePack, int lPack, int packCUnit);
    void (*MNNPoolingMax)(const void* channelInput, int inputWidth, int inputHeight, void* channelOutput,
                          int outputWidth, int padType, int countType);
    int pack;
    void(*MNNSoftmax)(float* dest, const float* source, size_t size);
};
};
"""


def test_the_probe_reads_the_members_the_build_keeps_and_their_offsets(tmp_path):
    from mkb_tui.engine.core_table import TABLE_FILE, current, members_in, parse_report, probe_source

    assert members_in(PREPROCESSED) == ["MNNPoolingMax", "MNNSoftmax", "chooseWinoSourceTransformPack"]  # no typedef
    source = probe_source(["MNNPoolingMax", "MNNSoftmax"])
    assert 'report("MNNSoftmax", reinterpret_cast<const void*>(core->MNNSoftmax));' in source and "AVX2Functions" in source
    assert parse_report("MNNSoftmax 2e2140\nMNNSoftmax 2f9280\nnoise line\nMNNPoolingMax 2651c0\n") == {
        "MNNSoftmax": [0x2E2140, 0x2F9280], "MNNPoolingMax": [0x2651C0]}  # fmt: skip
    lib = tmp_path / "libMNN.so"
    lib.write_bytes(b"\x7fELF")
    assert current(tmp_path, lib) is None
    (tmp_path / TABLE_FILE).write_text('{"MNNSoftmax": [16]}')
    assert current(tmp_path, lib) == {"MNNSoftmax": [16]}
    (tmp_path / TABLE_FILE).write_text('{"MNNSoftmax": "x"}')
    assert current(tmp_path, lib) is None  # a damaged table is read again, not trusted
    import os

    (tmp_path / TABLE_FILE).write_text('{"MNNSoftmax": [16]}')
    os.utime(tmp_path / TABLE_FILE, ns=(1, 1))
    assert current(tmp_path, lib) is None  # older than the library: from another build
