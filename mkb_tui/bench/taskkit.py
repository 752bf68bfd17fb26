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
