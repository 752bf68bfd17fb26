"""Elementwise Greater of two feature maps [1, 32, 56, 56].

ONNX Greater (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "Greater"
CATEGORY = "Logic"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('BinaryOp',)
MNN_SUBTYPE = 'GREATER'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 32, 56, 56)
INPUTS = (
    {"name": "a", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
    {"name": "b", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """Elementwise Greater of two feature maps [1, 32, 56, 56]."""

    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return torch.gt(a, b)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0, torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
