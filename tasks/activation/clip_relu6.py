"""Clip to [0, 6] (ReLU6 in MobileNet) over [1, 32, 56, 56].

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

SHAPE = (1, 32, 56, 56)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -10.0, "high": 10.0, "edge": (0.0, 6.0)},
)


class Model(nn.Module):
    """Clip to [0, 6] (ReLU6 in MobileNet) over [1, 32, 56, 56]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.clamp(x, 0.0, 6.0)


def get_inputs():
    return [torch.rand(SHAPE) * 20.0 + -10.0]


def get_init_inputs():
    return []
