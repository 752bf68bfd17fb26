"""Candidate kernels for the Abs task (UnaryOp ABS): one correct, the rest deliberately bad."""

HEAD = """#include "backend/cpu/CPUBackend.hpp"
#include "core/Execution.hpp"
#include "core/Macro.h"
#include <cmath>
#include <cstring>
#include <vector>

namespace MNN {
class MkbAbs : public Execution {
public:
    explicit MkbAbs(Backend* backend) : Execution(backend) {}
    ErrorCode onExecute(const std::vector<Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
        const float* src = inputs[0]->host<float>();
        float* dst = outputs[0]->host<float>();
        const int n = inputs[0]->elementSize();
"""
TAIL = """        return NO_ERROR;
    }
};

class MkbAbsCreator : public CPUBackend::Creator {
public:
    Execution* onCreate(const std::vector<Tensor*>& inputs, const std::vector<Tensor*>& outputs, const MNN::Op* op,
                        Backend* backend) const override {
        return CREATE_EXPR;
    }
};

REGISTER_CPU_OP_CREATOR(MkbAbsCreator, OpType_UnaryOp);
} // namespace MNN
"""


def kernel(body: str, create: str = "new MkbAbs(backend)", head: str = HEAD) -> str:
    return head + body + TAIL.replace("CREATE_EXPR", create)


CORRECT = kernel("        for (int i = 0; i < n; ++i) dst[i] = std::fabs(src[i]);\n")

BAD = {
    # name: (kernel text, expected verdict, words the message or a diagnostic must contain)
    "syntax_error": (kernel("        for (int i = 0; i < n; ++i) dst[i] = std::fabs(src[i])\n"), "compile_error", "expected"),
    "api_hallucination": (kernel("        const float* s2 = inputs[0]->hostFloatData();\n        for (int i = 0; i < n; ++i) dst[i] = std::fabs(s2[i]);\n"),
                          "compile_error", "hostFloatData"),
    "infinite_loop": (kernel("        for (volatile int spin = 0; spin >= 0; spin = spin * 0) {}\n"), "timeout", "no result"),
    "segfault": (kernel("        *(volatile int*)nullptr = n;\n"), "runtime_error", "signal"),
    "huge_allocation": (kernel("        std::vector<float> big((size_t)1 << 38, 1.0f);\n        for (int i = 0; i < n; ++i) dst[i] = big[i] * std::fabs(src[i]);\n"),
                        "runtime_error", "runner failed"),
    "fork": (kernel("        if (fork() == 0) { for (;;) {} }\n        for (int i = 0; i < n; ++i) dst[i] = std::fabs(src[i]);\n"), "rejected", "threads or processes"),
    "write_outside_workspace": (kernel('        FILE* f = fopen("/tmp/mkb_escape.txt", "w");\n        for (int i = 0; i < n; ++i) dst[i] = std::fabs(src[i]);\n'),
                                "rejected", "file or network I/O"),
    "caches_outputs_across_runs": (kernel(
        "        static std::vector<float> cache;\n"
        "        if (cache.empty()) { cache.resize(n); for (int i = 0; i < n; ++i) cache[i] = std::fabs(src[i]); }\n"
        "        ::memcpy(dst, cache.data(), n * sizeof(float));\n"), "wrong_output", "out of tolerance"),
    "garbage_fast": (kernel("        dst[0] = 0.0f;\n"), "wrong_output", "out of tolerance"),
    "fp16_downgrade": (kernel(
        "        for (int i = 0; i < n; ++i) {\n"
        "            float v = std::fabs(src[i]); uint32_t bits; ::memcpy(&bits, &v, 4); bits &= 0xFFFFE000u; ::memcpy(&v, &bits, 4); dst[i] = v;\n"
        "        }\n"), "wrong_output", "out of tolerance"),
    "calls_native_op": (kernel(
        "        auto proc = static_cast<CPUBackend*>(backend())->functions()->MNNSelectUnaryFunctionForFloat(UnaryOpOperation_ABS, 0);\n"
        "        proc(dst, src, n);\n"), "rejected", "native implementation"),
    "creator_returns_nullptr": (kernel("        for (int i = 0; i < n; ++i) dst[i] = std::fabs(src[i]);\n", create="nullptr"),
                                "runtime_error", "never ran"),
    "no_registration": (kernel("").replace("REGISTER_CPU_OP_CREATOR(MkbAbsCreator, OpType_UnaryOp);", ""), "compile_error", "REGISTER_CPU_OP_CREATOR"),
}
