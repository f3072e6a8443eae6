"""Networks of the translation family (CycleGAN, DualGAN, DiscoGAN) at 28–32 px.

:class:`Translator` — an image-to-image encoder–decoder, Johnson et al. 2016's layout as
CycleGAN uses it (§4 and appendix 7.2: c7s1-k, two stride-2 down convolutions, residual
blocks, two stride-1/2 up convolutions, c7s1-3 with tanh), scaled to 28–32 px::

    conv 7×7 s1 C→w, norm, ReLU
    conv 4×4 s2 w→2w, norm, ReLU          (S → S/2)
    conv 4×4 s2 2w→4w, norm, ReLU         (S/2 → S/4: 7×7 at 28 px, 8×8 at 32 px)
    n_res × [conv 3×3 → norm → ReLU → conv 3×3 → norm, + skip]
    convT 4×4 s2 4w→2w, norm, ReLU
    convT 4×4 s2 2w→w, norm, ReLU
    conv 7×7 s1 w→C, tanh

``n_res = 0`` gives a plain conv/deconv encoder–decoder (DiscoGAN's generator, §3 "Network
architecture"). Reflection padding is used around the 7×7 and 3×3 convolutions (as CycleGAN);
``norm`` is ``instance`` (CycleGAN), ``batch`` (DiscoGAN, DualGAN) or ``none``.

:class:`PatchDiscriminator` — a PatchGAN-like critic (Isola et al. 2017, used by CycleGAN and
DualGAN with 70×70 receptive fields on 256 px images; here three 4×4 layers)::

    conv 4×4 s2 C→w, LeakyReLU 0.2                       (no norm on the first layer)
    conv 4×4 s2 w→2w, norm, LeakyReLU 0.2
    conv 3×3 s1 2w→4w, norm, LeakyReLU 0.2
    conv 3×3 s1 4w→1                                     -> N×1×S/4×S/4 patch scores

With ``patch=False`` the last layer is instead a linear map of the flattened 4w×S/4×S/4
features to one score (a DCGAN-like global D, as DiscoGAN's). Weights are drawn
N(0, 0.02) (CycleGAN's and DCGAN's initialisation), norm scales N(1, 0.02).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Norm = Literal["instance", "batch", "none"]


def _norm(kind: str, channels: int) -> list[nn.Module]:
    if kind == "instance":
        return [nn.InstanceNorm2d(channels, affine=True)]
    if kind == "batch":
        return [nn.BatchNorm2d(channels)]
    if kind == "none":
        return []
    raise ValueError(f"unknown norm {kind!r} (use instance, batch or none)")


def init_weights(module: nn.Module) -> None:
    """Conv/linear weights N(0, 0.02), biases 0; norm scales N(1, 0.02), shifts 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _check_side(side: int) -> None:
    if side % 4:
        raise ValueError(f"translation nets need a side divisible by 4 (28, 32, ...), not {side}")


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), *_norm(norm, channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), *_norm(norm, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Translator(nn.Module):
    """C×S×S images in [−1, 1] -> C×S×S images in [−1, 1] (see the module docstring)."""

    def __init__(self, shape: tuple[int, int, int], width: int = 32, n_res: int = 2, norm: str = "instance"):
        super().__init__()
        channels, side, _ = shape
        _check_side(side)
        w = width
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(channels, w, 7), *_norm(norm, w), nn.ReLU(True),
                                   nn.Conv2d(w, 2 * w, 4, 2, 1), *_norm(norm, 2 * w), nn.ReLU(True),
                                   nn.Conv2d(2 * w, 4 * w, 4, 2, 1), *_norm(norm, 4 * w), nn.ReLU(True)]
        layers += [ResidualBlock(4 * w, norm) for _ in range(n_res)]
        layers += [nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1), *_norm(norm, 2 * w), nn.ReLU(True),
                   nn.ConvTranspose2d(2 * w, w, 4, 2, 1), *_norm(norm, w), nn.ReLU(True),
                   nn.ReflectionPad2d(3), nn.Conv2d(w, channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """C×S×S images -> N×1×S/4×S/4 patch scores, or N×1 with ``patch=False`` (raw, no sigmoid)."""

    def __init__(self, shape: tuple[int, int, int], width: int = 32, norm: str = "instance", patch: bool = True):
        super().__init__()
        channels, side, _ = shape
        _check_side(side)
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(channels, w, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(w, 2 * w, 4, 2, 1), *_norm(norm, 2 * w), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * w, 4 * w, 3, 1, 1), *_norm(norm, 4 * w), nn.LeakyReLU(0.2, True))
        quarter = side // 4
        self.head = (nn.Conv2d(4 * w, 1, 3, 1, 1) if patch
                     else nn.Sequential(nn.Flatten(), nn.Linear(4 * w * quarter * quarter, 1)))
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
