"""Elementwise Equal of two int32 tensors [1, 128, 768] (token-id masks).

ONNX Equal (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "Equal"
CATEGORY = "Logic"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('BinaryOp',)
MNN_SUBTYPE = 'EQUAL'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "a", "shape": SHAPE, "dtype": "int32", "dist": "randint", "low": 0, "high": 4},
    {"name": "b", "shape": SHAPE, "dtype": "int32", "dist": "randint", "low": 0, "high": 4},
)


class Model(nn.Module):
    """Elementwise Equal of two int32 tensors [1, 128, 768] (token-id masks)."""

    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return torch.eq(a, b)


def get_inputs():
    return [torch.randint(0, 4, SHAPE, dtype=torch.int32), torch.randint(0, 4, SHAPE, dtype=torch.int32)]


def get_init_inputs():
    return []
