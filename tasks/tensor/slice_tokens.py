"""Take tokens 1..127 (drop the CLS token) of [1, 128, 768].

ONNX Slice (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op

OP = "Slice"
CATEGORY = "Tensor"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('StridedSlice',)
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


SLICE = onnx_op("Slice", lambda x: x[:, 1:, :], const_inputs=[torch.tensor([1]), torch.tensor([128]), torch.tensor([1])])


class Model(nn.Module):
    """Take tokens 1..127 (drop the CLS token) of [1, 128, 768]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return SLICE(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
