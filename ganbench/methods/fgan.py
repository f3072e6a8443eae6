"""f-GAN (Nowozin, Cseke & Tomioka 2016, "f-GAN: Training Generative Neural Samplers using
Variational Divergence Minimization", NIPS).

Variational divergence minimisation (Eq. 6): with the critic's raw output V(x) and an output
activation g_f mapping R into dom f*, T(x) = g_f(V(x)) and

    F(θ, ω) = E_{x~P}[g_f(V_ω(x))] − E_{x~Q_θ}[f*(g_f(V_ω(x)))],

a lower bound on D_f(P‖Q_θ) (Eq. 4) that D maximises. G takes the paper's practical step
(§3.2, after Goodfellow et al.'s non-saturating trick): it maximises E_{x~Q_θ}[g_f(V(G(z)))].
Departure: Algorithm 1 takes one simultaneous gradient step on θ and ω; ganbench's
adversarial loop alternates one D step and one G step.

Divergences (``divergence``; f from Table 1, f* its Fenchel conjugate, g_f as in Table 2):

    name               f(u)                                  g_f(v)              f*(t)            dom f*
    kl                 u log u                               v                   exp(t − 1)       R
    reverse_kl         −log u                                −exp(−v)            −1 − log(−t)     t < 0
    pearson            (u − 1)²                              v                   t²/4 + t         R
    squared_hellinger  (√u − 1)²                             1 − exp(−v)         t / (1 − t)      t < 1
    js                 u log u − (u+1) log((u+1)/2)          log 2 − log(1+e^−v) −log(2 − e^t)    t < log 2
    gan                u log u − (u+1) log(u+1)              −log(1 + e^−v)      −log(1 − e^t)    t < 0
    neyman             (1 − u)² / u                          1 − exp(−v)         2 − 2√(1 − t)    t < 1

Each g_f maps R onto exactly dom f* (tests check the ranges), so f*(g_f(v)) is always finite;
the loss evaluates f*(g_f(v)) in a closed form in v (e.g. js: softplus(v) − log 2; gan:
softplus(v); squared_hellinger: e^v − 1; neyman: 2 − 2e^{−v/2}) instead of composing the two,
which would lose precision or give log(0) as g_f(v) nears the edge of dom f*.
The table is the paper's Table 2 (as several consistent implementations write it). Departure: for
``neyman`` (and ``squared_hellinger``) every activation here is increasing in v (a larger V
means "more like the data"), 1 − exp(−v); the mirrored 1 − exp(v) some tables list has the
same range (−∞, 1) and is the same function of −V, which the critic's last linear layer absorbs.

Default divergence ``gan``: f-GAN's own reference row (Goodfellow et al.'s saddle objective,
with g_f(v) = log σ(v), f*(g_f(v)) = softplus(v)); the paper's MNIST comparison (kernel-density
log-likelihoods) lists every divergence side by side without a single main one, so ganbench
defaults to the one that makes ``fgan`` comparable with the ``gan`` row.
Defaults otherwise: DCGAN nets, Adam lr 2e-4, β1 0.5 (the paper's LSUN DCGAN setting follows
Radford et al.), one D step per G step.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

from ganbench.methods.adversarial import AdversarialMethod
from ganbench.methods.base import MethodParams
from ganbench.registry import METHODS

Divergence = Literal["kl", "reverse_kl", "pearson", "squared_hellinger", "js", "gan", "neyman"]
LOG2 = math.log(2.0)


def activation(divergence: str, v: torch.Tensor) -> torch.Tensor:
    """g_f(v): the output activation mapping the critic's raw output into dom f*."""
    if divergence in ("kl", "pearson"):
        return v
    if divergence == "reverse_kl":
        return -torch.exp(-v)
    if divergence in ("squared_hellinger", "neyman"):
        return -torch.expm1(-v)
    if divergence == "js":
        return LOG2 - F.softplus(-v)
    if divergence == "gan":
        return -F.softplus(-v)
    raise ValueError(f"unknown f-divergence {divergence!r}")


def conjugate(divergence: str, t: torch.Tensor) -> torch.Tensor:
    """f*(t), the Fenchel conjugate, for t in dom f* (as written in the table above)."""
    if divergence == "kl":
        return torch.exp(t - 1.0)
    if divergence == "reverse_kl":
        return -1.0 - torch.log(-t)
    if divergence == "pearson":
        return 0.25 * t * t + t
    if divergence == "squared_hellinger":
        return t / (1.0 - t)
    if divergence == "js":
        return -torch.log(2.0 - torch.exp(t))
    if divergence == "gan":
        return -torch.log(-torch.expm1(t))
    if divergence == "neyman":
        return 2.0 - 2.0 * torch.sqrt(1.0 - t)
    raise ValueError(f"unknown f-divergence {divergence!r}")


def conjugate_of_activation(divergence: str, v: torch.Tensor) -> torch.Tensor:
    """f*(g_f(v)) in closed form in v (numerically stable; equal to composing the two)."""
    if divergence == "kl":
        return torch.exp(v - 1.0)
    if divergence == "reverse_kl":
        return v - 1.0                       # −1 − log(exp(−v))
    if divergence == "pearson":
        return 0.25 * v * v + v
    if divergence == "squared_hellinger":
        return torch.expm1(v)                # (1 − e^−v) / e^−v
    if divergence == "js":
        return F.softplus(v) - LOG2          # −log(2 − 2σ(v)) = −log 2 − log σ(−v)
    if divergence == "gan":
        return F.softplus(v)                 # −log(1 − σ(v))
    if divergence == "neyman":
        return 2.0 - 2.0 * torch.exp(-0.5 * v)  # 2 − 2√(e^−v)
    raise ValueError(f"unknown f-divergence {divergence!r}")


def discriminator_loss(divergence: str, real_v: torch.Tensor, fake_v: torch.Tensor) -> torch.Tensor:
    """−F: the critic minimises −(E_P g_f(V(x)) − E_Q f*(g_f(V(G(z)))))."""
    return -(activation(divergence, real_v).mean() - conjugate_of_activation(divergence, fake_v).mean())


def generator_loss(divergence: str, fake_v: torch.Tensor) -> torch.Tensor:
    """The practical G step: minimise −E_Q g_f(V(G(z)))."""
    return -activation(divergence, fake_v).mean()


class FGANParams(MethodParams):
    divergence: Divergence = "gan"


@METHODS.register("fgan")
class FGAN(AdversarialMethod):
    """f-GAN (Nowozin et al. 2016): any f-divergence via its conjugate (``divergence``)."""

    name = "fgan"
    paper = ("Nowozin, Cseke & Tomioka 2016, f-GAN: Training Generative Neural Samplers using "
             "Variational Divergence Minimization")
    Params = FGANParams

    def d_loss(self, real_logits, fake_logits):
        return discriminator_loss(self.params.divergence, real_logits, fake_logits)

    def g_loss(self, fake_logits):
        return generator_loss(self.params.divergence, fake_logits)
