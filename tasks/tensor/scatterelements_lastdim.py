"""ScatterElements along the last axis with distinct indices per row: [4, 64, 256] <- [4, 64, 32].

ONNX ScatterElements (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn

OP = "ScatterElements"
CATEGORY = "Tensor"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('ScatterElements',)
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (4, 64, 256)
SHAPE_IDX = (4, 64, 32)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
    {"name": "idx", "shape": SHAPE_IDX, "dtype": "int64", "dist": "unique_index", "high": 256},
    {"name": "upd", "shape": SHAPE_IDX, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """ScatterElements along the last axis with distinct indices per row: [4, 64, 256] <- [4, 64, 32]."""

    def __init__(self):
        super().__init__()

    def forward(self, x, idx, upd):
        return x.scatter(-1, idx, upd)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0, torch.randint(0, 256, SHAPE_IDX, dtype=torch.int64), torch.rand(SHAPE_IDX) * 2.0 + -1.0]


def get_init_inputs():
    return []
