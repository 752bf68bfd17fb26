"""3x3 convolution 64->64 without bias (ResNet block). Input [1, 64, 28, 28].

ONNX Conv (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "Conv"
CATEGORY = "Convolution"
OPSET = 20
TOLERANCE = 0.01
TOLERANCE_REASON = "MNN computes 3x3 (and larger) stride-1 convolutions with Winograd transforms: rounding differs (measured up to 3.5e-3 abs on sums of 288+ products)"
NATIVE_INCORRECT = None
MNN_OPS = ('ConvertTensor', 'Convolution')
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 64, 28, 28)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """3x3 convolution 64->64 without bias (ResNet block). Input [1, 64, 28, 28]."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(64, 64, 3, padding=1, bias=False)

    def forward(self, x):
        return self.conv(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
