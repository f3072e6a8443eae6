"""The Inception metrics' resizes as two matrix products on the device (issue 16 item 3).

Both resize modes of :mod:`ganbench.metrics.inception` are separable linear maps: an H×W image
X becomes ``Wy · X · Wxᵀ`` with a 299×H matrix ``Wy`` (rows) and a 299×W matrix ``Wx``
(columns). Built once per (mode, size, device), they turn the per-image CPU resize into one
batched matmul pair on the evaluation device.

- ``clean``: PIL's ``Image.resize(..., BICUBIC)`` on a float (mode "F") image, as clean-fid's
  ``build_resizer("clean")`` calls it per channel, followed by its ``clip(0, 255)``. The weights
  are PIL's own (``Resample.c``, ``precompute_coeffs``): for output pixel i, scale = in/out,
  filter scale fs = max(scale, 1) (antialiasing when shrinking), support = 2·fs,
  centre c = (i + 0.5)·scale, taps x from ``int(c − support + 0.5)`` (at least 0) to
  ``int(c + support + 0.5)`` (at most in), weight = bicubic((x − c + 0.5)/fs) with Keys' a = −0.5,
  normalised to sum 1 per output pixel. PIL resamples the float image horizontally, then
  vertically, in float32 with double weights; here both products run in float32 (TF32 off), which
  agrees to ~1e-4 on [0, 255] pixels (``tests/test_device_eval.py``).
- ``legacy_tensorflow``: TF 1.x ``ResizeBilinear(align_corners=False)``: source position
  s = i·in/out, taps ⌊s⌋ and min(⌊s⌋ + 1, in − 1), weights 1 − (s − ⌊s⌋) and s − ⌊s⌋ (no
  half-pixel offset, no antialiasing); the same map as torch-fidelity's
  ``interpolate_bilinear_2d_like_tensorflow1x``.

A grey image is resized once and broadcast to three channels (``expand``, no copy).
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

MODES = ("clean", "legacy_tensorflow")


def _bicubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys' cubic convolution kernel with PIL's a = −0.5 (support 2)."""
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def pil_bicubic_matrix(n_in: int, n_out: int) -> np.ndarray:
    """The n_out×n_in matrix of PIL's antialiased bicubic resize along one axis (float64)."""
    scale = n_in / n_out
    fs = max(scale, 1.0)
    support = 2.0 * fs
    out = np.zeros((n_out, n_in))
    for i in range(n_out):
        centre = (i + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), n_in)
        taps = np.arange(lo, hi)
        w = _bicubic((taps - centre + 0.5) / fs)
        total = w.sum()
        out[i, lo:hi] = w / total if total != 0.0 else w
    return out


def tf1_bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """The n_out×n_in matrix of TF 1.x ResizeBilinear (align_corners=False) along one axis."""
    src = np.arange(n_out) * (n_in / n_out)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    out = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    np.add.at(out, (rows, lo), 1.0 - frac)
    np.add.at(out, (rows, hi), frac)
    return out


_BUILDERS = {"clean": pil_bicubic_matrix, "legacy_tensorflow": tf1_bilinear_matrix}
_matrices: dict[tuple, torch.Tensor] = {}


def resize_matrix(mode: str, n_in: int, n_out: int, device: torch.device | str) -> torch.Tensor:
    """The float32 matrix of ``mode`` along one axis, on ``device``, built once per process."""
    if mode not in _BUILDERS:
        raise ValueError(f"unknown resize mode {mode!r} (expected one of {', '.join(MODES)})")
    key = (mode, n_in, n_out, str(torch.device(device)))
    if key not in _matrices:
        _matrices[key] = torch.from_numpy(_BUILDERS[mode](n_in, n_out)).float().to(device)
    return _matrices[key]


@contextlib.contextmanager
def _exact_float32_matmul():
    """TF32 off for the resize products (a user's global 'high' precision would cost ~1e-2)."""
    if not torch.cuda.is_available():
        yield
        return
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


def resize(pixels: torch.Tensor, mode: str, size: int = 299, rgb: bool = True) -> torch.Tensor:
    """N×C×H×W float pixels in [0, 255] (any device) -> N×C'×size×size float32 on that device.

    ``rgb``: a grey (C = 1) input comes back as three channels, a broadcast view of one. The
    ``clean`` result is clipped to [0, 255] like clean-fid's resizer.
    """
    if pixels.ndim != 4:
        raise ValueError(f"expected N×C×H×W pixels, got {tuple(pixels.shape)}")
    x = pixels.float()
    h, w = x.shape[-2:]
    wy = resize_matrix(mode, h, size, x.device)
    wx = resize_matrix(mode, w, size, x.device)
    with _exact_float32_matmul():
        out = torch.matmul(wy, torch.matmul(x, wx.T))  # PIL's order: horizontal pass first
    if mode == "clean":
        out = out.clamp_(0.0, 255.0)
    if rgb and out.shape[1] == 1:
        out = out.expand(-1, 3, -1, -1)
    return out

