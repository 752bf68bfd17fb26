"""Elementwise logical And of two boolean masks [1, 128, 768].

ONNX And (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op

OP = "And"
CATEGORY = "Logic"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('BinaryOp',)
MNN_SUBTYPE = 'MUL'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "a", "shape": SHAPE, "dtype": "bool", "dist": "bool", "p": 0.5},
    {"name": "b", "shape": SHAPE, "dtype": "bool", "dist": "bool", "p": 0.5},
)


AND = onnx_op("And", torch.logical_and)


class Model(nn.Module):
    """Elementwise logical And of two boolean masks [1, 128, 768]."""

    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return AND(a, b)


def get_inputs():
    return [torch.rand(SHAPE) < 0.5, torch.rand(SHAPE) < 0.5]


def get_init_inputs():
    return []
