"""SAN: Slicing Adversarial Network (Takida et al., ICLR 2024) on the hinge and (non-)saturating GAN losses.

Paper: "SAN: Inducing Metrizability of GAN with Discriminative Normalized Linear Layer",
arXiv 2301.12811; official code sony/san (simple-san, StyleSAN-XL).

The discriminator is split as f(x) = ⟨ω, h(x)⟩ with ω on the unit sphere
(:class:`ganbench.nets.san_head.SANHead` replaces the last linear layer of the DCGAN or MLP
discriminator). D maximises (§2.3)

    V_SAN(ω, h) = V(⟨ω⁻, h⟩; G) + E_data⟨ω, h⁻(x)⟩ − E_z⟨ω, h⁻(G(z))⟩

(⁻: stop-gradient): the features learn with the base GAN objective and the direction with
the Wasserstein (linear) one. Per iteration, with ``n_critic`` D steps:

    fun, dir = D-step outputs (SANHead.split; detach pattern of sony/san simple-san
               models/discriminator.py at b50c34d, read there [V-code])
    D ← D − lr_d ∇ [L_D^base(fun_real, fun_fake) + E dir_fake − E dir_real];  ω ← ω/‖ω‖
    G ← G − lr_g ∇ L_G^base(D(G(z)))            (plain output, base generator loss unchanged)

Methods (losses in :mod:`ganbench.methods.san_losses`, built on the base modules):
- ``san_hinge``: hinge feature loss, L_G = −E D(G(z)) (simple-san train.py ``compute_loss_san``
  and ``update_generator``; StyleSAN-XL's ``training/loss.py`` likewise);
- ``san_gan``: non-saturating, L_D^base = E softplus(−fun_r) + E softplus(fun_f),
  L_G = E softplus(−D(G(z)));
- ``san_gan_minimax``: same D loss, saturating L_G = −E softplus(D(G(z))) (a pairing not
  checked against the paper; it follows the rule "G unchanged").

Defaults: the base methods' (Adam lr 2e-4, β = (0.5, 0.999), 1 D step, ganbench DCGAN/MLP
nets with BN in D), so that ``X`` and ``san_X`` in one suite differ only by the SAN last
layer and objective, which is how simple-san compares GAN and SAN (same hyperparameters for
both; simple-san train.py builds both from one params.json [V-code]). The simple-san MNIST
setting (§2.4, hparams/params.json [V-code]: Adam lr 1e-3, β = (0, 0.99), batch 128, its own
SN conv D and sigmoid G) belongs to other nets; to use its optimiser set
``{lr_g: 1.0e-3, lr_d: 1.0e-3, beta1: 0.0, beta2: 0.99}`` and ``train.batch_size: 128``.

Departures from the paper / official code:
- last layer without bias (the ganbench heads' bias is dropped); a learnable scalar scale as
  in StyleSAN ``SANLinear`` [spec V-code] (simple-san takes the scale as ‖fc_w‖ of an
  unconstrained ``fc_w`` instead: the same function, parametrised differently);
- the direction is renormalised after every D optimiser step (StyleSAN-XL), not only
  normalised in the forward pass (simple-san); both are done here;
- unconditional only (no class-conditional direction rows); z ~ N(0, I) of size ``z_dim``;
  ganbench's nets (DCGAN with tanh output and BN in D by default), not simple-san's.
"""

from __future__ import annotations

import torch

from ganbench.methods.adversarial import AdversarialMethod
from ganbench.methods.base import MethodParams
from ganbench.methods.gan import NonSaturatingGAN
from ganbench.methods.gan_minimax import MinimaxGAN
from ganbench.methods.hinge import HingeGAN
from ganbench.methods.san_losses import direction_loss, san_discriminator_loss
from ganbench.nets.san_head import attach_san_head
from ganbench.registry import METHODS


class SAN(AdversarialMethod):
    """SAN version of a loss-based GAN: use as ``class SANX(SAN, XGAN)``.

    ``d_loss`` / ``g_loss`` are the base method's (inherited from ``XGAN``); ``d_loss`` is
    applied to the ``fun`` outputs and the direction loss is added.
    """

    paper = "Takida et al. 2024, SAN: Inducing Metrizability of GAN with Discriminative Normalized Linear Layer"

    def __init__(self, params: MethodParams, info, device="cpu"):
        super().__init__(params, info, device)
        self.san_head = attach_san_head(self.D)  # ω unit-norm at construction
        self.opt_d = self._make_optimizer(self.D, params.lr_d)  # D's parameters changed

    def d_outputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(fun, dir)`` for a batch: fun = ⟨ω⁻, h(x)⟩, dir = ⟨ω, h(x)⁻⟩."""
        return self.san_head.split(self.D.features(x))

    def after_d_step(self) -> None:
        super().after_d_step()
        self.san_head.normalize_()

    def d_step_loss(self, real, fake):
        """V_SAN: the base loss on ⟨ω⁻, h⟩ plus the Wasserstein loss on ⟨ω, h⁻⟩; the direction loss
        as a detached 0-d tensor (no host sync)."""
        fun_real, dir_real = self.d_outputs(real)
        fun_fake, dir_fake = self.d_outputs(fake)
        loss_d = san_discriminator_loss(self.d_loss, fun_real, fun_fake, dir_real, dir_fake)
        return loss_d, {"loss_dir": direction_loss(dir_real, dir_fake).detach()}

    # the generator step uses the plain output ⟨ω, h(G(z))⟩: AdversarialMethod.g_step_loss


@METHODS.register("san_hinge")
class SANHinge(SAN, HingeGAN):
    name = "san_hinge"


@METHODS.register("san_gan")
class SANGAN(SAN, NonSaturatingGAN):
    name = "san_gan"


@METHODS.register("san_gan_minimax")
class SANMinimaxGAN(SAN, MinimaxGAN):
    name = "san_gan_minimax"
