"""RoiAlign (avg, 7x7, sampling ratio 2, spatial scale 1/16, half-pixel) of 32 boxes over a [1, 64, 38, 50] feature map (Faster R-CNN).

ONNX RoiAlign (opset 20); MNN mechanism: cpu.
"""

import numpy as np
import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op, roi_align

OP = "RoiAlign"
CATEGORY = "Others"
OPSET = 20
TOLERANCE = 0.001
TOLERANCE_REASON = "bilinear sampling weights: rounding differs"
NATIVE_INCORRECT = None
MNN_OPS = ('ConvertTensor', 'ROIAlign')
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (1, 64, 38, 50)
SHAPE_ROIS = (32, 4)
SHAPE_IDX = (32,)
POOLED = 7
RATIO = 2
SCALE = 0.0625
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
    {"name": "rois", "shape": SHAPE_ROIS, "dtype": "float32", "dist": "uniform", "low": 0.0, "high": 600.0},
    {"name": "batch_idx", "shape": SHAPE_IDX, "dtype": "int64", "dist": "randint", "low": 0, "high": 1},
)


def _roi_align(x, rois, batch_idx):
    """Reference RoiAlign (avg, half_pixel) as ONNX defines it."""
    return roi_align(x, rois, batch_idx, POOLED, POOLED, SCALE, RATIO, aligned=True)


ROIALIGN = onnx_op("RoiAlign", _roi_align, attrs={"mode_s": "avg", "output_height_i": POOLED, "output_width_i": POOLED, "sampling_ratio_i": RATIO, "spatial_scale_f": SCALE, "coordinate_transformation_mode_s": "half_pixel"})


def sample_inputs(rng):
    """Boxes with x1 < x2 and y1 < y2 inside an 800x600 image."""
    x = rng.uniform(-1.0, 1.0, SHAPE).astype(np.float32)
    xy1 = rng.uniform(0.0, [700.0, 500.0], (SHAPE_ROIS[0], 2))
    wh = rng.uniform(16.0, 200.0, (SHAPE_ROIS[0], 2))
    rois = np.concatenate([xy1, np.minimum(xy1 + wh, [799.0, 599.0])], axis=1).astype(np.float32)
    return [x, rois, np.zeros(SHAPE_IDX, dtype=np.int64)]


class Model(nn.Module):
    """RoiAlign (avg, 7x7, sampling ratio 2, spatial scale 1/16, half-pixel) of 32 boxes over a [1, 64, 38, 50] feature map (Faster R-CNN)."""

    def __init__(self):
        super().__init__()

    def forward(self, x, rois, batch_idx):
        return ROIALIGN(x, rois, batch_idx)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0, torch.rand(SHAPE_ROIS) * 600.0 + 0.0, torch.randint(0, 1, SHAPE_IDX, dtype=torch.int64)]


def get_init_inputs():
    return []
