"""The three cGML networks: condition encoder H, decoder G(H(x), z), latent updater Z.

Interfaces (shared by the MLP and the conv variants, used by :mod:`ganbench.methods.cgml`):
- ``H(x) -> h``, a tuple of tensors (one vector for MLPs; the encoder's feature maps at
  28, 14 and 7 px for images, which G uses as U-Net skips);
- ``G(h, z) -> ŷ`` with the target's shape;
- ``Z(h, z) -> (r′, ρ)``: r′ a predicted next latent (N×z_dim), ρ ≥ 0 a step size (N),
  ρ = sigmoid(·) as in a third-party student reimplementation of the paper's toy task.

Sizes: MLPs of width 256 for the toy task (as that reimplementation); the
depths (H: 2 hidden layers, G: 3, Z: 2) and the LeakyReLU(0.2) activations are ours (with
ReLU, toy3d runs collapsed now and then to the mean of the branches and recovered slowly).
The image nets are ours (a third-party reading note on the paper only says "U-Net-like
encoder/decoder with skips", unverified against the paper): strided 4×4 convs down to 7×7,
transposed convs back up, skips from H at every scale, and z broadcast as extra channels at
every scale of G so that the latent can change fine detail (the bar). There is no batch
norm anywhere: the inner latent optimisation must treat every example independently.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganbench.registry import NETS

H = tuple[torch.Tensor, ...]


def _mlp(dims: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


def _split_rho(out: torch.Tensor, z_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    return out[:, :z_dim], torch.sigmoid(out[:, z_dim])


# ---------------------------------------------------------------------------------------------
# MLPs (toy3d and any small flat condition/target)

@NETS.register("cgml_mlp_h")
class MLPEncoder(nn.Module):
    def __init__(self, cond_shape: tuple[int, ...], width: int = 256):
        super().__init__()
        self.net = _mlp([math.prod(cond_shape), width, width, width])

    def forward(self, x: torch.Tensor) -> H:
        return (self.net(x.flatten(1)),)


@NETS.register("cgml_mlp_g")
class MLPDecoder(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, ...], width: int = 256):
        super().__init__()
        self.shape = tuple(shape)
        self.net = _mlp([width + z_dim, width, width, width, math.prod(shape)])

    def forward(self, h: H, z: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([h[0], z], dim=1)).reshape(-1, *self.shape)


@NETS.register("cgml_mlp_z")
class MLPLatentUpdater(nn.Module):
    def __init__(self, z_dim: int, width: int = 256):
        super().__init__()
        self.z_dim = z_dim
        self.net = _mlp([width + z_dim, width, width, z_dim + 1])

    def forward(self, h: H, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return _split_rho(self.net(torch.cat([h[0], z], dim=1)), self.z_dim)


# ---------------------------------------------------------------------------------------------
# Small conv nets for 1×28×28 conditions and targets (mnist_bar)

def _act() -> nn.Module:
    return nn.LeakyReLU(0.2)


def _with_z(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Concatenate z, broadcast over the spatial grid, as extra channels of ``t``."""
    return torch.cat([t, z[:, :, None, None].expand(-1, -1, t.shape[2], t.shape[3])], dim=1)


@NETS.register("cgml_conv_h")
class ConvEncoder(nn.Module):
    def __init__(self, cond_shape: tuple[int, int, int], width: int = 16):
        super().__init__()
        c = width
        self.e1 = nn.Sequential(nn.Conv2d(cond_shape[0], c, 3, 1, 1), _act())  # 28
        self.e2 = nn.Sequential(nn.Conv2d(c, 2 * c, 4, 2, 1), _act())  # 14
        self.e3 = nn.Sequential(nn.Conv2d(2 * c, 4 * c, 4, 2, 1), _act())  # 7

    def forward(self, x: torch.Tensor) -> H:
        f1 = self.e1(x)
        f2 = self.e2(f1)
        return f1, f2, self.e3(f2)


@NETS.register("cgml_conv_g")
class ConvDecoder(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, int, int], width: int = 16):
        super().__init__()
        c = width
        self.d3 = nn.Sequential(nn.Conv2d(4 * c + z_dim, 4 * c, 3, 1, 1), _act())
        self.up2 = nn.Sequential(nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1), _act())
        self.d2 = nn.Sequential(nn.Conv2d(4 * c + z_dim, 2 * c, 3, 1, 1), _act())
        self.up1 = nn.Sequential(nn.ConvTranspose2d(2 * c, c, 4, 2, 1), _act())
        self.d1 = nn.Sequential(nn.Conv2d(2 * c + z_dim, c, 3, 1, 1), _act(),
                                nn.Conv2d(c, shape[0], 3, 1, 1), nn.Tanh())

    def forward(self, h: H, z: torch.Tensor) -> torch.Tensor:
        f1, f2, f3 = h
        t = self.d3(_with_z(f3, z))
        t = self.d2(_with_z(torch.cat([self.up2(t), f2], dim=1), z))
        return self.d1(_with_z(torch.cat([self.up1(t), f1], dim=1), z))


@NETS.register("cgml_conv_z")
class ConvLatentUpdater(nn.Module):
    def __init__(self, z_dim: int, width: int = 16):
        super().__init__()
        c = width
        self.z_dim = z_dim
        self.conv = nn.Sequential(nn.Conv2d(4 * c + z_dim, 2 * c, 3, 1, 1), _act(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(2 * c + z_dim, 4 * c), _act(), nn.Linear(4 * c, z_dim + 1))

    def forward(self, h: H, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat = self.conv(_with_z(h[-1], z))
        return _split_rho(self.head(torch.cat([feat, z], dim=1)), self.z_dim)
