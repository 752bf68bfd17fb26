"""Elementwise Less of two float tensors [1, 128, 768], negative values included.

ONNX Less (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "Less"
CATEGORY = "Logic"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = "MNN's x86 SSE float Less compares bit patterns as int32: wrong when both inputs are negative (source/math/Vec.hpp)"
NATIVE_INCORRECT_ON = ('host',)
MNN_OPS = ('BinaryOp',)
MNN_SUBTYPE = 'LESS'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "a", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
    {"name": "b", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """Elementwise Less of two float tensors [1, 128, 768], negative values included."""

    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return torch.lt(a, b)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0, torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
