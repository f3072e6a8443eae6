"""The per-level networks of LAPGAN (Denton, Chintala, Szlam & Fergus 2015, "Deep Generative
Image Models using a Laplacian Pyramid of Adversarial Networks", §3.2 and §4 "Model
architecture"; layer sizes from the authors' code, facebookarchive/eyescream,
cifar/scripts/train_cifar*.lua).

- Coarsest level (an unconditional GAN on the small low-pass image, 7×7 or 8×8):
  G: z -> 8·width -> 8·width -> C·s·s, ReLU hidden units, linear output (eyescream's MLP uses
  a sigmoid on its second hidden layer; ReLU here). D: C·s·s -> 8·width -> 8·width -> 1 with
  ReLU and dropout 0.5 after each hidden layer.
- Finer levels (conditional GANs on the residual h_k given l_k = u(I_{k+1})):
  G: [one plane of noise, l_k] (the noise as an extra colour plane, §4) -> 7×7 conv ``width``
  -> ReLU -> 7×7 conv ``width`` -> ReLU -> 5×5 conv C, linear output, "same" padding.
  D: input h + l (the low-pass image is added to the residual before the first convolution,
  §3.2) -> 5×5 conv ``width`` -> ReLU -> 5×5 conv stride 2 ``width`` -> ReLU -> dropout 0.5 ->
  dense -> 1 logit (the sigmoid lives in the loss).
Both discriminators honour ``norm`` (``none`` as in the paper, ``bn``, ``layer``, ``spectral``
on every conv/linear layer incl. the head) and ``minibatch_std`` (before the last layer).
"""

from __future__ import annotations

import torch
from torch import nn

from ganbench.nets.layers import MinibatchStd, norm_layers, spectral


class CoarseGenerator(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, int, int], width: int = 128):
        super().__init__()
        self.shape = tuple(shape)
        hidden = 8 * width
        out = shape[0] * shape[1] * shape[2]
        self.net = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, out))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.shape)


class CoarseDiscriminator(nn.Module):
    def __init__(self, shape: tuple[int, int, int], width: int = 128, norm: str = "none",
                 minibatch_std: bool = False):
        super().__init__()
        sn = norm == "spectral"
        hidden = 8 * width
        inp = shape[0] * shape[1] * shape[2]
        layers: list[nn.Module] = [nn.Flatten(), spectral(nn.Linear(inp, hidden), sn), *norm_layers(norm, hidden),
                                   nn.ReLU(), nn.Dropout(0.5),
                                   spectral(nn.Linear(hidden, hidden), sn), *norm_layers(norm, hidden),
                                   nn.ReLU(), nn.Dropout(0.5)]
        if minibatch_std:
            layers.append(MinibatchStd())
        self.body = nn.Sequential(*layers)
        self.feature_dim = hidden + (1 if minibatch_std else 0)
        self.head = spectral(nn.Linear(self.feature_dim, 1), sn)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(1)


class ResidualGenerator(nn.Module):
    """h̃ = G(z, l): noise plane and the upsampled coarser image in, a residual image out."""

    def __init__(self, shape: tuple[int, int, int], width: int = 128):
        super().__init__()
        c = shape[0]
        self.net = nn.Sequential(
            nn.Conv2d(c + 1, width, 7, padding=3), nn.ReLU(),
            nn.Conv2d(width, width, 7, padding=3), nn.ReLU(),
            nn.Conv2d(width, c, 5, padding=2),
        )

    def forward(self, noise: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([noise, low], dim=1))


class ResidualDiscriminator(nn.Module):
    """D(h, l): one logit for the image l + h (real residual or generated)."""

    def __init__(self, shape: tuple[int, int, int], width: int = 128, norm: str = "none",
                 minibatch_std: bool = False):
        super().__init__()
        c, size, _ = shape
        sn = norm == "spectral"
        s1 = size - 4
        s2 = (s1 - 5) // 2 + 1
        if s2 < 1:
            raise ValueError(f"LAPGAN residual discriminator needs images of at least 13 px, not {size}")
        layers: list[nn.Module] = [spectral(nn.Conv2d(c, width, 5), sn), *norm_layers(norm, width, s1), nn.ReLU(),
                                   spectral(nn.Conv2d(width, width, 5, stride=2), sn), *norm_layers(norm, width, s2),
                                   nn.ReLU()]
        if minibatch_std:
            layers.append(MinibatchStd())
        extra = 1 if minibatch_std else 0
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Dropout(0.5))
        self.feature_dim = (width + extra) * s2 * s2
        self.head = spectral(nn.Linear(self.feature_dim, 1), sn)

    def features(self, residual: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        return self.body(residual + low)

    def forward(self, residual: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(residual, low)).squeeze(1)
