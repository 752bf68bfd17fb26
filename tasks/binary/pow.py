"""Elementwise Pow of two same-shape activation tensors [1, 128, 768].

ONNX Pow (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "Pow"
CATEGORY = "Binary"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "transcendental function: MNN and PyTorch use different polynomial approximations (relative error ~1e-6, absolute error grows with |y|)"
NATIVE_INCORRECT = None
MNN_OPS = ('BinaryOp',)
MNN_SUBTYPE = 'POW'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "a", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": 0.1, "high": 3.0},
    {"name": "b", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": 0.1, "high": 3.0},
)


class Model(nn.Module):
    """Elementwise Pow of two same-shape activation tensors [1, 128, 768]."""

    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return torch.pow(a, b)


def get_inputs():
    return [torch.rand(SHAPE) * 2.9 + 0.1, torch.rand(SHAPE) * 2.9 + 0.1]


def get_init_inputs():
    return []
