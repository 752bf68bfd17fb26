"""Log-sum-exp over the last axis (keepdims=0). Input [1, 128, 768]. Uses the opset 17 form (axes as an attribute): MNN's converter ignores the opset-18 axes input of this op and reduces every axis; keepdims=0 because the converter ignores keepdims=1 in that form. MNN's converter rewrites the op into a Unary + Reduction chain (a combiner).

ONNX ReduceLogSumExp (opset 17); MNN mechanism: combiner.
"""

import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op

OP = "ReduceLogSumExp"
CATEGORY = "Reduction"
OPSET = 17
OPSET_REASON = "opset 17 form (axes as an attribute): MNN's converter ignores the opset-18 axes input of this op and reduces every axis"
TOLERANCE = 0.001
TOLERANCE_REASON = "sums of hundreds of values: accumulation order differs"
NATIVE_INCORRECT = None
MNN_OPS = ('UnaryOp', 'Reduction')
MNN_SUBTYPE = None
MECHANISM = "combiner"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 128, 768)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


REDUCE = onnx_op("ReduceLogSumExp", lambda x: torch.logsumexp(x, dim=-1), attrs={"axes_i": [-1], "keepdims_i": 0})


class Model(nn.Module):
    """Log-sum-exp over the last axis (keepdims=0). Input [1, 128, 768]. Uses the opset 17 form (axes as an attribute):"""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return REDUCE(x)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
