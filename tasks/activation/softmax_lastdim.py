"""Softmax over the last axis of attention scores [1, 12, 128, 128].

ONNX Softmax (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "Softmax"
CATEGORY = "Activation"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "transcendental function: MNN and PyTorch use different polynomial approximations (relative error ~1e-6, absolute error grows with |y|)"
NATIVE_INCORRECT = None
MNN_OPS = ('Softmax',)
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 12, 128, 128)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -5.0, "high": 5.0},
)


class Model(nn.Module):
    """Softmax over the last axis of attention scores [1, 12, 128, 128]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.softmax(x, dim=-1)


def get_inputs():
    return [torch.rand(SHAPE) * 10.0 + -5.0]


def get_init_inputs():
    return []
