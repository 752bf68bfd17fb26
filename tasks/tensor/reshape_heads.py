"""Split the hidden axis into 12 heads: [1, 128, 768] -> [1, 128, 12, 64].

ONNX Reshape (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn

OP = "Reshape"
CATEGORY = "Tensor"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('Reshape',)
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """Split the hidden axis into 12 heads: [1, 128, 768] -> [1, 128, 12, 64]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x.reshape(1, 128, 12, 64)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
