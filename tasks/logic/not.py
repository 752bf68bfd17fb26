"""Elementwise logical Not of a boolean mask [1, 128, 768]. MNN's converter rewrites it as SUB + NEG (a combiner).

ONNX Not (opset 20); MNN mechanism: combiner.
"""

import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op

OP = "Not"
CATEGORY = "Logic"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('BinaryOp', 'UnaryOp')
MNN_SUBTYPE = None
MECHANISM = "combiner"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "bool", "dist": "bool", "p": 0.5},
)


NOT = onnx_op("Not", torch.logical_not)


class Model(nn.Module):
    """Elementwise logical Not of a boolean mask [1, 128, 768]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return NOT(x)


def get_inputs():
    return [torch.rand(SHAPE) < 0.5]


def get_init_inputs():
    return []
