"""Hinge-loss GAN (Lim & Ye 2017; used by SN-GAN and BigGAN).

D minimises E relu(1 - D(x)) + E relu(1 + D(G(z))); G minimises -E D(G(z))
(Lim & Ye 2017; as SN-GAN and sony/san's simple-san). Adam lr 2e-4, β1 0.5 with DCGAN nets.
"""

import torch
import torch.nn.functional as F

from ganbench.methods.adversarial import AdversarialMethod
from ganbench.registry import METHODS


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


@METHODS.register("hinge")
class HingeGAN(AdversarialMethod):
    name = "hinge"
    paper = "Lim & Ye 2017, Geometric GAN"

    def d_loss(self, real_logits, fake_logits):
        return discriminator_loss(real_logits, fake_logits)

    def g_loss(self, fake_logits):
        return generator_loss(fake_logits)
