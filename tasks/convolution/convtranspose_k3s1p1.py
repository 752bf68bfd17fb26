"""3x3 stride-1 transposed convolution. Input [1, 32, 28, 28].

ONNX ConvTranspose (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

OP = "ConvTranspose"
CATEGORY = "Convolution"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "sums of hundreds of products: accumulation order differs between MNN and PyTorch"
NATIVE_INCORRECT = None
MNN_OPS = ('ConvertTensor', 'Deconvolution')
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 32, 28, 28)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """3x3 stride-1 transposed convolution. Input [1, 32, 28, 28]."""

    def __init__(self):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(32, 32, 3, padding=1)

    def forward(self, x):
        return self.deconv(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
