"""1-D average pooling (kernel 3, pad 1) over [4, 128, 256].

ONNX AveragePool (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "AveragePool"
CATEGORY = "Pooling"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('ConvertTensor', 'Pooling')
MNN_SUBTYPE = 'AVEPOOL'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (4, 128, 256)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """1-D average pooling (kernel 3, pad 1) over [4, 128, 256]."""

    def __init__(self):
        super().__init__()
        self.pool = nn.AvgPool1d(3, 1, 1)

    def forward(self, x):
        return self.pool(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
