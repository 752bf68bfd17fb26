"""Elementwise Sinh over [1, 128, 768].

ONNX Sinh (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op

OP = "Sinh"
CATEGORY = "Trigonometry"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "transcendental function: MNN and PyTorch use different polynomial approximations (relative error ~1e-6, absolute error grows with |y|)"
NATIVE_INCORRECT = None
MNN_OPS = ('UnaryOp',)
MNN_SUBTYPE = 'SINH'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -5.0, "high": 5.0},
)


SINH = onnx_op("Sinh", torch.sinh)


class Model(nn.Module):
    """Elementwise Sinh over [1, 128, 768]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return SINH(x)


def get_inputs():
    return [torch.rand(SHAPE) * 10.0 + -5.0]


def get_init_inputs():
    return []
