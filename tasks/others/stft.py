"""Short-time Fourier transform of 2 audio signals of 4096 samples: frame 256, hop 128, Hann window, one-sided; output [2, 31, 129, 2] (real, imaginary).

ONNX STFT (opset 17); MNN mechanism: cpu.
"""

import torch
import torch.nn as nn

from mkb_tui.bench.taskkit import onnx_op

OP = "STFT"
CATEGORY = "Others"
OPSET = 17
OPSET_REASON = "STFT was added in opset 17 and is unchanged since"
TOLERANCE = 0.001
TOLERANCE_REASON = "FFT sums of 256 terms: rounding differs"
NATIVE_INCORRECT = None
MNN_OPS = ('Stft',)
MNN_SUBTYPE = None
MECHANISM = "cpu"
SEEDS = (0, 1, 2, 3, 4)

SHAPE = (2, 4096, 1)
INPUTS = (
    {"name": "x", "shape": SHAPE, "dtype": "float32", "dist": "uniform", "low": -1.0, "high": 1.0},
)


def _stft(x, step, window, length):
    spec = torch.stft(x[..., 0], 256, hop_length=128, window=window, center=False, onesided=True, return_complex=True)
    return torch.view_as_real(spec.transpose(1, 2))


STFT = onnx_op("STFT", _stft, attrs={"onesided_i": 1})


class Model(nn.Module):
    """Short-time Fourier transform of 2 audio signals of 4096 samples: frame 256, hop 128, Hann window, one-sided; output [2, 31, 129, 2] (real, imaginary)."""

    def __init__(self):
        super().__init__()
        self.register_buffer('step', torch.tensor(128))
        self.register_buffer('window', torch.hann_window(256, periodic=True))
        self.register_buffer('length', torch.tensor(256))

    def forward(self, x):
        return STFT(x, self.step, self.window, self.length)


def get_inputs():
    return [torch.rand(SHAPE) * 2.0 + -1.0]


def get_init_inputs():
    return []
