"""Class-conditional generators and discriminators (cGAN, AC-GAN, projection), 28 and 32 px.

The three ways a class label y ∈ {0..K−1} enters the networks, each built around an existing
net family (``dcgan``, ``sngan_cnn``, ``resnet``, ``infogan``: ``NETS[f"{family}_g"]`` /
``NETS[f"{family}_d"]``), so that ``net``, ``width``, ``d_norm`` (spectral included) and
``minibatch_std`` mean what they mean for the unconditional methods:

- ``cond_concat_g`` (cGAN, AC-GAN; Mirza & Osindero 2014, §4.1: "y … fed into both the
  discriminator and generator as additional input layer"): G(z, y) = G_family([z, onehot(y)]),
  the family's generator built for a (z_dim + K)-dimensional input.
- ``cond_maps_d`` (cGAN): D(x, y) = D_family([x, maps(y)]): the one-hot y enters D at its
  **input**, as K constant feature maps (map k is 1 everywhere when y = k, else 0) concatenated
  to the image's channels, so D's first convolution sees the label at every position — the
  convolutional form of the paper's MLP, which joins y to D's input vector. (An embedding
  concatenated to a hidden layer is the other common form; the input form needs no choice of
  layer and works for every family.)
- ``acgan_d`` (Odena et al. 2017, §3): D(x) = (source logit, class logits): the family's body
  φ(x), its linear source head, and a second linear head to K class logits on the same φ(x).
  D does not see y.
- ``projection_d`` (Miyato & Koyama 2018, eq. 3 and Fig. 1): D(x, y) = ψ(φ(x)) + ⟨V_y, φ(x)⟩,
  with φ the family's body (the ResNet's sum-pooled features, as in the paper; the flattened
  last map for the DCGAN-style bodies), ψ the family's linear head and V a K × dim φ embedding
  (Xavier-uniform initialisation as the authors' ``SNEmbedID``), spectrally normalised with the
  rest of D when ``norm="spectral"`` (the paper: SN on every layer of D, V included).
- ``cbn_resnet_g`` (Miyato & Koyama 2018, §5: the generator of SN-GAN's ResNet with
  class-conditional batch norm): :class:`~ganbench.nets.sngan.ResNetGenerator`'s layout with
  every block's two BN layers replaced by :class:`~ganbench.nets.conditional_norm.ConditionalBatchNorm2d`
  (one γ/β row per class); the BN before the output convolution stays unconditional (as the
  authors' ``ResNetGenerator``).
- ``cbn_dcgan_g``: the same idea on :class:`~ganbench.nets.dcgan.DCGANGenerator`'s layout (a
  CPU-sized projection G; not in the paper). Departure from the DCGAN G: the BN after the first
  linear layer is a conditional BN2d over the reshaped b×b map (per channel) instead of a BN1d
  per unit.

Every G here takes ``forward(z, y)``; ``cond_maps_d`` and ``projection_d`` take ``forward(x, y)``;
``acgan_d`` takes ``forward(x)`` and returns ``(source [N], class_logits [N, K])``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.nets.conditional_norm import ConditionalBatchNorm2d
from ganbench.nets.dcgan import _base_size
from ganbench.nets.layers import spectral
from ganbench.nets.sngan import base_size as resnet_base_size, resnet_init, _n_up
from ganbench.registry import NETS


def one_hot(y: torch.Tensor, num_classes: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[N] int64 class indices -> [N, K] one-hot rows of ``dtype``."""
    if y.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"class labels must be integer indices, got {y.dtype}")
    return F.one_hot(y.long(), num_classes).to(dtype)


def _init_new(layer: nn.Module, family: str) -> None:
    """Initialises a layer added to a family's net the way that family initialises its own:
    Xavier-uniform for the ResNet (sngan_projection's GlorotUniform), N(0, 0.02) otherwise (DCGAN)."""
    weight = getattr(layer, "weight_orig", layer.weight)
    if family == "resnet":
        nn.init.xavier_uniform_(weight)
    else:
        nn.init.normal_(weight, 0.0, 0.02)
    if getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)


def _family_d(family: str, shape, width: int, norm: str, minibatch_std: bool) -> nn.Module:
    d = NETS.get(f"{family}_d")(tuple(shape), width=width, norm=norm, minibatch_std=minibatch_std)
    if not (hasattr(d, "features") and hasattr(d, "head") and hasattr(d, "feature_dim")):
        raise ValueError(f"net family {family!r}: its discriminator has no features/head to condition")
    return d


@NETS.register("cond_concat_g")
class ConcatConditionalGenerator(nn.Module):
    """G(z, y) = G_family([z, onehot(y)]) (Mirza & Osindero 2014)."""

    def __init__(self, family: str, z_dim: int, shape, num_classes: int, width: int = 64):
        super().__init__()
        self.num_classes, self.z_dim = num_classes, z_dim
        self.net = NETS.get(f"{family}_g")(z_dim + num_classes, tuple(shape), width=width)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, one_hot(y, self.num_classes, z.dtype)], dim=1))


@NETS.register("cond_maps_d")
class MapsConditionalDiscriminator(nn.Module):
    """D(x, y) = D_family([x, K constant one-hot maps]) (the label joined to D's input)."""

    def __init__(self, family: str, shape, num_classes: int, width: int = 64, norm: str = "bn",
                 minibatch_std: bool = False):
        super().__init__()
        channels, *hw = shape
        self.num_classes = num_classes
        self.net = _family_d(family, (channels + num_classes, *hw), width, norm, minibatch_std)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        maps = one_hot(y, self.num_classes, x.dtype)[:, :, None, None].expand(n, self.num_classes, h, w)
        return self.net(torch.cat([x, maps], dim=1))


@NETS.register("acgan_d")
class AuxiliaryClassifierDiscriminator(nn.Module):
    """φ(x) -> (source logit, K class logits) (Odena et al. 2017)."""

    def __init__(self, family: str, shape, num_classes: int, width: int = 64, norm: str = "bn",
                 minibatch_std: bool = False):
        super().__init__()
        self.net = _family_d(family, shape, width, norm, minibatch_std)
        self.classifier = nn.Linear(self.net.feature_dim, num_classes)
        _init_new(self.classifier, family)
        self.classifier = spectral(self.classifier, norm == "spectral")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        phi = self.net.features(x)
        return self.net.head(phi).squeeze(1), self.classifier(phi)


@NETS.register("projection_d")
class ProjectionDiscriminator(nn.Module):
    """D(x, y) = ψ(φ(x)) + ⟨V_y, φ(x)⟩ (Miyato & Koyama 2018, eq. 3)."""

    def __init__(self, family: str, shape, num_classes: int, width: int = 64, norm: str = "spectral",
                 minibatch_std: bool = False):
        super().__init__()
        self.net = _family_d(family, shape, width, norm, minibatch_std)
        self.embed = nn.Embedding(num_classes, self.net.feature_dim)
        _init_new(self.embed, "resnet")  # Xavier-uniform, the authors' choice for V
        self.embed = spectral(self.embed, norm == "spectral")

    def projection(self, phi: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The class term yᵀVφ(x) = ⟨V_y, φ(x)⟩ for each sample."""
        return (self.embed(y) * phi).sum(dim=1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        phi = self.net.features(x)
        return self.net.head(phi).squeeze(1) + self.projection(phi, y)


class _CBNGBlock(nn.Module):
    """SN-GAN's generator residual block with class-conditional BN (CBN, ReLU, up, conv3, CBN, ReLU, conv3)."""

    def __init__(self, cin: int, cout: int, num_classes: int):
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(cin, num_classes=num_classes)
        self.bn2 = ConditionalBatchNorm2d(cout, num_classes=num_classes)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


@NETS.register("cbn_resnet_g")
class CBNResNetGenerator(nn.Module):
    """z -> dense b×b×4w -> CBN up-blocks -> BN, ReLU, conv3, tanh (Miyato & Koyama 2018's G)."""

    def __init__(self, z_dim: int, shape, num_classes: int, width: int = 64):
        super().__init__()
        channels, size, _ = shape
        self.base = resnet_base_size(size)
        self.ch = 4 * width
        self.z_dim, self.num_classes = z_dim, num_classes
        self.project = nn.Linear(z_dim, self.ch * self.base * self.base)
        self.blocks = nn.ModuleList(_CBNGBlock(self.ch, self.ch, num_classes)
                                    for _ in range(_n_up(size, self.base)))
        self.out = nn.Sequential(nn.BatchNorm2d(self.ch), nn.ReLU(True),
                                 nn.Conv2d(self.ch, channels, 3, 1, 1), nn.Tanh())
        resnet_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(-1, self.ch, self.base, self.base)
        for block in self.blocks:
            h = block(h, y)
        return self.out(h)


@NETS.register("cbn_dcgan_g")
class CBNDCGANGenerator(nn.Module):
    """The DCGAN generator's layout with every BN class-conditional."""

    def __init__(self, z_dim: int, shape, num_classes: int, width: int = 64):
        super().__init__()
        channels, size, _ = shape
        self.base = _base_size(size)
        n_up = int(math.log2(size // self.base))
        self.top = width * 2 ** (n_up - 1)
        self.z_dim, self.num_classes = z_dim, num_classes
        self.project = nn.Linear(z_dim, self.top * self.base * self.base, bias=False)
        self.norms = nn.ModuleList([ConditionalBatchNorm2d(self.top, num_classes=num_classes)])
        self.convs = nn.ModuleList()
        ch = self.top
        for _ in range(n_up - 1):
            self.convs.append(nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False))
            self.norms.append(ConditionalBatchNorm2d(ch // 2, num_classes=num_classes))
            ch //= 2
        self.to_image = nn.ConvTranspose2d(ch, channels, 4, 2, 1)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.ConvTranspose2d)):
                _init_new(m, "dcgan")

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norms[0](self.project(z).view(-1, self.top, self.base, self.base), y))
        for conv, norm in zip(self.convs, self.norms[1:]):
            h = F.relu(norm(conv(h), y))
        return torch.tanh(self.to_image(h))
