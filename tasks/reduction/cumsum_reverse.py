"""Reverse inclusive prefix sum over the last axis (reverse=1). Input [4, 128, 256].

ONNX CumSum (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op

OP = "CumSum"
CATEGORY = "Reduction"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "prefix sums of up to 256 values: accumulation order differs"
NATIVE_INCORRECT = None
MNN_OPS = ('CumSum',)
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (4, 128, 256)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


CUMSUM = onnx_op("CumSum", lambda x: torch.flip(torch.cumsum(torch.flip(x, [-1]), dim=-1), [-1]), attrs={"exclusive_i": 0, "reverse_i": 1}, const_inputs=[torch.tensor(-1)])


class Model(nn.Module):
    """Reverse inclusive prefix sum over the last axis (reverse=1). Input [4, 128, 256]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return CUMSUM(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
