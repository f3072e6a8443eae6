"""Non-saturating GAN (Goodfellow et al. 2014, §3 "in practice" remark).

D minimises BCE(D(x), 1) + BCE(D(G(z)), 0) = softplus(-D(x)) + softplus(D(G(z))) (Eq. 1's D part);
G minimises E softplus(-D(G(z))) = -E log σ(D(G(z))).
Defaults: DCGAN nets, Adam lr 2e-4, β1 0.5 (Radford et al. 2016), one D step per G step.
"""

import torch
import torch.nn.functional as F

from ganbench.methods.adversarial import AdversarialMethod
from ganbench.registry import METHODS


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake_logits).mean()


@METHODS.register("gan")
class NonSaturatingGAN(AdversarialMethod):
    name = "gan"
    paper = "Goodfellow et al. 2014, Generative Adversarial Nets"

    def d_loss(self, real_logits, fake_logits):
        return discriminator_loss(real_logits, fake_logits)

    def g_loss(self, fake_logits):
        return generator_loss(fake_logits)
