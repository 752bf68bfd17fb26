"""Elementwise Acosh over [1, 128, 768].

ONNX Acosh (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op

OP = "Acosh"
CATEGORY = "Trigonometry"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "transcendental function: MNN and PyTorch use different polynomial approximations (relative error ~1e-6, absolute error grows with |y|)"
NATIVE_INCORRECT = None
MNN_OPS = ('UnaryOp',)
MNN_SUBTYPE = 'ACOSH'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": 1.0, "high": 10.0},
)


ACOSH = onnx_op("Acosh", torch.acosh)


class Model(nn.Module):
    """Elementwise Acosh over [1, 128, 768]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return ACOSH(x)


def get_inputs():
    return [torch.rand(SHAPE) * 9.0 + 1.0]


def get_init_inputs():
    return []
