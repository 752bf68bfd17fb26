"""Gemm 2.0 * A x B + 0.5 * C.

ONNX Gemm (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op

OP = "Gemm"
CATEGORY = "Matrix"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "dot products of hundreds of terms: accumulation order and blocking differ"
NATIVE_INCORRECT = None
MNN_OPS = ('MatMul', 'BinaryOp')
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE_A = (64, 256)
SHAPE_B = (256, 64)
SHAPE_C = (64, 64)
INPUTS = (
    {"name": "a", "shape": SHAPE_A, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
    {"name": "b", "shape": SHAPE_B, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
    {"name": "c", "shape": SHAPE_C, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


GEMM = onnx_op("Gemm", lambda a, b, c: torch.addmm(c, a, b, beta=0.5, alpha=2.0), attrs={"alpha_f": 2.0, "beta_f": 0.5, "transA_i": 0, "transB_i": 0})


class Model(nn.Module):
    """Gemm 2.0 * A x B + 0.5 * C."""

    def __init__(self):
        super().__init__()

    def forward(self, a, b, c):
        return GEMM(a, b, c)


def get_inputs():
    return [torch.rand(SHAPE_A) * 2.0 + -1.0, torch.rand(SHAPE_B) * 2.0 + -1.0, torch.rand(SHAPE_C) * 2.0 + -1.0]


def get_init_inputs():
    return []
