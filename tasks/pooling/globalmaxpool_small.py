"""Global max pooling of [2, 64, 28, 28].

ONNX GlobalMaxPool (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op

OP = "GlobalMaxPool"
CATEGORY = "Pooling"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('ConvertTensor', 'Pooling3D')
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (2, 64, 28, 28)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


GMP = onnx_op("GlobalMaxPool", lambda x: torch.amax(x, dim=(2, 3), keepdim=True))


class Model(nn.Module):
    """Global max pooling of [2, 64, 28, 28]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return GMP(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
