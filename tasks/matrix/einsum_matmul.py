"""Einsum ij,jk->ik.

ONNX Einsum (opset 20); MNN mechanism: combiner.
"""

import torch
import torch.nn as nn

OP = "Einsum"
CATEGORY = "Matrix"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "dot products of hundreds of terms: accumulation order and blocking differ"
NATIVE_INCORRECT = None
MNN_OPS = ('Permute', 'Shape', 'SliceTf', 'BinaryOp', 'Concat', 'Reshape', 'MatMul')
MNN_SUBTYPE = None
MECHANISM = "combiner"
SEEDS = (0, 1, 2, 3, 4)

SHAPE_A = (128, 256)
SHAPE_B = (256, 128)
INPUTS = (
    {"name": "a", "shape": SHAPE_A, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
    {"name": "b", "shape": SHAPE_B, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """Einsum ij,jk->ik."""

    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return torch.einsum("ij,jk->ik", a, b)


def get_inputs():
    return [torch.rand(SHAPE_A) * 2.0 + -1.0, torch.rand(SHAPE_B) * 2.0 + -1.0]


def get_init_inputs():
    return []
