"""HardSwish (MobileNetV3) over [1, 32, 56, 56].

ONNX HardSwish (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

OP = "HardSwish"
CATEGORY = "Activation"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('UnaryOp',)
MNN_SUBTYPE = 'HARDSWISH'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 32, 56, 56)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -5.0, "high": 5.0, "edge": (-3.0, 3.0, 0.0)},
)


class Model(nn.Module):
    """HardSwish (MobileNetV3) over [1, 32, 56, 56]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return F.hardswish(x)


def get_inputs():
    return [torch.rand(SHAPE) * 10.0 + -5.0]


def get_init_inputs():
    return []
