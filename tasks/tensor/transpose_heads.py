"""Move heads before tokens: perm (0, 2, 1, 3) of [1, 128, 12, 64].

ONNX Transpose (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn

OP = "Transpose"
CATEGORY = "Tensor"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('Permute',)
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 12, 64)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """Move heads before tokens: perm (0, 2, 1, 3) of [1, 128, 12, 64]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x.permute(0, 2, 1, 3)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
