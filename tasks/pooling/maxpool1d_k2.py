"""1-D max pooling over a sequence [4, 64, 256].

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

SHAPE = (4, 64, 256)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """1-D max pooling over a sequence [4, 64, 256]."""

    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool1d(2, 2)

    def forward(self, x):
        return self.pool(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
