"""RoiAlign (avg, 7x7, sampling ratio 2, spatial scale 1/16, half-pixel) of 32 boxes over a [1, 64, 38, 50] feature map (Faster R-CNN).

ONNX RoiAlign (opset 20); MNN mechanism: cpu.
"""

import numpy as np
import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op

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


def _axis_weights(pos, size):
    valid = (pos >= -1.0) & (pos <= size)
    pos = pos.clamp(min=0.0)
    low = pos.floor().long().clamp(max=size - 1)
    high = (low + 1).clamp(max=size - 1)
    pos = torch.where(low >= size - 1, low.to(pos.dtype), pos)
    frac = pos - low.to(pos.dtype)
    return low, high, (1.0 - frac) * valid, frac * valid


def _roi_align(x, rois, batch_idx):
    """Reference RoiAlign (avg, half_pixel) as ONNX defines it."""
    height, width = x.shape[2], x.shape[3]
    outs = []
    for r in range(rois.shape[0]):
        fm = x[int(batch_idx[r])]
        x1, y1, x2, y2 = (rois[r] * SCALE - 0.5).tolist()
        bin_h, bin_w = (y2 - y1) / POOLED, (x2 - x1) / POOLED
        ys = y1 + (torch.arange(POOLED * RATIO, dtype=torch.float32) + 0.5) * bin_h / RATIO
        xs = x1 + (torch.arange(POOLED * RATIO, dtype=torch.float32) + 0.5) * bin_w / RATIO
        ylo, yhi, wylo, wyhi = _axis_weights(ys, height)
        xlo, xhi, wxlo, wxhi = _axis_weights(xs, width)
        value = 0.0
        for yi, wy in ((ylo, wylo), (yhi, wyhi)):
            for xi, wx in ((xlo, wxlo), (xhi, wxhi)):
                value = value + fm[:, yi][:, :, xi] * (wy[:, None] * wx[None, :])
        c = fm.shape[0]
        outs.append(value.reshape(c, POOLED, RATIO, POOLED, RATIO).mean(dim=(2, 4)))
    return torch.stack(outs)


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
