"""Depthwise 3x3 stride-2 convolution. Input [1, 96, 56, 56].

ONNX Conv (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "Conv"
CATEGORY = "Convolution"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('ConvertTensor', 'ConvolutionDepthwise')
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 96, 56, 56)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """Depthwise 3x3 stride-2 convolution. Input [1, 96, 56, 56]."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(96, 96, 3, stride=2, padding=1, groups=96)

    def forward(self, x):
        return self.conv(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
