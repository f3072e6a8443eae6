"""Least-squares GAN (Mao et al. 2017, Eq. 2).

D minimises ½E(D(x) - b)² + ½E(D(G(z)) - a)²; G minimises ½E(D(G(z)) - c)².
Default coding (a, b, c) = (0, 1, 1), the common "0-1" coding; (-1, 1, 0) is the one that
minimises the Pearson χ² divergence (Mao et al. 2017: b − c = 1, b − a = 2). Adam lr 2e-4, β1 0.5.
"""

import torch

from ganbench.methods.adversarial import AdversarialMethod
from ganbench.methods.base import MethodParams
from ganbench.registry import METHODS


class LSGANParams(MethodParams):
    a: float = 0.0
    b: float = 1.0
    c: float = 1.0


def discriminator_loss(real_logits, fake_logits, a=0.0, b=1.0) -> torch.Tensor:
    return 0.5 * ((real_logits - b) ** 2).mean() + 0.5 * ((fake_logits - a) ** 2).mean()


def generator_loss(fake_logits, c=1.0) -> torch.Tensor:
    return 0.5 * ((fake_logits - c) ** 2).mean()


@METHODS.register("lsgan")
class LSGAN(AdversarialMethod):
    name = "lsgan"
    paper = "Mao et al. 2017, Least Squares Generative Adversarial Networks"
    Params = LSGANParams

    def d_loss(self, real_logits, fake_logits):
        return discriminator_loss(real_logits, fake_logits, self.params.a, self.params.b)

    def g_loss(self, fake_logits):
        return generator_loss(fake_logits, self.params.c)
