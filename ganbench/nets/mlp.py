"""MLP generator and discriminator for 2D point data.

Sizes follow the Dist-GAN toy code (tntrung/gan ``distgan_toy2d``: 2→128→128→128→out with ReLU);
the discriminator uses LeakyReLU(0.2) and honours ``d_norm`` and ``minibatch_std`` like the
DCGAN discriminator.
"""

from __future__ import annotations

import torch
from torch import nn

from ganbench.nets.layers import MinibatchStd, norm_layers, spectral
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
    """in -> [Linear, norm, LeakyReLU] × depth = ``features`` (``width`` wide) -> linear ``head``.

    ``norm``: ``bn`` (BatchNorm1d) or ``layer`` (LayerNorm) after every hidden linear layer
    but the first (as DCGAN's D: none on the input layer), ``spectral`` wraps every linear
    layer including the head, ``none`` adds nothing. ``minibatch_std`` appends one feature
    (the group std) before the last hidden linear layer.
    """

    def __init__(self, shape: tuple[int, ...], width: int = 128, depth: int = 3, norm: str = "none",
                 minibatch_std: bool = False):
        super().__init__()
        norm_layers(norm, width)  # rejects an unknown kind
        sn = norm == "spectral"
        layers: list[nn.Module] = []
        dim = shape[0]
        for i in range(depth):
            if minibatch_std and i == depth - 1:
                layers.append(MinibatchStd())
                dim += 1
            layers.append(spectral(nn.Linear(dim, width), sn))
            if i > 0:
                layers += norm_layers(norm, width)
            layers.append(_LeakyReLU())
            dim = width
        self.body = nn.Sequential(*layers)
        self.feature_dim = width
        self.head = spectral(nn.Linear(width, 1), sn)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(1)
