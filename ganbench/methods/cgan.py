"""cGAN: the GAN objective with the class label given to both networks.

Mirza & Osindero 2014, "Conditional Generative Adversarial Nets" (arXiv:1411.1784), §3.2, eq. 2:

    min_G max_D  E_{x,y} log D(x | y) + E_{z,y} log(1 − D(G(z | y) | y))

"y … fed into both the discriminator and generator as additional input layer" (§3.2). Here,
with D's raw output d(x, y) (a logit) and the loop of :mod:`ganbench.methods.conditional`:

    D: E softplus(−d(x, y)) + E softplus(d(G(z, y), y))      (BCE, real 1 / generated 0)
    G: E softplus(−d(G(z, y), y))                             (non-saturating, Goodfellow et al. §3)

Nets (:mod:`ganbench.nets.conditional`): G(z, y) = G_family([z, onehot(y)]) (``cond_concat_g``),
D(x, y) = D_family([x, onehot(y) as K constant feature maps]) (``cond_maps_d``: y joined to D's
input); the family is ``net`` (``auto`` = ``dcgan``), so ``width``, ``d_norm`` (DCGAN's ``bn``
by default; ``spectral`` allowed) and ``minibatch_std`` work as for ``gan``. Defaults: z ~ N(0, I)
100-d, Adam lr 2e-4, β = (0.5, 0.999), one D step per G step (the DCGAN setting); fake labels
are the real batch's labels.

Departures from the paper (its MNIST model, §4.1): the paper's nets are MLPs (G: z → 200 ReLU
and y → 1000 ReLU, joined to 1200 ReLU → 784 sigmoid; D: maxout layers on x and y, joined),
trained by SGD (batch 100, lr 0.1 decayed exponentially, momentum 0.5 → 0.7) with dropout 0.5;
the layer sizes and schedule are recalled, not re-checked. ganbench uses the DCGAN-style
convolutional nets and Adam of the other image methods so that cGAN differs from ``gan`` only by
the conditioning, and G uses the non-saturating loss instead of eq. 2's log(1 − D).
"""

from __future__ import annotations

from ganbench.methods import gan
from ganbench.methods.base import MethodParams
from ganbench.methods.conditional import ConditionalAdversarialMethod
from ganbench.registry import METHODS


class CGANParams(MethodParams):
    """The shared options; their defaults are the DCGAN setting above (Adam 2e-4, β = (0.5, 0.999),
    one D step, BN in D)."""


@METHODS.register("cgan")
class CGAN(ConditionalAdversarialMethod):
    """cGAN (Mirza & Osindero 2014): one-hot y joined to G's input and to D's input; BCE loss."""

    name = "cgan"
    display_name = "cGAN"
    paper = "Mirza & Osindero 2014, Conditional Generative Adversarial Nets"
    Params = CGANParams

    d_net = "cond_maps_d"

    def d_loss(self, real_logits, fake_logits):
        return gan.discriminator_loss(real_logits, fake_logits)

    def g_loss(self, fake_logits):
        return gan.generator_loss(fake_logits)
