"""Select between two tensors by a boolean mask, [1, 128, 768].

ONNX Where (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "Where"
CATEGORY = "Tensor"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('Select',)
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "cond", "shape": SHAPE, "dtype": "bool", "dist": "bool", "p": 0.5},
    {"name": "a", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
    {"name": "b", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """Select between two tensors by a boolean mask, [1, 128, 768]."""

    def __init__(self):
        super().__init__()

    def forward(self, cond, a, b):
        return torch.where(cond, a, b)


def get_inputs():
    return [torch.rand(SHAPE) < 0.5, torch.rand(SHAPE) * 2.0 + -1.0, torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
