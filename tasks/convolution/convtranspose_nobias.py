"""2x2 stride-2 transposed convolution without bias. Input [1, 16, 56, 56].

ONNX ConvTranspose (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "ConvTranspose"
CATEGORY = "Convolution"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('ConvertTensor', 'Deconvolution')
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 16, 56, 56)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """2x2 stride-2 transposed convolution without bias. Input [1, 16, 56, 56]."""

    def __init__(self):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(16, 8, 2, stride=2, bias=False)

    def forward(self, x):
        return self.deconv(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
