"""Repeat [1, 128, 768] twice along the sequence axis.

ONNX Tile (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op

OP = "Tile"
CATEGORY = "Tensor"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('Tile',)
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


TILE = onnx_op("Tile", lambda x: x.repeat(1, 2, 1), const_inputs=[torch.tensor([1, 2, 1])])


class Model(nn.Module):
    """Repeat [1, 128, 768] twice along the sequence axis."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return TILE(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
