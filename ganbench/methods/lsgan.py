"""Least-squares GAN (Mao et al. 2017, Eq. 2).

D minimises ½E(D(x) - b)² + ½E(D(G(z)) - a)²; G minimises ½E(D(G(z)) - c)².
Default coding (a, b, c) = (0, 1, 1), the common "0-1" coding; (-1, 1, 0) is the one that
minimises the Pearson χ² divergence (Mao et al. 2017: b − c = 1, b − a = 2). Adam lr 2e-4, β1 0.5:
the authors' code (xudonmao/LSGAN) uses these for its DCGAN-architecture runs
(``stability_comparison/*/train.py``); its own 112×112 scene net trains at lr 1e-3
(``train_lsun.py``). As in that code, D has batch norm after every conv but the first, sees the
real and the generated batch as two separate batches, ends in a linear layer (no sigmoid), and
G is sampled with batch norm on its running statistics.

Measured in-process on MNIST (DCGAN nets, width 16, batch 32, seeds 0 and 1; FCD and classes on
1,000 samples): after 300 iterations D's loss is ≈ 0.01 and G's samples are still a faint texture
without strokes, all put in one class (FCD 1029, 1029; the non-saturating ``gan``: 889, 639 with
8 and 10 classes); after 600 iterations 6 and 10 classes (FCD 716, 626). lr 1e-3 (the scene
net's) reaches 10 classes in 300 iterations (FCD 541, 386). At 300 iterations, sampling G in
train mode, real and fake in one D batch, and width 64 (seed 0) all stay at 1 class (FCD 912 to
1166); D without batch norm gives 7 and 4 classes (FCD 816, 881). A slow start at lr 2e-4, not a
fault of the loss or the loop.
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
