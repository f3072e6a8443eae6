"""AC-GAN: a discriminator that also classifies, and a generator rewarded for its class.

Odena, Olah, Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs"
(ICML), §3, eqs. 2–3. G draws X_fake = G(c, z) for a class c; D gives a probability
distribution over sources P(S | X) and one over classes P(C | X):

    L_S = E log P(S = real | X_real) + E log P(S = fake | X_fake)
    L_C = E log P(C = c | X_real)    + E log P(C = c | X_fake)

"D is trained to maximize L_S + L_C while G is trained to maximize L_C − L_S." With D's source
logit s and class logits ℓ (:class:`~ganbench.nets.conditional.AuxiliaryClassifierDiscriminator`),
−log P(S = real | x) = softplus(−s), −log P(S = fake | x) = softplus(s) and
−log P(C = c | x) = CE(ℓ, c), so per batch (means over the batch):

    D minimises  softplus(−s_real) + softplus(s_fake) + CE(ℓ_real, y) + CE(ℓ_fake, y_fake)   = −(L_S + L_C)
    G minimises  softplus(−s_fake) + CE(ℓ_fake, y_fake)

G's source term is the non-saturating form of −L_S (−log P(S = real | X_fake) instead of
+log P(S = fake | X_fake)), as in Goodfellow et al. 2014 §3 and in practice for AC-GAN; its class
term is exactly −L_C's generated half (the real half does not depend on G). The generated images
in D's step are detached, so D's class head also learns from G's samples, as eq. 3 says.

Nets: G(z, c) = G_family([z, onehot(c)]) (``cond_concat_g``; the paper's ImageNet/CIFAR G
takes the class as part of its input vector); D = the family's body with a source head and a
K-way class head on the same features (``acgan_d``); ``net`` (``auto`` = ``dcgan``), ``width``,
``d_norm`` and ``minibatch_std`` as for ``gan``. Defaults: Adam lr 2e-4, β = (0.5, 0.999) (the
paper's appendix tables, recalled rather than re-checked), one D step per G step, z ~ N(0, I)
100-d (the paper: 110-d input = 100-d z plus the class).

Departures: the paper's nets (its Appendix, for 32×32 CIFAR-10 and 128×128 ImageNet, with
dropout in D) are replaced by the shared DCGAN-style nets at 28/32 px; the paper trains 100
AC-GANs on 10-class ImageNet subsets, here one model covers all K classes of the dataset; the
classes of generated samples are the real batch's labels (the paper samples c ~ p_c).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganbench.methods.base import MethodParams
from ganbench.methods.conditional import ConditionalAdversarialMethod
from ganbench.registry import METHODS


def source_terms(real_src: torch.Tensor, fake_src: torch.Tensor) -> torch.Tensor:
    """−L_S: −E log P(S=real | X_real) − E log P(S=fake | X_fake) on source logits."""
    return F.softplus(-real_src).mean() + F.softplus(fake_src).mean()


def class_term(class_logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """−E log P(C = y | X): the cross-entropy of the class head against the labels."""
    return F.cross_entropy(class_logits, y)


def discriminator_loss(real_src, real_cls, y_real, fake_src, fake_cls, y_fake) -> tuple[torch.Tensor, dict]:
    """−(L_S + L_C), plus its two parts (detached 0-d tensors)."""
    l_s = source_terms(real_src, fake_src)
    l_c = class_term(real_cls, y_real) + class_term(fake_cls, y_fake)
    return l_s + l_c, {"d_source": l_s.detach(), "d_class": l_c.detach()}


def generator_loss(fake_src: torch.Tensor, fake_cls: torch.Tensor, y_fake: torch.Tensor) -> torch.Tensor:
    """−L_C's generated half plus the non-saturating source term −log P(S=real | X_fake)."""
    return F.softplus(-fake_src).mean() + class_term(fake_cls, y_fake)


class ACGANParams(MethodParams):
    """The shared options; their defaults are the ones above (Adam 2e-4, β = (0.5, 0.999), one D
    step, BN in D)."""


@METHODS.register("acgan")
class ACGAN(ConditionalAdversarialMethod):
    """AC-GAN (Odena et al. 2017): D has a source and a class head; D maximises L_S + L_C, G L_C − L_S."""

    name = "acgan"
    display_name = "AC-GAN"
    paper = "Odena et al. 2017, Conditional Image Synthesis with Auxiliary Classifier GANs"
    Params = ACGANParams

    d_net = "acgan_d"

    def d_step_loss(self, real, y, fake, y_fake):
        real_src, real_cls = self.D(real)
        fake_src, fake_cls = self.D(fake)
        return discriminator_loss(real_src, real_cls, y, fake_src, fake_cls, y_fake)

    def g_step_loss(self, real, y, fake, y_fake):
        fake_src, fake_cls = self.D(fake)
        return generator_loss(fake_src, fake_cls, y_fake)
