"""Top-8 values and indices over the last axis of [4, 64, 1024] (sampling).

ONNX TopK (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "TopK"
CATEGORY = "Tensor"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('TopKV2',)
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (4, 64, 1024)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """Top-8 values and indices over the last axis of [4, 64, 1024] (sampling)."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.topk(x, 8, dim=-1)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
