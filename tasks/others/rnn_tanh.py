"""A single-layer tanh RNN, 32 steps, batch 4, input 64, hidden 128; returns the final hidden state Y_h [1, 4, 128].

ONNX RNN (opset 20); MNN mechanism: geometry.
"""

import torch
import torch.nn as nn

OP = "RNN"
CATEGORY = "Others"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "32 recurrent steps of tanh: rounding compounds"
NATIVE_INCORRECT = None
MNN_OPS = ('Slice', 'BinaryOp', 'RNN')
MNN_SUBTYPE = None
MECHANISM = "geometry"
SEEDS = (0, 1, 2, 3, 4)

SHAPE_X = (32, 4, 64)
SHAPE_H = (1, 4, 128)
INPUTS = (
    {"name": "x", "shape": SHAPE_X, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
    {"name": "h0", "shape": SHAPE_H, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """A single-layer tanh RNN, 32 steps, batch 4, input 64, hidden 128; returns the final hidden state Y_h [1, 4, 128]."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(SHAPE_X[2], SHAPE_H[2])

    def forward(self, x, h0):
        return self.rnn(x, h0)[1]


def get_inputs():
    return [torch.rand(SHAPE_X) * 2.0 + -1.0, torch.rand(SHAPE_H) * 2.0 + -1.0]


def get_init_inputs():
    return []
