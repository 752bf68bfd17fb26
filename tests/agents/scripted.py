"""A recorded MoKA session for the Abs task: a draft with a hallucinated API (compile error), the Debugger's fix,
the repaired kernel, an Accelerator plan, and its implementation."""

import json

from tests.adversarial.kernels import BAD, CORRECT, kernel

UNROLLED = kernel(
    "        int i = 0;\n"
    "        for (; i + 4 <= n; i += 4) {\n"
    "            dst[i] = std::fabs(src[i]); dst[i + 1] = std::fabs(src[i + 1]);\n"
    "            dst[i + 2] = std::fabs(src[i + 2]); dst[i + 3] = std::fabs(src[i + 3]);\n"
    "        }\n"
    "        for (; i < n; ++i) dst[i] = std::fabs(src[i]);\n"
)


def answer(text: str) -> str:
    return f"Here is the kernel.\n\n```cpp\n// source/backend/cpu/MKBCandidate.cpp\n{text}```\n"


RESPONSES = [
    {"role": "coder", "text": answer(BAD["api_hallucination"][0]), "output_tokens": 400},
    {"role": "debugger", "delay": 0.05, "text": '```json\n{"local_error_suggestion": "none", "crossfile_error_suggestion": "Tensor has no hostFloatData(); use host<float>()"}\n```'},
    {"role": "coder", "text": answer(CORRECT), "output_tokens": 380},
    {"role": "accelerator", "text": '```json\n{"bottleneck": "one element per loop iteration", "method": "loop unrolling", "plan": "unroll the loop by 4 with a scalar tail"}\n```'},
    {"role": "coder", "text": answer(UNROLLED), "output_tokens": 420},
]


def write_script(path) -> str:
    path.write_text("\n".join(json.dumps(r) for r in RESPONSES) + "\n")
    return f"scripted:{path}"
