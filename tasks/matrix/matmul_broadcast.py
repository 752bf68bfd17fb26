"""Broadcast MatMul [4, 128, 256] x [256, 128] (a shared weight as input).

ONNX MatMul (opset 20); MNN mechanism: geometry.
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
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE_A = (4, 128, 256)
SHAPE_B = (256, 128)
INPUTS = (
    {"name": "a", "shape": SHAPE_A, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
    {"name": "b", "shape": SHAPE_B, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """Broadcast MatMul [4, 128, 256] x [256, 128] (a shared weight as input)."""

    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return torch.matmul(a, b)


def get_inputs():
    return [torch.rand(SHAPE_A) * 2.0 + -1.0, torch.rand(SHAPE_B) * 2.0 + -1.0]


def get_init_inputs():
    return []
