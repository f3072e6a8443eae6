"""Building blocks shared by the networks: normalisation choices, minibatch std, packing.

- :func:`spectral`: spectral normalisation (Miyato et al. 2018, "Spectral Normalization for
  Generative Adversarial Networks", Eq. 8 and Algorithm 1: W/σ(W) with σ estimated by one
  power iteration per training forward pass); torch's ``nn.utils.spectral_norm``.
- :func:`norm_layers`: the discriminator normalisation named by ``d_norm``
  (``none | bn | layer | spectral``; ``spectral`` adds no layer here, it wraps the weights).
- :class:`MinibatchStd`: Karras et al. 2018, "Progressive Growing of GANs", §3 (and the
  course's slides): split the batch into groups of ``min(group_size, N)`` samples, take the
  standard deviation of every feature over each group, average it to one scalar per group
  (per ``num_features`` channel slice), and append it as a constant extra feature map
  (images) or extra feature (vectors) to every sample of that group. As in the official
  code, the groups are strided: with M = N / G groups, sample i is in group i mod M.
  Departure: when N is not a multiple of ``min(group_size, N)`` (the official code asserts),
  the largest group size ≤ that which divides N is used instead of failing.
- :class:`PixelNorm`: Karras et al. 2018, §4.2, Eq. 2: b = a / sqrt(mean_j a_j² + 1e-8)
  over the channels of each pixel.
- :func:`pack`: Lin et al. 2018, "PacGAN: The power of two samples in generative
  adversarial networks", §3: m consecutive samples become one discriminator input with m×
  the channels (images, N×C×H×W -> N/m × mC×H×W) or m× the features (points, N×d -> N/m × md).
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import nn

from ganbench.errors import GanbenchError

DNorm = Literal["none", "bn", "layer", "spectral"]
D_NORMS: tuple[str, ...] = get_args(DNorm)


def spectral(module: nn.Module, enabled: bool = True) -> nn.Module:
    """``module`` with spectral normalisation of its weight when ``enabled``, else unchanged."""
    return nn.utils.spectral_norm(module) if enabled else module


def norm_layers(kind: str, channels: int, size: int | None = None) -> list[nn.Module]:
    """The normalisation layer(s) after a conv (``size`` = its spatial side) or linear layer (``size=None``)."""
    if kind not in D_NORMS:
        raise ValueError(f"unknown discriminator norm {kind!r} (use one of {', '.join(D_NORMS)})")
    if kind == "bn":
        return [nn.BatchNorm1d(channels) if size is None else nn.BatchNorm2d(channels)]
    if kind == "layer":
        return [nn.LayerNorm(channels if size is None else [channels, size, size])]
    return []


def _group_size(n: int, group_size: int) -> int:
    g = min(group_size, n)
    while n % g:
        g -= 1
    return g


class MinibatchStd(nn.Module):
    """Appends ``num_features`` minibatch-standard-deviation channels (or features) to ``x``."""

    def __init__(self, group_size: int = 4, num_features: int = 1, eps: float = 1e-8):
        super().__init__()
        if group_size < 1 or num_features < 1:
            raise ValueError("MinibatchStd: group_size and num_features must be ≥ 1")
        self.group_size, self.num_features, self.eps = group_size, num_features, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        rest = x.shape[2:]
        f = self.num_features
        if c % f:
            raise ValueError(f"MinibatchStd: {c} channels do not split into {f} slices")
        g = _group_size(n, self.group_size)
        y = x.reshape(g, n // g, f, c // f, *rest)          # [G, M, F, C/F, ...]: sample i -> group i mod M
        y = y - y.mean(dim=0, keepdim=True)
        std = (y.square().mean(dim=0) + self.eps).sqrt()   # [M, F, C/F, ...]
        std = std.flatten(2).mean(dim=2)                    # [M, F]: one scalar per group and slice
        std = std.repeat(g, 1)                              # [N, F], row i = group i mod M
        std = std.reshape(n, f, *([1] * len(rest))).expand(n, f, *rest)
        return torch.cat([x, std.to(x.dtype)], dim=1)


class FeatureHeadD(nn.Module):
    """A discriminator made of a feature extractor ``body`` (to flat features of size
    ``feature_dim``) and a linear ``head`` to one logit; methods that read D's features
    (feature matching, SW-GAN's projections, Dist-GAN) call :meth:`features`.
    Subclasses build ``self.body`` and ``self.head`` (or override :meth:`features`)."""

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


class PixelNorm(nn.Module):
    """Normalises each pixel's feature vector to unit average square (Karras et al. 2018, Eq. 2)."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + self.eps)


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """Groups samples (0..m-1), (m..2m-1), ... into one input each, concatenated along dim 1."""
    if m == 1:
        return x
    n = x.shape[0]
    if n % m:
        raise GanbenchError(f"pack: {m}: the batch of {n} samples is not a multiple of the packing degree")
    return x.reshape(n // m, m * x.shape[1], *x.shape[2:])
