"""Helpers task files use to export exactly one ONNX node where torch's exporter has no direct mapping
(e.g. Sinh, GlobalMaxPool, RoiAlign): eager mode runs a PyTorch reference, export emits the single op."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


def onnx_op(
    op_type: str,
    reference: Callable[..., torch.Tensor],
    *,
    attrs: dict | None = None,
    const_inputs: Sequence[torch.Tensor] = (),
    outputs: int = 1,
) -> Callable[..., torch.Tensor]:
    """A function computing `reference(*tensors)` that exports as one `op_type` node.

    `attrs` use torch's symbolic suffixes (axis_i, mode_s, alpha_f, ints_is...); `const_inputs` become
    Constant inputs after the runtime ones (e.g. Tile's repeats, Pad's pads)."""
    attrs = dict(attrs or {})

    class _SingleOp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *args):  # noqa: ARG004 - autograd signature
            return reference(*args)

        @staticmethod
        def symbolic(g, *args):
            inputs = list(args) + [g.op("Constant", value_t=c) for c in const_inputs]
            return g.op(op_type, *inputs, outputs=outputs, **attrs)

    _SingleOp.__name__ = f"Onnx{op_type}"
    return _SingleOp.apply


def _axis_weights(pos: torch.Tensor, size: int):
    """Bilinear taps along one axis as RoiAlign samples them: the two neighbours and their weights, zero outside."""
    valid = (pos >= -1.0) & (pos <= size)
    pos = pos.clamp(min=0.0)
    low = pos.floor().long().clamp(max=size - 1)
    high = (low + 1).clamp(max=size - 1)
    pos = torch.where(low >= size - 1, low.to(pos.dtype), pos)
    frac = pos - low.to(pos.dtype)
    return low, high, (1.0 - frac) * valid, frac * valid


def roi_align(x: torch.Tensor, boxes: torch.Tensor, batch_idx: torch.Tensor, out_h: int, out_w: int, scale: float,
              ratio: int, aligned: bool) -> torch.Tensor:
    """ONNX RoiAlign, mode avg: each box's bins averaged over ratio x ratio bilinear samples (ratio 0: as many as
    the bin is wide); `aligned` is half_pixel (boxes shifted by half a pixel, no minimum size), else output_half_pixel."""
    height, width = x.shape[2], x.shape[3]
    offset = 0.5 if aligned else 0.0
    outs = []
    for r in range(boxes.shape[0]):
        fm = x[int(batch_idx[r])]
        x1, y1, x2, y2 = (boxes[r] * scale - offset).tolist()
        roi_w, roi_h = x2 - x1, y2 - y1
        if not aligned:
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        bin_h, bin_w = roi_h / out_h, roi_w / out_w
        gh = ratio if ratio > 0 else int(-(-roi_h // out_h))
        gw = ratio if ratio > 0 else int(-(-roi_w // out_w))
        ys = y1 + (torch.arange(out_h * gh, dtype=torch.float32) + 0.5) * bin_h / gh
        xs = x1 + (torch.arange(out_w * gw, dtype=torch.float32) + 0.5) * bin_w / gw
        ylo, yhi, wylo, wyhi = _axis_weights(ys, height)
        xlo, xhi, wxlo, wxhi = _axis_weights(xs, width)
        value = 0.0
        for yi, wy in ((ylo, wylo), (yhi, wyhi)):
            for xi, wx in ((xlo, wxlo), (xhi, wxhi)):
                value = value + fm[:, yi][:, :, xi] * (wy[:, None] * wx[None, :])
        outs.append(value.reshape(fm.shape[0], out_h, gh, out_w, gw).mean(dim=(2, 4)))
    return torch.stack(outs)
