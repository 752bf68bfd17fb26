"""SpaceToDepth (block 2) of [1, 32, 56, 56] (YOLOv2 reorg / Focus).

ONNX SpaceToDepth (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op

OP = "SpaceToDepth"
CATEGORY = "Tensor"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('SpaceToDepth',)
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 32, 56, 56)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


S2D = onnx_op("SpaceToDepth", lambda x: x.reshape(1, 32, 28, 2, 28, 2).permute(0, 3, 5, 1, 2, 4).reshape(1, 128, 28, 28), attrs={"blocksize_i": 2})


class Model(nn.Module):
    """SpaceToDepth (block 2) of [1, 32, 56, 56] (YOLOv2 reorg / Focus)."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return S2D(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
