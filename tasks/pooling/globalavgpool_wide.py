"""Global average pooling of [1, 1280, 7, 7] (classifier head).

ONNX GlobalAveragePool (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn

OP = "GlobalAveragePool"
CATEGORY = "Pooling"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('ConvertTensor', 'Pooling3D')
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 1280, 7, 7)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """Global average pooling of [1, 1280, 7, 7] (classifier head)."""

    def __init__(self):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        return self.pool(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
