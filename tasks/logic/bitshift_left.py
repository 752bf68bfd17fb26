"""Left BitShift of uint8 values by per-element amounts [1, 128, 768].

ONNX BitShift (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op

OP = "BitShift"
CATEGORY = "Logic"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('BinaryOp',)
MNN_SUBTYPE = 'LEFTSHIFT'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "uint8", "dist": "randint", "low": 0, "high": 16},
    {"name": "s", "shape": SHAPE, "dtype": "uint8", "dist": "randint", "low": 0, "high": 4},
)


SHIFT = onnx_op("BitShift", lambda x, s: torch.bitwise_left_shift(x, s), attrs={"direction_s": "LEFT"})


class Model(nn.Module):
    """Left BitShift of uint8 values by per-element amounts [1, 128, 768]."""

    def __init__(self):
        super().__init__()

    def forward(self, x, s):
        return SHIFT(x, s)


def get_inputs():
    return [torch.randint(0, 16, SHAPE, dtype=torch.uint8), torch.randint(0, 4, SHAPE, dtype=torch.uint8)]


def get_init_inputs():
    return []
