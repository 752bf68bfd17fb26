"""Einsum bij,bjk->bik (batched matmul).

ONNX Einsum (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn

OP = "Einsum"
CATEGORY = "Matrix"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "dot products of hundreds of terms: accumulation order and blocking differ"
NATIVE_INCORRECT = None
MNN_OPS = ('MatMul',)
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE_A = (8, 64, 32)
SHAPE_B = (8, 32, 64)
INPUTS = (
    {"name": "a", "shape": SHAPE_A, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
    {"name": "b", "shape": SHAPE_B, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """Einsum bij,bjk->bik (batched matmul)."""

    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return torch.einsum("bij,bjk->bik", a, b)


def get_inputs():
    return [torch.rand(SHAPE_A) * 2.0 + -1.0, torch.rand(SHAPE_B) * 2.0 + -1.0]


def get_init_inputs():
    return []
