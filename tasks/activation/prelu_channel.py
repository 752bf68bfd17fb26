"""PReLU with one learned slope per channel (slope [1, C, 1, 1]) over [1, 32, 56, 56].

ONNX PRelu (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op

OP = "PRelu"
CATEGORY = "Activation"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('ConvertTensor', 'PReLU')
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 32, 56, 56)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


PRELU = onnx_op("PRelu", lambda x, s: torch.where(x >= 0, x, x * s))


class Model(nn.Module):
    """PReLU with one learned slope per channel (slope [1, C, 1, 1]) over [1, 32, 56, 56]."""

    def __init__(self):
        super().__init__()
        self.slope = nn.Parameter(torch.rand(1, SHAPE[1], 1, 1) * 0.5)

    def forward(self, x):
        return PRELU(x, self.slope)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
