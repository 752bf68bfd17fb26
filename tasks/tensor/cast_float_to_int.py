"""Cast float32 -> int32 (truncation toward zero) of [1, 128, 768].

ONNX Cast (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "Cast"
CATEGORY = "Tensor"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('Cast',)
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -100.0, "high": 100.0, "edge": (-0.5, 0.5, -1.5)},
)


class Model(nn.Module):
    """Cast float32 -> int32 (truncation toward zero) of [1, 128, 768]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x.to(torch.int32)


def get_inputs():
    return [torch.rand(SHAPE) * 200.0 + -100.0]


def get_init_inputs():
    return []
