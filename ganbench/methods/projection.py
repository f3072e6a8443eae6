"""cGAN with a projection discriminator (Miyato & Koyama 2018), trained as in the paper.

Miyato & Koyama 2018, "cGANs with Projection Discriminator" (ICLR). The discriminator's logit is
the log density ratio of the class-conditional data and model distributions, modelled as (eq. 3,
Fig. 1 "projection")

    D(x, y) = ψ(φ(x)) + yᵀ V φ(x)                 (y one-hot, so yᵀVφ(x) = ⟨V_y, φ(x)⟩)

with φ the discriminator's body, ψ a linear map to one value and V a K × dim φ class embedding
(:class:`~ganbench.nets.conditional.ProjectionDiscriminator`). The generator is a ResNet whose
batch norms are class-conditional (§5: "conditional batch normalization"; γ and β picked per
class, :class:`~ganbench.nets.conditional_norm.ConditionalBatchNorm2d`). As in the paper's
experiments (§5, after SN-GAN): the hinge loss (Lim & Ye 2017)

    D: E relu(1 − D(x, y)) + E relu(1 + D(G(z, y), y))       G: −E D(G(z, y), y)

and spectral normalisation on every layer of D, V included (``d_norm: spectral``, the default).

Defaults = the authors' conditional CIFAR-10 configuration (pfnet-research/sngan_projection,
``configs/sn_cifar10.yml``: ResNet G ch 256 / D ch 128 with the projection, dim_z 128, batch 64,
Adam α 2e-4, β = (0, 0.9), n_dis 5, hinge loss, 50k G iterations, α decayed linearly to 0 from
iteration 0 by ``train.py``'s ``LinearShift``):
``net: resnet`` (G = ``cbn_resnet_g`` with 4·width channels, D = SN-GAN's ResNet D with
2·width channels, so width 64 = the paper), Adam 2e-4, β = (0, 0.9), ``n_critic: 5``,
``lr_decay: linear`` (lr_t = lr·(1 − t/T)), z ~ N(0, I) 128-d.

Departures: ``width``, batch size and iterations come from the suite; MNIST (28 px) is not in
the paper, and its ResNet starts from 7×7 with two up-blocks (:mod:`ganbench.nets.sngan`);
``net: dcgan`` (or another body family) is allowed for cheap runs: D becomes that family's body
with the projection, G the DCGAN layout with conditional BN (``cbn_dcgan_g``); fake labels are
the real batch's labels (the authors draw them uniformly at random), and the G step uses the
same batch size as D's (the authors' config: ``n_gen_samples: 128`` for a batch of 64).
"""

from __future__ import annotations

from typing import Literal

from ganbench.data.base import DatasetInfo
from ganbench.methods import hinge
from ganbench.methods.conditional import ConditionalAdversarialMethod
from ganbench.methods.sngan import LinearLRDecay, LRDecayParams
from ganbench.nets.layers import DNorm
from ganbench.registry import METHODS, NETS


class ProjectionParams(LRDecayParams):
    net: str = "resnet"
    d_norm: DNorm = "spectral"
    beta1: float = 0.0
    beta2: float = 0.9
    n_critic: int = 5
    lr_decay: Literal["none", "linear"] = "linear"


@METHODS.register("projection")
class ProjectionCGAN(LinearLRDecay, ConditionalAdversarialMethod):
    """cGAN with a projection discriminator (Miyato & Koyama 2018): D = ψ(φ(x)) + yᵀVφ(x), CBN G, hinge, SN."""

    name = "projection"
    display_name = "Projection cGAN"
    paper = "Miyato & Koyama 2018, cGANs with Projection Discriminator"
    Params = ProjectionParams

    @classmethod
    def data_defaults(cls, info: DatasetInfo):
        return {**super().data_defaults(info), "z_dim": 128}

    def build_nets(self, params, info: DatasetInfo):
        family = "dcgan" if params.net == "auto" else params.net
        g_name = "cbn_resnet_g" if family == "resnet" else "cbn_dcgan_g"
        g = NETS.get(g_name)(params.z_dim, info.shape, info.num_classes, width=params.width)
        d = NETS.get("projection_d")(family, info.shape, info.num_classes, width=params.width,
                                     norm=params.d_norm, minibatch_std=params.minibatch_std)
        return g, d

    def d_loss(self, real_logits, fake_logits):
        return hinge.discriminator_loss(real_logits, fake_logits)

    def g_loss(self, fake_logits):
        return hinge.generator_loss(fake_logits)
