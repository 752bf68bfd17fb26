"""One-hot encode [8, 128] labels into 100 classes.

ONNX OneHot (opset 20); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from mkb_tui.bench.taskkit import onnx_op

OP = "OneHot"
CATEGORY = "Tensor"
OPSET = 20
TOLERANCE = 0.0001
TOLERANCE_REASON = None
NATIVE_INCORRECT = None
MNN_OPS = ('Slice', 'OneHot')
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (8, 128)
INPUTS = (
    {"name": "labels", "shape": SHAPE, "dtype": "int64", "dist": "randint", "low": 0, "high": 100},
)


ONEHOT = onnx_op("OneHot", lambda i: F.one_hot(i, 100).float(), attrs={"axis_i": -1}, const_inputs=[torch.tensor(100), torch.tensor([0.0, 1.0])])


class Model(nn.Module):
    """One-hot encode [8, 128] labels into 100 classes."""

    def __init__(self):
        super().__init__()

    def forward(self, labels):
        return ONEHOT(labels)


def get_inputs():
    return [torch.randint(0, 100, SHAPE, dtype=torch.int64)]


def get_init_inputs():
    return []
