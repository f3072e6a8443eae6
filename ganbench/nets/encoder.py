"""Encoders E: x -> z for the auto-encoding GANs (Dist-GAN, GN-GAN).

- ``dcgan_e``: the mirror of ganbench's DCGAN discriminator (same 4×4 stride-2 conv stack,
  batch norm on every block but the first), ending in a linear layer to ``z_dim`` with no
  output activation, as the Dist-GAN encoders end in a plain FC layer (tntrung/gan ``modules/models_dcgan.py``).
  Activations are ReLU as in Dist-GAN's MNIST encoder (conv → ReLU → conv+BN+ReLU → … → FC d);
  the official encoder uses 5×5 convs and one more down-sampling block on 28×28 — ganbench
  mirrors its own discriminator instead, so E and D have the same receptive fields.
- ``mlp_e``: the Dist-GAN toy encoder 2→128→128→128→z_dim with ReLU (width configurable).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganbench.nets.dcgan import _base_size, dcgan_init
from ganbench.nets.mlp import _mlp
from ganbench.registry import NETS


@NETS.register("dcgan_e")
class DCGANEncoder(nn.Module):
    def __init__(self, shape: tuple[int, int, int], z_dim: int, width: int = 64):
        super().__init__()
        channels, size, _ = shape
        base = _base_size(size)
        n_down = int(math.log2(size // base))
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.ReLU(True)]
        ch = width
        for _ in range(n_down - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.ReLU(True)]
            ch *= 2
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(ch * base * base, z_dim)
        self.z_dim = z_dim
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@NETS.register("mlp_e")
class MLPEncoder(nn.Module):
    def __init__(self, shape: tuple[int, ...], z_dim: int, width: int = 128, depth: int = 3):
        super().__init__()
        self.z_dim = z_dim
        self.net = _mlp([shape[0]] + [width] * depth + [z_dim], nn.ReLU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
