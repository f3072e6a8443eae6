"""Progressive-growing generator and discriminator (Karras et al. 2018, "Progressive Growing of
GANs for Improved Quality, Stability, and Variation", §2, §4.1, §4.2, Table 2 / Appendix A.1).

Both nets hold every resolution's block from the start (so one optimiser covers all parameters
and a checkpoint always has the same keys); ``forward(x, stage, alpha)`` runs only the blocks
up to ``stage`` and fades the newest one in with weight ``alpha`` (Fig. 2):

- G: z -> pixel norm (normalised latent) -> dense to ``base``×``base`` -> 3×3 conv, then per
  stage s ≥ 1: nearest ×2 upsample, two 3×3 convs; LeakyReLU(0.2) and pixel norm (§4.2) after
  every conv; ``to_rgb[s]`` is a 1×1 conv with a linear output. Fading stage s in:
  ``(1 - α)·up(to_rgb[s-1](h_{s-1})) + α·to_rgb[s](block_s(h_{s-1}))``.
- D mirrors it: ``from_rgb[s]`` (1×1 conv + LeakyReLU), per stage s ≥ 1 two 3×3 convs and a
  2×2 average pool; the lowest-resolution block is minibatch standard deviation (shared
  :class:`~ganbench.nets.layers.MinibatchStd`, §3), a 3×3 conv, a ``base``×``base`` "conv" (as a
  dense layer on the flattened map, as in the official code) and a dense head to one output.
  Fading in: ``(1 - α)·from_rgb[s-1](avgpool(x)) + α·block_s(from_rgb[s](x))``.
- Equalised learning rate (§4.1): every weight is N(0, 1) and multiplied at run time by He's
  constant c = gain / sqrt(fan_in), gain √2 (1 for ``to_rgb`` and D's head; √2/base for G's
  first dense layer, generalising the official code's √2/4 at 4×4); biases start at zero.

Resolutions: 28 px data grow 7 -> 14 -> 28, 32 px 4 -> 8 -> 16 -> 32, 64 px 4 -> ... -> 64.
Channels: ``min(width·2^(S-1-s), 8·width)`` at stage s of S (the paper's 512 at every
resolution ≤ 32 for 1024 px is out of CPU reach; ``width`` sets the scale as for the DCGAN nets).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.nets.layers import MinibatchStd, PixelNorm


def resolutions(image_size: int) -> list[int]:
    """The growth ladder for a square image side: 28 -> [7, 14, 28]; 32 -> [4, 8, 16, 32]."""
    base = {28: 7, 32: 4, 64: 4}.get(image_size)
    if base is None:
        raise ValueError(f"progressive growing supports 28, 32 or 64 px images, not {image_size}")
    out = [base]
    while out[-1] < image_size:
        out.append(out[-1] * 2)
    return out


def stage_channels(width: int, stages: int) -> list[int]:
    return [min(width * 2 ** (stages - 1 - s), 8 * width) for s in range(stages)]


class EqualizedConv2d(nn.Module):
    """Conv with N(0, 1) weights scaled at run time by gain / sqrt(in·k·k) (Karras et al. §4.1)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, gain: float = math.sqrt(2.0)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.scale = gain / math.sqrt(in_ch * kernel * kernel)
        self.padding = kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualizedLinear(nn.Module):
    """Dense layer with N(0, 1) weights scaled at run time by gain / sqrt(in_features)."""

    def __init__(self, in_features: int, out_features: int, gain: float = math.sqrt(2.0)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2)


def _fade(old: torch.Tensor, new: torch.Tensor, alpha: float) -> torch.Tensor:
    """(1 - α)·old + α·new, exact at both ends (α = 0 gives ``old``, α = 1 gives ``new``)."""
    if alpha >= 1.0:
        return new
    if alpha <= 0.0:
        return old
    return (1.0 - alpha) * old + alpha * new


class PGGANGenerator(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, int, int], width: int = 64):
        super().__init__()
        channels, size, _ = shape
        self.res = resolutions(size)
        self.stages = len(self.res)
        self.base = self.res[0]
        ch = stage_channels(width, self.stages)
        self.z_dim, self.ch0 = z_dim, ch[0]
        self.normalize_latent = PixelNorm()
        self.dense = EqualizedLinear(z_dim, ch[0] * self.base ** 2, gain=math.sqrt(2.0) / self.base)
        self.first = nn.Sequential(_act(), PixelNorm(), EqualizedConv2d(ch[0], ch[0], 3), _act(), PixelNorm())
        blocks = [nn.Identity()]
        for s in range(1, self.stages):
            blocks.append(nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"),
                EqualizedConv2d(ch[s - 1], ch[s], 3), _act(), PixelNorm(),
                EqualizedConv2d(ch[s], ch[s], 3), _act(), PixelNorm(),
            ))
        self.blocks = nn.ModuleList(blocks)
        self.to_rgb = nn.ModuleList(EqualizedConv2d(c, channels, 1, gain=1.0) for c in ch)

    def features(self, z: torch.Tensor, stage: int) -> torch.Tensor:
        """The feature map of ``stage`` (resolution ``res[stage]``), fully grown up to it."""
        h = self.dense(self.normalize_latent(z)).view(-1, self.ch0, self.base, self.base)
        h = self.first(h)
        for s in range(1, stage + 1):
            h = self.blocks[s](h)
        return h

    def forward(self, z: torch.Tensor, stage: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        stage = self.stages - 1 if stage is None else stage
        if stage == 0 or alpha >= 1.0:
            return self.to_rgb[stage](self.features(z, stage))
        prev = self.features(z, stage - 1)
        old = F.interpolate(self.to_rgb[stage - 1](prev), scale_factor=2, mode="nearest")
        new = self.to_rgb[stage](self.blocks[stage](prev))
        return _fade(old, new, alpha)


class PGGANDiscriminator(nn.Module):
    def __init__(self, shape: tuple[int, int, int], width: int = 64, minibatch_std: bool = True):
        super().__init__()
        channels, size, _ = shape
        self.res = resolutions(size)
        self.stages = len(self.res)
        base = self.res[0]
        ch = stage_channels(width, self.stages)
        self.from_rgb = nn.ModuleList(nn.Sequential(EqualizedConv2d(channels, c, 1), _act()) for c in ch)
        blocks = [nn.Identity()]
        for s in range(1, self.stages):
            blocks.append(nn.Sequential(
                EqualizedConv2d(ch[s], ch[s], 3), _act(),
                EqualizedConv2d(ch[s], ch[s - 1], 3), _act(),
                nn.AvgPool2d(2),
            ))
        self.blocks = nn.ModuleList(blocks)
        extra = 1 if minibatch_std else 0
        self.last = nn.Sequential(
            *([MinibatchStd(group_size=4, num_features=1)] if minibatch_std else []),
            EqualizedConv2d(ch[0] + extra, ch[0], 3), _act(),
            nn.Flatten(),
            EqualizedLinear(ch[0] * base * base, ch[0]), _act(),
        )
        self.feature_dim = ch[0]
        self.head = EqualizedLinear(ch[0], 1, gain=1.0)

    def features(self, x: torch.Tensor, stage: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        stage = self.stages - 1 if stage is None else stage
        h = self.blocks[stage](self.from_rgb[stage](x))
        if stage > 0 and alpha < 1.0:
            h = _fade(self.from_rgb[stage - 1](F.avg_pool2d(x, 2)), h, alpha)
        for s in range(stage - 1, 0, -1):
            h = self.blocks[s](h)
        return self.last(h)

    def forward(self, x: torch.Tensor, stage: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        return self.head(self.features(x, stage, alpha)).squeeze(1)
