"""Embedding lookup: 2x64 token ids into a [4096, 256] table.

ONNX Gather (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op

OP = "Gather"
CATEGORY = "Tensor"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('BinaryOp', 'GatherV2')
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE_IDS = (2, 64)
INPUTS = (
    {"name": "ids", "shape": SHAPE_IDS, "dtype": "int64", "dist": "randint", "low": 0, "high": 4096},
)


GATHER = onnx_op("Gather", lambda t, i: t[i], attrs={"axis_i": 0})


class Model(nn.Module):
    """Embedding lookup: 2x64 token ids into a [4096, 256] table."""

    def __init__(self):
        super().__init__()
        self.table = nn.Parameter(torch.randn(4096, 256))

    def forward(self, ids):
        return GATHER(self.table, ids)


def get_inputs():
    return [torch.randint(0, 4096, SHAPE_IDS, dtype=torch.int64)]


def get_init_inputs():
    return []
