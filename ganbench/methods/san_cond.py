"""Class-conditional SAN: one unit-norm direction per class (Takida et al. 2024, conditioned).

Takida et al. 2024, "SAN: Inducing Metrizability of GAN with Discriminative Normalized Linear
Layer" (ICLR), arXiv 2301.12811; the unconditional methods are in :mod:`ganbench.methods.san`.
A student poster on SAN names a class-conditional SAN as its next step; the official
simple-san MNIST tutorial (sony/san, ``simple-san/``) has one.

**How the direction is conditioned, and why.** D(x, y) = ⟨ω_y, h(x)⟩ with one direction
ω_y ∈ S^{D−1} per class — the rows of a K × D embedding, each normalised — and a feature map
h(x) = s·φ(x) shared by all classes (:class:`~ganbench.nets.san_cond.ClassSANDiscriminator`).
This is the SAN analogue of the projection discriminator (Miyato & Koyama 2018, eq. 3:
D = ψ(φ(x)) + ⟨V_y, φ(x)⟩, the class picks the row of the last linear layer): SAN's
metrizability conditions are about the last linear layer's direction, so the class enters
exactly there, and each class gets its own optimal slicing direction (direction optimality per
class: ω_y* = argmax_ω d_⟨ω, h⟩(p_data(·|y), p_G(·|y))), while the features h are learned once.
It is how simple-san conditions its discriminator (the label selects a row of ``fc_w``). The
unconditional term ψ(φ(x)) of the projection D is left out: SAN's last layer is one inner
product with a unit vector, and ψ would be a second, unnormalised direction.

**Objectives, per class** (§2.3, with the class attached): D maximises

    V_SAN({ω_k}, h) = E_y [ V_hinge(⟨ω_y⁻, h⟩; p(·|y), G(·, y)) + E_{x|y}⟨ω_y, h⁻(x)⟩ − E_z⟨ω_y, h⁻(G(z, y))⟩ ]

as a loss on a batch of real (x_i, y_i) and generated (G(z_i, y_i), y_i):

    L_D = E relu(1 − fun_real) + E relu(1 + fun_fake) + E dir_fake − E dir_real
    fun = s·⟨ω_y⁻, φ(x)⟩,  dir = s⁻·⟨ω_y, φ⁻(x)⟩           (⁻: stop-gradient)
    L_G = −E D(G(z, y), y)                                    (the hinge G loss, unchanged)

so ω_k is moved only by the samples of class k, along (mean h of real class-k images − mean h of
generated class-k images) weighted by the class's share of the batch — the per-class
Wasserstein direction objective; the features learn the hinge objective through every class's
direction. After each D step every ω_k is renormalised (StyleSAN-XL).

Nets and defaults: G(z, y) = the family's generator on [z, onehot(y)] (``cond_concat_g``, as
``cgan``; simple-san joins z and a class embedding before its first linear layer, which a one-hot
through that layer is), D = the family's body with the class SAN head; ``net`` auto = DCGAN, BN
in D, Adam 2e-4, β = (0.5, 0.999), one D step — ``san_hinge``'s defaults, so that ``san_cond``
differs from ``san_hinge`` by the labels and from ``cgan`` by the SAN last layer and loss. The
simple-san optimiser is ``{lr_g: 1.0e-3, lr_d: 1.0e-3, beta1: 0.0, beta2: 0.99}``.

Departures: one scale s shared by the classes (simple-san's is per row; see the net's module);
fake labels are the real batch's labels (simple-san samples random class ids for its G step);
hinge base loss only (the paper's main setting).
"""

from __future__ import annotations

from ganbench.methods import hinge
from ganbench.methods.base import MethodParams
from ganbench.methods.conditional import ConditionalAdversarialMethod
from ganbench.methods.san_losses import direction_loss, san_discriminator_loss
from ganbench.registry import METHODS


class SANCondParams(MethodParams):
    """The shared options; their defaults are ``san_hinge``'s, named above (Adam 2e-4, β = (0.5,
    0.999), one D step, BN in D)."""


@METHODS.register("san_cond")
class SANCond(ConditionalAdversarialMethod):
    """Class-conditional SAN: D(x, y) = ⟨ω_y, h(x)⟩ with one unit-norm direction per class; hinge."""

    name = "san_cond"
    display_name = "cSAN"
    paper = "Takida et al. 2024, SAN: Inducing Metrizability of GAN with Discriminative Normalized Linear Layer"
    Params = SANCondParams

    d_net = "san_cond_d"

    def d_loss(self, real_logits, fake_logits):
        return hinge.discriminator_loss(real_logits, fake_logits)

    def g_loss(self, fake_logits):
        return hinge.generator_loss(fake_logits)

    def d_step_loss(self, real, y, fake, y_fake):
        """V_SAN per class: hinge on ⟨ω_y⁻, h⟩ plus the direction loss on ⟨ω_y, h⁻⟩."""
        fun_real, dir_real = self.D.split(real, y)
        fun_fake, dir_fake = self.D.split(fake, y_fake)
        loss = san_discriminator_loss(self.d_loss, fun_real, fun_fake, dir_real, dir_fake)
        return loss, {"loss_dir": direction_loss(dir_real, dir_fake).detach()}

    def after_d_step(self) -> None:
        super().after_d_step()
        self.D.head.normalize_()
