"""Clip to [-1, 1] (hard tanh) over [1, 128, 768].

ONNX Clip (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "Clip"
CATEGORY = "Activation"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('ReLU6',)
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -3.0, "high": 3.0, "edge": (-1.0, 1.0)},
)


class Model(nn.Module):
    """Clip to [-1, 1] (hard tanh) over [1, 128, 768]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.clamp(x, -1.0, 1.0)


def get_inputs():
    return [torch.rand(SHAPE) * 6.0 + -3.0]


def get_init_inputs():
    return []
