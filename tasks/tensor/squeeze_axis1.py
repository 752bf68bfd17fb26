"""Drop the singleton axis 1 of [4, 1, 128, 256].

ONNX Squeeze (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn

OP = "Squeeze"
CATEGORY = "Tensor"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('Squeeze',)
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (4, 1, 128, 256)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """Drop the singleton axis 1 of [4, 1, 128, 256]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x.squeeze(1)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
