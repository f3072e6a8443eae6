"""InfoGAN-style generator and discriminator, as Lucic et al. 2018 used them on MNIST/Fashion-MNIST.

Lucic, Kurach, Michalski, Gelly, Bousquet 2018, "Are GANs Created Equal? A Large-Scale Study"
(NeurIPS), compared every loss on one architecture per data set; on MNIST and Fashion-MNIST it
is the InfoGAN one (Chen et al. 2016, "InfoGAN", Appendix C.1, the MNIST nets). The layers below
follow the study's own code, google/compare_gan ``compare_gan/architectures/infogan.py``
(commit 25c4945), with width w = 64 and an H×W×C image:

- G: z -> FC 16w (= 1024) -> BN -> lReLU -> FC 2w·(H/4)·(W/4) (= 128·7·7) -> BN -> lReLU ->
  reshape 2w×H/4×W/4 -> 4×4 transposed conv, stride 2, w (= 64) -> BN -> lReLU -> 4×4
  transposed conv, stride 2, C -> sigmoid;
- D: 4×4 conv, stride 2, w -> lReLU -> 4×4 conv, stride 2, 2w -> norm -> lReLU -> flatten ->
  FC 16w -> norm -> lReLU (these 16w values are ``features(x)``) -> FC 1 (``head``, a logit).

lReLU has slope 0.2 (compare_gan's ``lrelu``). The generator's latent size comes from the
method (the lucic2018 suite sets z = 64, the study's value).

Departures, all deliberate:
- G's output is ``tanh(x/2) = 2·sigmoid(x) − 1`` instead of ``sigmoid(x)``: ganbench's images
  live in [-1, 1]; this is the study's sigmoid output rescaled, not another non-linearity.
- D's normalisation is the ``d_norm`` option of the shared contract (``bn``, the default here as
  in compare_gan's batch-norm setting; ``none``, ``layer`` or ``spectral``, which wraps every conv,
  FC and the head); compare_gan selects it the same way (its ``discriminator_normalization``).
  ``minibatch_std`` inserts :class:`~ganbench.nets.layers.MinibatchStd` before the second conv.
  Caveat for ``bn``: compare_gan runs D once on real and generated images concatenated, while
  ganbench's methods call D on each batch separately; BN then normalises each batch on its own,
  and after the FC layer that erases the real/fake mean difference (D barely learns: see
  ``suites/lucic2018.yaml``, which uses ``d_norm: none``).
- Initialisation is DCGAN's N(0, 0.02) for every weight, zero biases, BN γ ~ N(1, 0.02); the
  study's TF code draws conv/deconv weights from N(0, 0.02) too (its ``arch_ops``), but its
  initialiser of the FC layers was not checked here.
- Any H, W divisible by 4 is accepted (28 for MNIST/Fashion-MNIST, 7×7 after the FC layer).
"""

from __future__ import annotations

import torch
from torch import nn

from ganbench.nets.dcgan import dcgan_init
from ganbench.nets.layers import FeatureHeadD, MinibatchStd, norm_layers, spectral
from ganbench.registry import NETS

SLOPE = 0.2


def _check_size(shape: tuple[int, int, int]) -> tuple[int, int, int]:
    channels, h, w = shape
    if h % 4 or w % 4:
        raise ValueError(f"InfoGAN nets need image sides divisible by 4, got {h}×{w}")
    return channels, h, w


@NETS.register("infogan_g")
class InfoGANGenerator(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, int, int], width: int = 64):
        super().__init__()
        channels, h, w = _check_size(shape)
        self.z_dim = z_dim
        self.grid = (2 * width, h // 4, w // 4)
        self.fc = nn.Sequential(
            nn.Linear(z_dim, 16 * width), nn.BatchNorm1d(16 * width), nn.LeakyReLU(SLOPE, True),
            nn.Linear(16 * width, 2 * width * (h // 4) * (w // 4)),
            nn.BatchNorm1d(2 * width * (h // 4) * (w // 4)), nn.LeakyReLU(SLOPE, True),
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.LeakyReLU(SLOPE, True),
            nn.ConvTranspose2d(width, channels, 4, 2, 1),
        )
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.deconv(self.fc(z).view(-1, *self.grid))
        return torch.tanh(x / 2)  # = 2·sigmoid(x) − 1: the study's sigmoid output in [-1, 1]


@NETS.register("infogan_d")
class InfoGANDiscriminator(FeatureHeadD):
    def __init__(self, shape: tuple[int, int, int], width: int = 64, norm: str = "bn",
                 minibatch_std: bool = False):
        super().__init__()
        channels, h, w = _check_size(shape)
        sn = norm == "spectral"
        extra = 1 if minibatch_std else 0
        conv_norm = ([nn.LayerNorm([2 * width, h // 4, w // 4])] if norm == "layer"
                     else norm_layers(norm, 2 * width, h // 4))
        self.body = nn.Sequential(
            spectral(nn.Conv2d(channels, width, 4, 2, 1), sn), nn.LeakyReLU(SLOPE, True),
            *([MinibatchStd()] if minibatch_std else []),
            spectral(nn.Conv2d(width + extra, 2 * width, 4, 2, 1), sn),
            *conv_norm,
            nn.LeakyReLU(SLOPE, True),
            nn.Flatten(),
            spectral(nn.Linear(2 * width * (h // 4) * (w // 4), 16 * width), sn),
            *norm_layers(norm, 16 * width),
            nn.LeakyReLU(SLOPE, True),
        )
        self.feature_dim = 16 * width
        self.head = spectral(nn.Linear(self.feature_dim, 1), sn)
        dcgan_init(self)
