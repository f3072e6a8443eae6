"""MLP generator and discriminator for 2D point data.

Sizes follow the Dist-GAN toy code (methods_spec.md §1.1: 2→128→128→128→out with ReLU);
the discriminator uses LeakyReLU(0.2).
"""

from __future__ import annotations

import torch
from torch import nn

from ganbench.registry import NETS


def _mlp(dims: list[int], act: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


@NETS.register("mlp_g")
class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, ...], width: int = 128, depth: int = 3):
        super().__init__()
        self.z_dim = z_dim
        self.net = _mlp([z_dim] + [width] * depth + [shape[0]], nn.ReLU)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class _LeakyReLU(nn.LeakyReLU):
    def __init__(self):
        super().__init__(0.2)


@NETS.register("mlp_d")
class MLPDiscriminator(nn.Module):
    def __init__(self, shape: tuple[int, ...], width: int = 128, depth: int = 3, norm: str = "none"):
        super().__init__()
        self.body = _mlp([shape[0]] + [width] * depth, _LeakyReLU)
        self.body.append(_LeakyReLU())
        self.feature_dim = width
        self.head = nn.Linear(width, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(1)
