"""3x3 max pooling, stride 2, ceil mode (SqueezeNet).

ONNX MaxPool (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "MaxPool"
CATEGORY = "Pooling"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('ConvertTensor', 'Pooling')
MNN_SUBTYPE = 'MAXPOOL'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 32, 55, 55)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """3x3 max pooling, stride 2, ceil mode (SqueezeNet)."""

    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)

    def forward(self, x):
        return self.pool(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
