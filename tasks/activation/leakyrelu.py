"""LeakyReLU (alpha 0.01) over [1, 128, 768].

ONNX LeakyRelu (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

OP = "LeakyRelu"
CATEGORY = "Activation"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('ReLU',)
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """LeakyReLU (alpha 0.01) over [1, 128, 768]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return F.leaky_relu(x, 0.01)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
