"""Reflect-pad H and W of [1, 32, 56, 56] by 2 pixels (style transfer).

ONNX Pad (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from mkb_tui.bench.taskkit import onnx_op

OP = "Pad"
CATEGORY = "Tensor"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('Padding',)
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 32, 56, 56)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


PAD = onnx_op("Pad", lambda x: F.pad(x, (2, 2, 2, 2), mode="reflect"), attrs={"mode_s": "reflect"}, const_inputs=[torch.tensor([0, 0, 2, 2, 0, 0, 2, 2])])


class Model(nn.Module):
    """Reflect-pad H and W of [1, 32, 56, 56] by 2 pixels (style transfer)."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return PAD(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
