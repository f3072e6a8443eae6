"""Hinge-loss GAN (Lim & Ye 2017; used by SN-GAN and BigGAN).

D minimises E relu(1 - D(x)) + E relu(1 + D(G(z))); G minimises -E D(G(z))
(Lim & Ye 2017; as SN-GAN and sony/san's simple-san). Adam lr 2e-4, β1 0.5 with DCGAN nets
(batch norm in D, real and generated batches through D separately, as in DCGAN's reference code).

Measured in-process on MNIST (width 16, batch 32, seeds 0 and 1; FCD and classes on 1,000
samples): after 300 iterations D's hinge loss is 0 (every margin met) and G's samples fall in one
class (FCD 975, 892; the non-saturating ``gan``: 889, 639); after 600 iterations 9 and 10 classes
(FCD 624, 494). D without batch norm (3-4 classes) or real and fake in one D batch (5-7 classes)
help a little at 300 iterations; sampling G in train mode changes nothing. A slow start of this
loss with a batch-normed D, not a fault of the loss or the loop.
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
