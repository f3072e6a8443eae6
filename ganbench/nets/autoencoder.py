"""Auto-encoder discriminators for the energy-based GANs (EBGAN, BEGAN).

The discriminator of EBGAN (Zhao et al. 2017, §2.3) and BEGAN (Berthelot et al. 2017, §3.1) is
an auto-encoder ``x -> Enc(x) = h -> Dec(h)``; the methods score a sample by its
reconstruction error. ``forward(x)`` returns ``(reconstruction, code)``: the code is what
EBGAN's pulling-away term compares.

- ``conv_ae`` (images, 28×28 / 32×32 / 64×64): the encoder is ganbench's DCGAN discriminator
  stack (4×4 stride-2 convs down to 7×7 or 4×4, ``width`` channels doubling per block) followed
  by a linear layer to the ``code_dim``-d code h; the decoder mirrors it (linear to the 7×7 or
  4×4 map, 4×4 stride-2 transposed convs halving the channels) and ends in a linear output
  (no tanh: a reconstruction may overshoot [-1, 1], so the error of a bad sample is not capped).
  Departure from BEGAN's own nets (3×3 conv pairs per scale, stride-2 subsampling, nearest-
  neighbour up-sampling): the strided DCGAN blocks are used for both methods, so the two
  differ only in their losses, activation and normalisation.
- ``mlp_ae`` (points): d -> width -> width -> code_dim -> width -> width -> d.

``act``: ``elu`` (BEGAN), ``leaky_relu`` (0.2; EBGAN's encoder and ganbench's D) or ``relu``.
``norm`` is the discriminator normalisation of every hidden block of encoder and decoder
(``none | bn | layer | spectral``, see :mod:`ganbench.nets.layers`); not after the first conv
(DCGAN rule) nor on the code or the output. ``spectral`` wraps every conv and linear layer.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganbench.nets.dcgan import _base_size, dcgan_init
from ganbench.nets.layers import norm_layers, spectral
from ganbench.registry import NETS

ACTIVATIONS = {"elu": nn.ELU, "relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2)}


def _act(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r} (use one of {', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[name]()


@NETS.register("conv_ae")
class ConvAutoEncoder(nn.Module):
    def __init__(self, shape: tuple[int, int, int], width: int = 64, code_dim: int = 64,
                 norm: str = "none", act: str = "elu"):
        super().__init__()
        channels, size, _ = shape
        base = _base_size(size)
        n_down = int(math.log2(size // base))
        sn = norm == "spectral"
        enc: list[nn.Module] = [spectral(nn.Conv2d(channels, width, 4, 2, 1), sn), _act(act)]
        ch, s = width, size // 2
        for _ in range(n_down - 1):
            s //= 2
            enc += [spectral(nn.Conv2d(ch, ch * 2, 4, 2, 1), sn), *norm_layers(norm, ch * 2, s), _act(act)]
            ch *= 2
        self.top, self.base, self.code_dim = ch, base, code_dim
        self.encoder = nn.Sequential(*enc, nn.Flatten(), spectral(nn.Linear(ch * base * base, code_dim), sn))
        self.project = nn.Sequential(spectral(nn.Linear(code_dim, ch * base * base), sn), _act(act))
        dec: list[nn.Module] = []
        for _ in range(n_down - 1):
            s *= 2
            dec += [spectral(nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1), sn), *norm_layers(norm, ch // 2, s),
                    _act(act)]
            ch //= 2
        dec.append(spectral(nn.ConvTranspose2d(ch, channels, 4, 2, 1), sn))
        self.decoder = nn.Sequential(*dec)
        dcgan_init(self)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.project(h).view(-1, self.top, self.base, self.base))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encode(x)
        return self.decode(h), h


@NETS.register("mlp_ae")
class MLPAutoEncoder(nn.Module):
    def __init__(self, shape: tuple[int, ...], width: int = 128, code_dim: int = 8,
                 norm: str = "none", act: str = "leaky_relu"):
        super().__init__()
        d = shape[0]
        sn = norm == "spectral"

        def block(a: int, b: int) -> list[nn.Module]:
            return [spectral(nn.Linear(a, b), sn), *norm_layers(norm, b), _act(act)]

        self.code_dim = code_dim
        self.encoder = nn.Sequential(*block(d, width), *block(width, width), spectral(nn.Linear(width, code_dim), sn))
        self.decoder = nn.Sequential(*block(code_dim, width), *block(width, width), spectral(nn.Linear(width, d), sn))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        return self.decoder(h)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encode(x)
        return self.decode(h), h
