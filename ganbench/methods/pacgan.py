"""PacGAN: the non-saturating GAN whose discriminator judges m samples at once.

Lin, Khetan, Fanti, Oh 2018, "PacGAN: The power of two samples in generative adversarial
networks" (NeurIPS 2018), §3: the discriminator D(x₁, …, x_m) receives m samples that are
either all real or all generated, concatenated along the channel (images) or feature (points)
axis, and is otherwise the unpacked architecture with a wider input layer; the losses and
the generator are unchanged. Algorithm (per iteration, batch of N = m·N/m samples):
  x ~ data, z ~ N(0, I);  D <- D - lr_d ∇ [softplus(-D(pack(x))) + softplus(D(pack(G(z))))]
  z ~ N(0, I);  G <- G - lr_g ∇ softplus(-D(pack(G(z))))
Packing is the shared ``pack: m`` option of every adversarial method
(:func:`ganbench.nets.layers.pack`); this row is the paper's setting, the non-saturating GAN
with m = 2 ("PacGAN2", the degree the paper's title refers to; its tables also run 3 and 4).

Defaults: m = 2; DCGAN nets, Adam lr 2e-4, β1 0.5 for images (the paper's Stacked-MNIST
experiments, VEEGAN setting, §5.2; its code fjxmlzn/PacGAN ``stacked_MNIST_experiments/
VEEGAN_experiment/config.py``); the MLP nets for points. Departures:
- for the 2D mixtures (§5.1) the paper's networks are a 4×400 BN/ReLU MLP generator and a
  3×200 maxout discriminator trained with Adam 1e-4, β1 0.8 (fjxmlzn/PacGAN
  ``synthetic_data_experiments/2DGrid_GAN&PacGAN/config.py``); this row's defaults are
  ganbench's shared MLPs and GAN optimiser, so that the packing degree is the only difference
  from ``gan``. The paper's nets are ``net: pacgan_mlp`` (:mod:`ganbench.nets.pacgan_mlp`),
  used with the paper's optimiser by ``suites/repro/pacgan_2d.yaml``;
- a batch of N samples is packed into N/m groups (N must be a multiple of m), whereas the
  PacGAN code draws m·N samples per step and feeds D N groups of m.
"""

from __future__ import annotations

from pydantic import Field

from ganbench.methods.base import MethodParams
from ganbench.methods.gan import NonSaturatingGAN
from ganbench.registry import METHODS


class PacGANParams(MethodParams):
    pack: int = Field(2, ge=1)


@METHODS.register("pacgan")
class PacGAN(NonSaturatingGAN):
    name = "pacgan"
    paper = "Lin et al. 2018, PacGAN: The power of two samples in generative adversarial networks"
    Params = PacGANParams
