"""Determinants of 512 3x3 matrices (camera geometry).

ONNX Det (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "Det"
CATEGORY = "Matrix"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "LU factorisation with pivoting: rounding differs, small determinants lose relative precision"
NATIVE_INCORRECT = None
MNN_OPS = ('Det',)
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (512, 3, 3)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """Determinants of 512 3x3 matrices (camera geometry)."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.linalg.det(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
