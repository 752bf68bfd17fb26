"""Elementwise Atan over [1, 128, 768].

ONNX Atan (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "Atan"
CATEGORY = "Trigonometry"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "transcendental function: MNN and PyTorch use different polynomial approximations (relative error ~1e-6, absolute error grows with |y|)"
NATIVE_INCORRECT = None
MNN_OPS = ('UnaryOp',)
MNN_SUBTYPE = 'ATAN'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -10.0, "high": 10.0},
)


class Model(nn.Module):
    """Elementwise Atan over [1, 128, 768]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.atan(x)


def get_inputs():
    return [torch.rand(SHAPE) * 20.0 + -10.0]


def get_init_inputs():
    return []
