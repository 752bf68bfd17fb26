"""Elementwise Round of a transformer activation tensor [1, 128, 768].

ONNX Round (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "Round"
CATEGORY = "Unary"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = "MNN rounds halves away from zero (0.5 -> 1, 2.5 -> 3); ONNX and PyTorch round half to even"
MNN_OPS = ('UnaryOp',)
MNN_SUBTYPE = 'ROUND'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -10.0, "high": 10.0, "edge": (0.5, 1.5, 2.5, -0.5, -2.5)},
)


class Model(nn.Module):
    """Elementwise Round of a transformer activation tensor [1, 128, 768]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.round(x)


def get_inputs():
    return [torch.rand(SHAPE) * 20.0 + -10.0]


def get_init_inputs():
    return []
