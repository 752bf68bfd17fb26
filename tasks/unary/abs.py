"""Elementwise Abs of a transformer activation tensor [1, 128, 768].

ONNX Abs (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "Abs"
CATEGORY = "Unary"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('UnaryOp',)
MNN_SUBTYPE = 'ABS'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -10.0, "high": 10.0, "edge": (0.0, -0.0)},
)


class Model(nn.Module):
    """Elementwise Abs of a transformer activation tensor [1, 128, 768]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.abs(x)


def get_inputs():
    return [torch.rand(SHAPE) * 20.0 + -10.0]


def get_init_inputs():
    return []
