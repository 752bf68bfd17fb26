"""Broadcast [4, 1, 768] to [4, 128, 768] (positional bias).

ONNX Expand (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op

OP = "Expand"
CATEGORY = "Tensor"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('BroadcastTo',)
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (4, 1, 768)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


EXPAND = onnx_op("Expand", lambda x: x.expand(4, 128, 768), const_inputs=[torch.tensor([4, 128, 768])])


class Model(nn.Module):
    """Broadcast [4, 1, 768] to [4, 128, 768] (positional bias)."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return EXPAND(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
