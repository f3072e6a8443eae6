"""DRAGAN: the non-saturating GAN with a gradient penalty around the real data.

Kodali, Abernethy, Hays, Kira 2017, "On Convergence and Stability of GANs" (arXiv 1705.07215),
§4 "DRAGAN", Eq. 5 and Algorithm 1. Per iteration:
  x ~ data, z ~ N(0, I), x_p = x + δ (a perturbation of the real batch);
  D <- D - lr ∇ [softplus(-D(x)) + softplus(D(G(z))) + λ E(‖∇D(x̂)‖ - 1)²],  x̂ between x and x_p;
  z ~ N(0, I);  G <- G - lr ∇ softplus(-D(G(z)))   (non-saturating generator loss).
The penalty only constrains D in a neighbourhood of the real data (a local constraint), unlike
WGAN-GP's penalty on lines between real and generated samples.

As Lucic et al. 2018 ("Are GANs Created Equal? A Large-Scale Study") ran it, read for facts
in google/compare_gan (``src/gans/DRAGAN.py`` at 623f646; defaults in ``src/params.py``
``DRAGANHyperParams`` at aecc6e7): δ = 0.5·std(x)·U(0, 1) elementwise, x̂ = x + α(x_p - x) with
α ~ U(0, 1) per sample, λ = 10 (their search range 10^[-1, 2]), Adam lr 1e-4, β1 0.5 (β2 the
TF default 0.999), one D step per G step, batch norm in D (``d_norm: bn``). The penalty is
:func:`ganbench.methods.penalties.dragan_penalty`.

Departures: the paper's Algorithm 1 writes the perturbation as δ ~ N(0, cI) (c = 10 in its
experiments); ganbench follows the compare_gan code instead (the large studies' setting).
z ~ N(0, I) for every ganbench method; compare_gan draws z ~ U(-1, 1). The penalty's extra D
forward pass runs in training mode, so D's batch-norm statistics see x̂ too (as in
compare_gan). With ``pack: m`` the penalty is taken on the packed real inputs.
"""

from __future__ import annotations

from pydantic import Field

from ganbench.methods.base import MethodParams
from ganbench.methods.gan import NonSaturatingGAN
from ganbench.methods.penalties import dragan_penalty
from ganbench.nets.layers import DNorm
from ganbench.registry import METHODS


class DRAGANParams(MethodParams):
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    n_critic: int = 1
    d_norm: DNorm = "bn"
    #: λ, the weight of the local gradient penalty
    lambda_dragan: float = Field(10.0, ge=0.0)


@METHODS.register("dragan")
class DRAGAN(NonSaturatingGAN):
    name = "dragan"
    paper = "Kodali et al. 2017, On Convergence and Stability of GANs"
    Params = DRAGANParams

    def d_penalty(self, real, fake):
        return self.params.lambda_dragan * dragan_penalty(self.D, real)
