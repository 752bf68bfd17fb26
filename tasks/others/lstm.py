"""A single-layer LSTM, 32 steps, batch 4, input 64, hidden 128; returns the final hidden state Y_h [1, 4, 128].

ONNX LSTM (opset 20); MNN mechanism: combiner.
"""

import torch
import torch.nn as nn

OP = "LSTM"
CATEGORY = "Others"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "32 recurrent steps of sigmoid/tanh: rounding compounds"
NATIVE_INCORRECT = None
MNN_OPS = ('Shape', 'SliceTf', 'Reshape', 'ConvertTensor', 'Convolution', 'While')
MNN_SUBTYPE = None
MECHANISM = "combiner"
SEEDS = (0, 1, 2, 3, 4)

SHAPE_X = (32, 4, 64)
SHAPE_H = (1, 4, 128)
INPUTS = (
    {"name": "x", "shape": SHAPE_X, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
    {"name": "h0", "shape": SHAPE_H, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
    {"name": "c0", "shape": SHAPE_H, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


class Model(nn.Module):
    """A single-layer LSTM, 32 steps, batch 4, input 64, hidden 128; returns the final hidden state Y_h [1, 4, 128]."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(SHAPE_X[2], SHAPE_H[2])

    def forward(self, x, h0, c0):
        return self.lstm(x, (h0, c0))[1][0]


def get_inputs():
    return [torch.rand(SHAPE_X) * 2.0 + -1.0, torch.rand(SHAPE_H) * 2.0 + -1.0, torch.rand(SHAPE_H) * 2.0 + -1.0]


def get_init_inputs():
    return []
