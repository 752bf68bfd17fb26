"""LayerNorm over the hidden axis of [1, 128, 768] (BERT-base).

ONNX LayerNormalization (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "LayerNormalization"
CATEGORY = "Normalization"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "a mean and variance over hundreds of values: summation order differs between MNN and PyTorch"
NATIVE_INCORRECT = None
MNN_OPS = ('LayerNorm',)
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -3.0, "high": 3.0},
)


class Model(nn.Module):
    """LayerNorm over the hidden axis of [1, 128, 768] (BERT-base)."""

    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(SHAPE[-1], eps=1e-5)
        nn.init.uniform_(self.norm.weight, 0.5, 1.5)
        nn.init.uniform_(self.norm.bias, -0.5, 0.5)

    def forward(self, x):
        return self.norm(x)


def get_inputs():
    return [torch.rand(SHAPE) * 6.0 + -3.0]


def get_init_inputs():
    return []
