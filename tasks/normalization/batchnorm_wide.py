"""Inference BatchNorm over [1, 128, 28, 28].

ONNX BatchNormalization (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "BatchNormalization"
CATEGORY = "Normalization"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('ConvertTensor', 'Scale')
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 28, 28)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -3.0, "high": 3.0},
)


class Model(nn.Module):
    """Inference BatchNorm over [1, 128, 28, 28]."""

    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm2d(SHAPE[1])
        nn.init.uniform_(self.norm.weight, 0.5, 1.5)
        nn.init.uniform_(self.norm.bias, -0.5, 0.5)
        self.norm.running_mean.uniform_(-0.5, 0.5)
        self.norm.running_var.uniform_(0.5, 2.0)

    def forward(self, x):
        return self.norm(x)


def get_inputs():
    return [torch.rand(SHAPE) * 6.0 + -3.0]


def get_init_inputs():
    return []
