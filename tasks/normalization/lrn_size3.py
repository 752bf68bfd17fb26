"""Local response normalization (size 3) over [1, 32, 56, 56]. MNN lowers LRN to pooling and elementwise ops (geometry).

ONNX LRN (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from mkb_tui.bench.taskkit import onnx_op

OP = "LRN"
CATEGORY = "Normalization"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "pow(., 0.75) evaluated with different approximations"
NATIVE_INCORRECT = None
MNN_OPS = ('ConvertTensor', 'LRN')
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 32, 56, 56)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -30.0, "high": 30.0},
)


LRN = onnx_op("LRN", lambda x: F.local_response_norm(x, 3, alpha=1e-4, beta=0.75, k=1.0), attrs={"size_i": 3, "alpha_f": 1e-4, "beta_f": 0.75, "bias_f": 1.0})


class Model(nn.Module):
    """Local response normalization (size 3) over [1, 32, 56, 56]."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return LRN(x)


def get_inputs():
    return [torch.rand(SHAPE) * 60.0 + -30.0]


def get_init_inputs():
    return []
