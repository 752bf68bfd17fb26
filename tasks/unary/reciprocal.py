"""Elementwise Reciprocal of a transformer activation tensor [1, 128, 768].

ONNX Reciprocal (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "Reciprocal"
CATEGORY = "Unary"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('UnaryOp',)
MNN_SUBTYPE = 'RECIPROCAL'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": 0.1, "high": 10.0, "edge": (1.0,)},
)


class Model(nn.Module):
    """Elementwise Reciprocal of a transformer activation tensor [1, 128, 768]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.reciprocal(x)


def get_inputs():
    return [torch.rand(SHAPE) * 9.9 + 0.1]


def get_init_inputs():
    return []
