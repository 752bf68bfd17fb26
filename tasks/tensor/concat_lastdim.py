"""Concatenate two [1, 128, 384] halves along the last axis.

ONNX Concat (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn

OP = "Concat"
CATEGORY = "Tensor"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('Concat',)
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 384)
INPUTS = (
    {"name": "a", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
    {"name": "b", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """Concatenate two [1, 128, 384] halves along the last axis."""

    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return torch.cat([a, b], dim=-1)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0, torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
