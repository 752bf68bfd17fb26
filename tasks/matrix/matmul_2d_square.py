"""Square MatMul [384, 384] x [384, 384].

ONNX MatMul (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "MatMul"
CATEGORY = "Matrix"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "dot products of hundreds of terms: accumulation order and blocking differ"
NATIVE_INCORRECT = None
MNN_OPS = ('MatMul',)
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE_A = (384, 384)
SHAPE_B = (384, 384)
INPUTS = (
    {"name": "a", "shape": SHAPE_A, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
    {"name": "b", "shape": SHAPE_B, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """Square MatMul [384, 384] x [384, 384]."""

    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return torch.matmul(a, b)


def get_inputs():
    return [torch.rand(SHAPE_A) * 2.0 + -1.0, torch.rand(SHAPE_B) * 2.0 + -1.0]


def get_init_inputs():
    return []
