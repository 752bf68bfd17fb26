"""GELU, tanh approximation (approximate='tanh'), over [1, 128, 3072] (BERT FFN). The exact (erf) form is converted by MNN to this tanh form, so the tanh form is the one MNN computes correctly.

ONNX Gelu (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

OP = "Gelu"
CATEGORY = "Activation"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "MNN's GELU kernel evaluates tanh with its own approximation (measured max abs error 1.8e-4)"
NATIVE_INCORRECT = None
MNN_OPS = ('UnaryOp',)
MNN_SUBTYPE = 'GELU'
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 3072)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -5.0, "high": 5.0},
)


class Model(nn.Module):
    """GELU, tanh approximation (approximate='tanh'), over [1, 128, 3072] (BERT FFN). The exact (erf) form is converted by"""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return F.gelu(x, approximate="tanh")


def get_inputs():
    return [torch.rand(SHAPE) * 10.0 + -5.0]


def get_init_inputs():
    return []
