"""DepthToSpace (pixel shuffle, block 2, DCR) of [1, 128, 28, 28] (super-resolution).

ONNX DepthToSpace (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op

OP = "DepthToSpace"
CATEGORY = "Tensor"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('DepthToSpace',)
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 28, 28)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


D2S = onnx_op("DepthToSpace", lambda x: x.reshape(1, 2, 2, 32, 28, 28).permute(0, 3, 4, 1, 5, 2).reshape(1, 32, 56, 56), attrs={"blocksize_i": 2, "mode_s": "DCR"})


class Model(nn.Module):
    """DepthToSpace (pixel shuffle, block 2, DCR) of [1, 128, 28, 28] (super-resolution)."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return D2S(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
