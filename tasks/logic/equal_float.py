"""Elementwise Equal of two float tensors [1, 128, 768] containing signed zeros.

ONNX Equal (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "Equal"
CATEGORY = "Logic"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = "MNN's x86 SSE float Equal compares bit patterns, so -0.0 != +0.0 (source/math/Vec.hpp)"
NATIVE_INCORRECT_ON = ('host',)
MNN_OPS = ('BinaryOp',)
MNN_SUBTYPE = 'EQUAL'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "a", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -2.0, "high": 2.0, "edge": (0.0, -0.0, 1.0)},
    {"name": "b", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -2.0, "high": 2.0, "edge": (-0.0, 0.0, 1.0)},
)


class Model(nn.Module):
    """Elementwise Equal of two float tensors [1, 128, 768] containing signed zeros."""

    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return torch.eq(a, b)


def get_inputs():
    return [torch.rand(SHAPE) * 4.0 + -2.0, torch.rand(SHAPE) * 4.0 + -2.0]


def get_init_inputs():
    return []
