"""Sum over axis 0. Input [256, 1000].

ONNX ReduceSum (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "ReduceSum"
CATEGORY = "Reduction"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('Reduction',)
MNN_SUBTYPE = 'SUM'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (256, 1000)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """Sum over axis 0. Input [256, 1000]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x.sum(dim=0)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
