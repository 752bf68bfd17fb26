"""InstanceNorm with affine parameters over [1, 32, 56, 56] (style transfer). MNN's converter rewrites it into LayerNorm + Scale (a combiner).

ONNX InstanceNormalization (opset 20); MNN mechanism: combiner.
"""

import torch
import torch.nn as nn

OP = "InstanceNormalization"
CATEGORY = "Normalization"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "a mean and variance over thousands of values: summation order differs"
NATIVE_INCORRECT = None
MNN_OPS = ('Reshape', 'LayerNorm', 'Shape', 'ConvertTensor', 'Scale')
MNN_SUBTYPE = None
MECHANISM = "combiner"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 32, 56, 56)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -3.0, "high": 3.0},
)


class Model(nn.Module):
    """InstanceNorm with affine parameters over [1, 32, 56, 56] (style transfer)."""

    def __init__(self):
        super().__init__()
        self.norm = nn.InstanceNorm2d(SHAPE[1], affine=True)
        nn.init.uniform_(self.norm.weight, 0.5, 1.5)
        nn.init.uniform_(self.norm.bias, -0.5, 0.5)

    def forward(self, x):
        return self.norm(x)


def get_inputs():
    return [torch.rand(SHAPE) * 6.0 + -3.0]


def get_init_inputs():
    return []
