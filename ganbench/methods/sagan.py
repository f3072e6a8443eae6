"""SAGAN (Zhang et al. 2019): self-attention in G and D, SN in both, hinge loss, TTUR.

Zhang, Goodfellow, Metaxas, Odena 2019, "Self-Attention Generative Adversarial Networks"
(ICML). §3: a self-attention block y = γ·o + x (Eqs. 1-3, γ learned from 0) in G and in D,
:class:`ganbench.nets.sagan.SelfAttention`. §4 (the two stabilisation techniques):
spectral normalisation on every layer of G **and** D, and the two time-scale update rule
(Heusel et al. 2017) with separate learning rates and one D step per G step. The loss is the
hinge version (end of §3, Eq. 4; :mod:`ganbench.methods.hinge`)

  D: E relu(1 − D(x)) + E relu(1 + D(G(z)))        G: −E D(G(z))

and (§5, implementation details) Adam β1 = 0, β2 = 0.9, lr_D = 4e-4, lr_G = 1e-4 (all defaults
here; n_critic 1).
z ~ N(0, I), dim 128 (the official code's z_dim).

Nets (``net: sagan``, :mod:`ganbench.nets.sagan`): the SN-GAN CIFAR ResNet with the attention
block at the half-resolution feature map in both nets (14/16/24 px maps for 28/32/48 px
images; the paper's 128 px model uses the 32×32 maps) — see that module for why.

Departures: unconditional, so G's conditional batch norm is plain batch norm and D has no
projection term (the paper's ImageNet model is class-conditional); no moving average of G
(set ``ema_g`` to have one); images only (raises on point data: attention needs feature maps);
batch size, iterations and ``width`` from the suite (the paper: batch 256, 1M iterations on
128 px ImageNet).
"""

from __future__ import annotations

from typing import Any

from ganbench.data.base import DatasetInfo
from ganbench.errors import GanbenchError
from ganbench.methods import hinge
from ganbench.methods.adversarial import AdversarialMethod
from ganbench.methods.base import MethodParams
from ganbench.nets.layers import DNorm
from ganbench.registry import METHODS


class SAGANParams(MethodParams):
    net: str = "sagan"
    d_norm: DNorm = "spectral"
    lr_g: float = 1e-4
    lr_d: float = 4e-4
    beta1: float = 0.0
    beta2: float = 0.9
    n_critic: int = 1


@METHODS.register("sagan")
class SAGAN(AdversarialMethod):
    """SAGAN (Zhang et al. 2019): self-attention and SN in G and D, hinge loss, TTUR 1e-4/4e-4."""

    name = "sagan"
    paper = "Zhang et al. 2019, Self-Attention Generative Adversarial Networks"
    Params = SAGANParams

    def __init__(self, params: SAGANParams, info: DatasetInfo, device="cpu"):
        if info.kind != "image":
            raise GanbenchError(f"sagan: needs image data, {info.name} holds {info.kind}")
        super().__init__(params, info, device)

    @classmethod
    def data_defaults(cls, info: DatasetInfo) -> dict[str, Any]:
        defaults = super().data_defaults(info)
        if info.kind == "image":
            defaults["z_dim"] = 128
        return defaults

    def d_loss(self, real_logits, fake_logits):
        return hinge.discriminator_loss(real_logits, fake_logits)

    def g_loss(self, fake_logits):
        return hinge.generator_loss(fake_logits)
