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
experiments, VEEGAN setting); the MLP nets for points. Departures: for the 2D mixtures the
paper's networks are a 4×400 BN/ReLU MLP generator and a 3×200 maxout discriminator trained
with Adam 1e-4, β1 0.8 (methods_spec.md §5.6); ganbench uses its shared MLPs and the GAN
defaults so that the packing degree is the only difference from ``gan``.
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
