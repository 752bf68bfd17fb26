"""The static check rejects routes to native code, timers, threads, foreign includes, I/O and asm."""

import pytest

from mkb_tui.engine.slots import CANDIDATE_CPP, CANDIDATE_HPP, Slot
from mkb_tui.engine.static_check import check
from mkb_tui.vocabulary.verdicts import KernelCandidate

SLOT = Slot("abs", "cpu", "UnaryOp", "ABS", (CANDIDATE_CPP,), (CANDIDATE_HPP,),
            ("source/backend/cpu/CPUUnary.cpp", "source/backend/cpu/CPUUnary.hpp"), "CPUUnaryCreator")  # fmt: skip
CLEAN = """#include "backend/cpu/CPUBackend.hpp"
#include <cmath>
namespace MNN {
// a comment that says fork() and std::thread and CPUUnary does not count
static const char* kName = "clock_gettime";
} // namespace MNN
"""


def problems(src: str, path: str = CANDIDATE_CPP) -> list[str]:
    return check(KernelCandidate({path: src}), SLOT)


def test_clean_kernel_passes():
    assert problems(CLEAN) == []


@pytest.mark.parametrize(
    "snippet, expect",
    [
        ("auto t = std::chrono::steady_clock::now();", "timers"),
        ("struct timespec ts; clock_gettime(0, &ts);", "timers"),
        ("std::thread worker([]{});", "threads or processes"),
        ("int pid = fork();", "threads or processes"),
        ("system(\"ls\");", "threads or processes"),
        ("FILE* f = fopen(\"/tmp/ref.bin\", \"rb\");", "file or network I/O"),
        ("auto p = MNNSelectUnaryFunctionForFloat(0, 0);", "native implementation"),
        ("auto e = new CPUUnary(nullptr, nullptr, nullptr, nullptr);", "native implementation"),
        ("asm volatile(\"nop\");", "inline assembly"),
    ],
)
def test_rejections(snippet, expect):
    src = CLEAN.replace("} // namespace MNN", f"void f() {{ {snippet} }}\n}} // namespace MNN")
    found = problems(src)
    assert any(expect in p for p in found), found


def test_foreign_and_native_includes():
    assert any("outside MNN" in p for p in problems('#include "/etc/passwd"\n' + CLEAN))
    assert any("outside MNN" in p for p in problems("#include <curl/curl.h>\n" + CLEAN))
    assert any("native implementation" in p for p in problems('#include "backend/cpu/CPUUnary.hpp"\n' + CLEAN))


def test_files_outside_the_slot():
    assert any("not a file of this slot" in p for p in problems(CLEAN, "source/core/Session.cpp"))


def test_everyday_words_are_banned_only_as_calls():
    # MNN's own CPUSetDiff1D names a tensor `remove`: a variable is not a call to remove(path)
    honest = "void f(int* remove, int n) { int time = n; auto clock = remove[0]; std::remove(remove, remove + n, 0); (void)time; (void)clock; }"
    assert problems(CLEAN.replace("} // namespace MNN", honest + "\n} // namespace MNN")) == []
    for call, why in (("time(nullptr);", "timers"), ("::remove(\"/tmp/x\");", "file or network I/O"), ("std::thread t([]{});", "threads")):
        found = problems(CLEAN.replace("} // namespace MNN", f"void g() {{ {call} }}\n}} // namespace MNN"))
        assert any(why in p for p in found), (call, found)


def test_the_function_table_members_the_native_files_use_are_native(tmp_path):
    """`functions()->member` leaves no symbol: the members of MNN's CoreFunctions table that the native
    implementation's files use are refused by name (layout plumbing such as packing stays allowed)."""
    from mkb_tui.engine.static_check import CORE_FUNCTIONS_HEADER, native_table_members

    header = tmp_path / CORE_FUNCTIONS_HEADER
    header.parent.mkdir(parents=True)
    header.write_text("struct CoreFunctions {\n    void (*MNNReluWithSlopeChannel)(float*, const float*, const float*, size_t, size_t);\n"
                      "    void (*MNNPackCUnit)(float*, const float*, size_t, size_t, const int*);\n"
                      "    void (*MNNPoolingMax)(const void*, void*);\n};\n")  # fmt: skip
    native = tmp_path / "source/backend/cpu/CPURelu.cpp"
    native.parent.mkdir(parents=True, exist_ok=True)
    native.write_text("core->MNNReluWithSlopeChannel(dst, src, slope, n, 1);\ncore->MNNPackCUnit(a, b, 1, 1, nullptr);\n")
    slot = Slot("leakyrelu", "cpu", "ReLU", None, (CANDIDATE_CPP,), (CANDIDATE_HPP,),
                ("source/backend/cpu/CPURelu.cpp", "source/backend/cpu/CPURelu.hpp"), "CPUReluCreator")  # fmt: skip
    assert native_table_members(slot, tmp_path) == {"MNNReluWithSlopeChannel"}
