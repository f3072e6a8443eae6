"""DCGAN generator and discriminator for 28×28 and 32×32 (and 64×64) images.

Radford et al. 2016 rules (§3, "architecture guidelines"; as in pytorch/examples
``dcgan/main.py``): strided convs in D and transposed convs in G, no pooling; BN in G except
the output layer; ReLU in G with a tanh output; LeakyReLU(0.2) in D; weights N(0, 0.02), BN
γ ~ N(1, 0.02).
For 28×28 the generator starts from 7×7 (two up-sampling blocks); for 32/64 from 4×4.
The discriminator's normalisation is a choice: ``bn`` (DCGAN), ``none`` or ``layer``
(WGAN-GP: no BN in the critic), ``spectral`` (SN-GAN: SN on every conv and the head);
``minibatch_std`` (Karras et al. 2018, §3) is an option. Packed inputs (PacGAN) are built by
the method; D is then constructed with m×C input channels.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganbench.nets.layers import FeatureHeadD, MinibatchStd, norm_layers, spectral
from ganbench.registry import NETS


def _base_size(image_size: int) -> int:
    if image_size == 28:
        return 7
    if image_size in (32, 64):
        return 4
    if image_size == 48:  # STL-10 at 48×48 (SN-GAN): 6×6 base, three up-samplings
        return 6
    raise ValueError(f"DCGAN nets support 28, 32, 48 or 64 px images, not {image_size}")


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation: conv/linear weights N(0, 0.02), BN γ ~ N(1, 0.02), β = 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


@NETS.register("dcgan_g")
class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, int, int], width: int = 64):
        super().__init__()
        channels, size, _ = shape
        base = _base_size(size)
        n_up = int(math.log2(size // base))
        top = width * 2 ** (n_up - 1)
        self.z_dim = z_dim
        self.project = nn.Sequential(
            nn.Linear(z_dim, top * base * base, bias=False),
            nn.BatchNorm1d(top * base * base),
            nn.ReLU(True),
        )
        self.top, self.base = top, base
        blocks: list[nn.Module] = []
        ch = top
        for _ in range(n_up - 1):
            blocks += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        blocks += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.blocks = nn.Sequential(*blocks)
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(-1, self.top, self.base, self.base)
        return self.blocks(h)


@NETS.register("dcgan_d")
class DCGANDiscriminator(FeatureHeadD):
    """Conv stack -> flattened features ``features(x)`` -> linear ``head`` to one logit.

    ``norm`` follows every conv but the first (DCGAN: no BN on D's input layer); ``spectral``
    wraps every conv and the head instead. ``minibatch_std`` adds one feature map (the group
    std, :class:`ganbench.nets.layers.MinibatchStd`) before the last conv block.
    """

    def __init__(self, shape: tuple[int, int, int], width: int = 64, norm: str = "bn",
                 minibatch_std: bool = False):
        super().__init__()
        channels, size, _ = shape
        base = _base_size(size)
        n_down = int(math.log2(size // base))
        sn = norm == "spectral"
        norm_layers(norm, width)  # rejects an unknown kind
        layers: list[nn.Module] = [spectral(nn.Conv2d(channels, width, 4, 2, 1), sn), nn.LeakyReLU(0.2, True)]
        ch, s = width, size // 2
        for i in range(n_down - 1):
            extra = 0
            if minibatch_std and i == n_down - 2:
                layers.append(MinibatchStd())
                extra = 1
            s //= 2
            layers += [spectral(nn.Conv2d(ch + extra, ch * 2, 4, 2, 1), sn), *norm_layers(norm, ch * 2, s),
                       nn.LeakyReLU(0.2, True)]
            ch *= 2
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.feature_dim = ch * base * base
        self.head = spectral(nn.Linear(self.feature_dim, 1), sn)
        dcgan_init(self)
