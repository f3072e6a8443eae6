"""Minimax (saturating) GAN (Goodfellow et al. 2014, Eq. 1).

D as in the non-saturating GAN; G minimises
E log(1 - σ(D(G(z)))) = -E softplus(D(G(z))).
"""

import torch
import torch.nn.functional as F

from ganbench.methods.adversarial import AdversarialMethod
from ganbench.methods.gan import discriminator_loss
from ganbench.registry import METHODS


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return -F.softplus(fake_logits).mean()


@METHODS.register("gan_minimax")
class MinimaxGAN(AdversarialMethod):
    name = "gan_minimax"
    paper = "Goodfellow et al. 2014, Generative Adversarial Nets"

    def d_loss(self, real_logits, fake_logits):
        return discriminator_loss(real_logits, fake_logits)

    def g_loss(self, fake_logits):
        return generator_loss(fake_logits)
