"""7x7 average pooling of the last ResNet feature map.

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

SHAPE = (1, 256, 7, 7)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """7x7 average pooling of the last ResNet feature map."""

    def __init__(self):
        super().__init__()
        self.pool = nn.AvgPool2d(7)

    def forward(self, x):
        return self.pool(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
