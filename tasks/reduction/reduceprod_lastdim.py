"""Product over the last axis (values near 1). Input [64, 32].

ONNX ReduceProd (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "ReduceProd"
CATEGORY = "Reduction"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "a product of 32 values: rounding compounds"
NATIVE_INCORRECT = None
MNN_OPS = ('Reduction',)
MNN_SUBTYPE = 'PROD'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (64, 32)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": 0.9, "high": 1.1},
)


class Model(nn.Module):
    """Product over the last axis (values near 1). Input [64, 32]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x.prod(dim=-1)


def get_inputs():
    return [torch.rand(SHAPE) * 0.20000000000000007 + 0.9]


def get_init_inputs():
    return []
