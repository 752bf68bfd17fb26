"""Elementwise Min of two same-shape activation tensors [1, 128, 768].

ONNX Min (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "Min"
CATEGORY = "Binary"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('BinaryOp',)
MNN_SUBTYPE = 'MINIMUM'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "a", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -10.0, "high": 10.0},
    {"name": "b", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -10.0, "high": 10.0},
)


class Model(nn.Module):
    """Elementwise Min of two same-shape activation tensors [1, 128, 768]."""

    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return torch.minimum(a, b)


def get_inputs():
    return [torch.rand(SHAPE) * 20.0 + -10.0, torch.rand(SHAPE) * 20.0 + -10.0]


def get_init_inputs():
    return []
