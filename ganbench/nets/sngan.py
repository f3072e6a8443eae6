"""SN-GAN's networks: the "standard CNN" and the ResNet (Miyato et al. 2018).

Miyato, Kataoka, Koyama, Yoshida 2018, "Spectral Normalization for Generative Adversarial
Networks" (ICLR), Appendix B (Tables 3 and 4 of the arXiv version); the authors' code
pfnet-research/chainer-gan-lib (``common/net.py``) and pfnet-research/sngan_projection.

**Standard CNN** (families ``sngan_cnn_g`` / ``sngan_cnn_d``), with ``w = width`` (64 = the paper):

- G: z -> dense to b×b×8w -> [deconv 4×4 s2 -> BN -> ReLU] × 3 (8w->4w->2w->w) -> conv 3×3 s1 to C
  -> tanh, with b = image_size / 8: 4 for 32 px (CIFAR-10), 6 for 48 px (STL-10 at 48×48 as in
  the paper), 8 for 64 px (chainer-gan-lib's ``bottom_width = size // 8``). The dense layer is
  followed by BN and ReLU, as in the authors' chainer-gan-lib ``DCGANGenerator``.
- D: [conv 3×3 s1 (ch) -> conv 4×4 s2 (ch)] for ch = w, 2w, 4w, then conv 3×3 s1 8w -> dense 1;
  LeakyReLU(0.1) after every conv (the paper's table; chainer-gan-lib's
  ``SNDCGANDiscriminator`` doubles the channels at the strided convs instead and uses
  chainer's default slope 0.2).
- 28 px (MNIST, not in the paper): b = 7 and two up-samplings. G drops the first
  up-sampling: dense to 7×7×4w -> deconv 4w->2w (14) -> deconv 2w->w (28) -> conv 3×3 to C.
  D keeps all seven convs but the third stage does not down-sample (its conv 4×4 s2 becomes
  nothing; the stage is conv 3×3 4w only), so features are 8w×7×7.

**ResNet** (families ``resnet_g`` / ``resnet_d``): the CIFAR-10 ResNet of Appendix B
(pfnet-research/sngan_projection ``configs/sn_cifar10_unconditional.yml``: G ch 256, D ch 128),
``width`` scaling the channels (G ch = 4·width, D ch = 2·width; width 64 = the paper):

- G: z -> dense to b×b×ch -> 3 up-blocks (BN, ReLU, nearest ×2, conv3, BN, ReLU, conv3; shortcut
  nearest ×2 then conv1) -> BN -> ReLU -> conv3 to C -> tanh; b = 4 (32 px), 6 (48 px),
  8 (64 px, not in the paper), 7 (28 px: two up-blocks).
- D: optimised first block (conv3, ReLU, conv3, avg-pool 2; shortcut avg-pool then conv1),
  one down-block (ReLU, conv3, ReLU, conv3, avg-pool; shortcut conv1 then avg-pool), two plain
  blocks (identity shortcut), ReLU, global **sum** pooling, linear head.
- Departure: the paper's STL-10 ResNet is deeper (G 512 channels from 6×6, D with four
  down-blocks to 1024 channels); here 48 px (and 64 px, e.g. CelebA) use the CIFAR layout,
  so D's last map is a quarter of the image side (12×12 at 48 px, 16×16 at 64 px).

Initialisation: standard CNN N(0, 0.02) (chainer-gan-lib's ``Normal(0.02)``, as DCGAN);
ResNet Xavier-uniform with gain √2 inside the residual branches and 1 on shortcuts and
dense layers (sngan_projection's GlorotUniform choices).

Discriminator contract (``D(shape, width, norm, minibatch_std)``): ``norm`` is ``none | bn |
layer | spectral``; ``spectral`` wraps EVERY conv and linear layer (head included) in
:func:`ganbench.nets.layers.spectral`; ``bn`` / ``layer`` add a normalisation layer after every
conv but the first (standard CNN), or before every ReLU of the residual branches (ResNet).
``minibatch_std`` inserts :class:`~ganbench.nets.layers.MinibatchStd` before the last conv
(standard CNN) or the last block (ResNet). ``features(x)`` is the flattened last
conv map (standard CNN) or the sum-pooled vector (ResNet); ``head`` the final linear layer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.nets.dcgan import dcgan_init
from ganbench.nets.layers import FeatureHeadD, MinibatchStd, norm_layers, spectral
from ganbench.registry import NETS

_BASES = {28: 7, 32: 4, 48: 6, 64: 8}


def base_size(image_size: int) -> int:
    """The generator's first feature-map side for ``image_size`` (b in the module docstring)."""
    if image_size not in _BASES:
        raise ValueError(f"SN-GAN nets support {', '.join(map(str, _BASES))} px images, not {image_size}")
    return _BASES[image_size]


def _n_up(image_size: int, base: int) -> int:
    return int(round(math.log2(image_size // base)))


# --------------------------------------------------------------------------------------------
# standard CNN
# --------------------------------------------------------------------------------------------
@NETS.register("sngan_cnn_g")
class StandardCNNGenerator(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, int, int], width: int = 64):
        super().__init__()
        channels, size, _ = shape
        self.base = base_size(size)
        n_up = _n_up(size, self.base)
        self.top = width * 2 ** n_up  # 8w with three up-samplings, 4w with two (28 px)
        self.z_dim = z_dim
        self.project = nn.Sequential(
            nn.Linear(z_dim, self.top * self.base * self.base),
            nn.BatchNorm1d(self.top * self.base * self.base),
            nn.ReLU(True),
        )
        layers: list[nn.Module] = []
        ch = self.top
        for _ in range(n_up):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.Conv2d(ch, channels, 3, 1, 1), nn.Tanh()]
        self.blocks = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.project(z).view(-1, self.top, self.base, self.base))


@NETS.register("sngan_cnn_d")
class StandardCNNDiscriminator(FeatureHeadD):
    """Seven convs (LeakyReLU 0.1) -> flatten ``features`` -> linear ``head`` to one logit."""

    slope = 0.1

    def __init__(self, shape: tuple[int, int, int], width: int = 64, norm: str = "bn",
                 minibatch_std: bool = False):
        super().__init__()
        channels, size, _ = shape
        n_down = _n_up(size, base_size(size))
        sn = norm == "spectral"
        layers: list[nn.Module] = []
        ch_in, s, first = channels, size, True

        def conv(cin: int, cout: int, k: int, stride: int) -> None:
            nonlocal first, s
            s = s // stride
            layers.append(spectral(nn.Conv2d(cin, cout, k, stride, 1 if k in (3, 4) else 0), sn))
            if not first:
                layers.extend(norm_layers(norm, cout, s))
            layers.append(nn.LeakyReLU(self.slope, True))
            first = False

        for i, ch in enumerate((width, 2 * width, 4 * width)):
            conv(ch_in, ch, 3, 1)
            if i < n_down:
                conv(ch, ch, 4, 2)
            ch_in = ch
        if minibatch_std:
            layers.append(MinibatchStd())
            ch_in += 1
        conv(ch_in, 8 * width, 3, 1)
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.feature_dim = 8 * width * s * s
        self.head = spectral(nn.Linear(self.feature_dim, 1), sn)
        dcgan_init(self)


# --------------------------------------------------------------------------------------------
# ResNet
# --------------------------------------------------------------------------------------------
def resnet_init(module: nn.Module) -> None:
    """Xavier-uniform: gain √2 for 3×3 convs (residual branches), 1 for 1×1 shortcuts and dense."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            gain = math.sqrt(2.0) if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3) else 1.0
            weight = getattr(m, "weight_orig", m.weight)  # spectral_norm keeps the raw weight here
            nn.init.xavier_uniform_(weight, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class GBlock(nn.Module):
    """Generator residual block with ×2 nearest up-sampling (BN, ReLU, up, conv3, BN, ReLU, conv3)."""

    def __init__(self, cin: int, cout: int, sn: bool = False):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.conv1 = spectral(nn.Conv2d(cin, cout, 3, 1, 1), sn)
        self.conv2 = spectral(nn.Conv2d(cout, cout, 3, 1, 1), sn)
        self.shortcut = spectral(nn.Conv2d(cin, cout, 1), sn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class DBlock(nn.Module):
    """Discriminator residual block: [norm] ReLU conv3 [norm] ReLU conv3 [avg-pool 2].

    ``optimized`` is the first block of SN-GAN's D: no activation before the first conv, and
    the shortcut pools before its 1×1 conv. A plain block with ``cin == cout`` has the identity
    shortcut.
    """

    def __init__(self, cin: int, cout: int, size: int, norm: str, down: bool, optimized: bool = False):
        super().__init__()
        sn = norm == "spectral"
        self.down, self.optimized = down, optimized
        self.norm1 = nn.Identity() if optimized else nn.Sequential(*norm_layers(norm, cin, size))
        self.conv1 = spectral(nn.Conv2d(cin, cout, 3, 1, 1), sn)
        self.norm2 = nn.Sequential(*norm_layers(norm, cout, size))
        self.conv2 = spectral(nn.Conv2d(cout, cout, 3, 1, 1), sn)
        self.shortcut = spectral(nn.Conv2d(cin, cout, 1), sn) if (down or cin != cout) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.optimized else F.relu(self.norm1(x))
        h = self.conv2(F.relu(self.norm2(self.conv1(h))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.optimized:
            s = self.shortcut(F.avg_pool2d(s, 2))
        elif self.shortcut is not None:
            s = self.shortcut(s)
            if self.down:
                s = F.avg_pool2d(s, 2)
        return h + s


@NETS.register("resnet_g")
class ResNetGenerator(nn.Module):
    """z -> dense b×b×ch -> up-blocks -> BN, ReLU, conv3, tanh. ``attention_at``: a map side
    after whose block ``attention(ch)`` is inserted (SAGAN); ``sn``: SN on every layer (SAGAN)."""

    def __init__(self, z_dim: int, shape: tuple[int, int, int], width: int = 64, *,
                 sn: bool = False, attention_at: int | None = None, attention=None):
        super().__init__()
        channels, size, _ = shape
        self.base = base_size(size)
        self.ch = 4 * width
        self.z_dim = z_dim
        self.project = spectral(nn.Linear(z_dim, self.ch * self.base * self.base), sn)
        blocks: list[nn.Module] = []
        s = self.base
        for _ in range(_n_up(size, self.base)):
            blocks.append(GBlock(self.ch, self.ch, sn))
            s *= 2
            if s == attention_at:
                blocks.append(attention(self.ch))
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.Sequential(nn.BatchNorm2d(self.ch), nn.ReLU(True),
                                 spectral(nn.Conv2d(self.ch, channels, 3, 1, 1), sn), nn.Tanh())
        resnet_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.blocks(self.project(z).view(-1, self.ch, self.base, self.base)))


@NETS.register("resnet_d")
class ResNetDiscriminator(FeatureHeadD):
    """Optimised down-block, down-block, two plain blocks, ReLU, sum pooling, linear ``head``."""

    def __init__(self, shape: tuple[int, int, int], width: int = 64, norm: str = "bn",
                 minibatch_std: bool = False, *, attention_at: int | None = None, attention=None):
        super().__init__()
        channels, size, _ = shape
        base_size(size)
        ch = 2 * width
        blocks: list[nn.Module] = [DBlock(channels, ch, size, norm, down=True, optimized=True)]
        s = size // 2
        if s == attention_at:
            blocks.append(attention(ch))
        blocks.append(DBlock(ch, ch, s, norm, down=True))
        s //= 2
        if s == attention_at:
            blocks.append(attention(ch))
        blocks.append(DBlock(ch, ch, s, norm, down=False))
        if minibatch_std:
            blocks.append(MinibatchStd())
        blocks.append(DBlock(ch + int(minibatch_std), ch, s, norm, down=False))
        self.blocks = nn.Sequential(*blocks)
        self.feature_dim = ch
        self.head = spectral(nn.Linear(ch, 1), norm == "spectral")
        resnet_init(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.blocks(x)).sum(dim=(2, 3))
