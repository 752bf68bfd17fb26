"""Gather 64 runtime-chosen tokens (axis 1) of [2, 128, 256].

ONNX Gather (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn

OP = "Gather"
CATEGORY = "Tensor"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('Shape', 'Rank', 'BinaryOp', 'Unsqueeze', 'StridedSlice', 'Squeeze', 'GatherV2')
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (2, 128, 256)
SHAPE_IDX = (64,)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
    {"name": "idx", "shape": SHAPE_IDX, "dtype": "int64", "dist": "randint", "low": 0, "high": 128},
)


class Model(nn.Module):
    """Gather 64 runtime-chosen tokens (axis 1) of [2, 128, 256]."""

    def __init__(self):
        super().__init__()

    def forward(self, x, idx):
        return torch.index_select(x, 1, idx)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0, torch.randint(0, 128, SHAPE_IDX, dtype=torch.int64)]


def get_init_inputs():
    return []
