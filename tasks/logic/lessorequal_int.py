"""Elementwise LessOrEqual of two int32 tensors [1, 128, 768].

ONNX LessOrEqual (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "LessOrEqual"
CATEGORY = "Logic"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('BinaryOp',)
MNN_SUBTYPE = 'LESS_EQUAL'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "a", "shape": SHAPE, "dtype": "int32", "dist": "randint", "low": -4, "high": 4},
    {"name": "b", "shape": SHAPE, "dtype": "int32", "dist": "randint", "low": -4, "high": 4},
)


class Model(nn.Module):
    """Elementwise LessOrEqual of two int32 tensors [1, 128, 768]."""

    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return torch.le(a, b)


def get_inputs():
    return [torch.randint(-4, 4, SHAPE, dtype=torch.int32), torch.randint(-4, 4, SHAPE, dtype=torch.int32)]


def get_init_inputs():
    return []
