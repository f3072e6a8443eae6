"""SAN discriminator objectives on the D-step outputs ``fun`` and ``dir`` (Takida et al., ICLR 2024).

From the maximisation objective (the paper; sony/san's simple-san ``train.py`` and StyleSAN-XL
``training/loss.py`` for the hinge case)
    V_SAN(ω, h) = V(⟨ω⁻, h⟩; G) + E_data⟨ω, h⁻(x)⟩ − E_z⟨ω, h⁻(G(z))⟩:
the feature part is the base GAN's D loss on ``fun`` and the direction part is the
Wasserstein (linear) critic loss on ``dir``. As losses to minimise:

    L_D = L_D^base(fun_real, fun_fake) + E dir_fake − E dir_real

- hinge (sony/san simple-san ``compute_loss_san`` and StyleSAN-XL loss.py):
  E relu(1 − fun_real) + E relu(1 + fun_fake) − E dir_real + E dir_fake;
- non-saturating: E softplus(−fun_real) + E softplus(fun_fake) − E dir_real + E dir_fake
  (the general rule applied to the GAN loss; this pairing is not checked against the paper).
The generator loss is the base method's, unchanged, on the plain output.
Each piece reuses ganbench's own base loss (``gan``, ``hinge``, ``wgan`` modules).
"""

from __future__ import annotations

from typing import Callable

import torch

from ganbench.methods import gan, hinge, wgan

DLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def direction_loss(dir_real: torch.Tensor, dir_fake: torch.Tensor) -> torch.Tensor:
    """E dir_fake − E dir_real: minus the sliced (1D Wasserstein-1 dual) estimate along ω."""
    return wgan.critic_loss(dir_real, dir_fake)


def san_discriminator_loss(base: DLoss, fun_real: torch.Tensor, fun_fake: torch.Tensor,
                           dir_real: torch.Tensor, dir_fake: torch.Tensor) -> torch.Tensor:
    """The base D loss on the ``fun`` outputs plus the direction loss on the ``dir`` outputs."""
    return base(fun_real, fun_fake) + direction_loss(dir_real, dir_fake)


def hinge_discriminator_loss(fun_real, fun_fake, dir_real, dir_fake) -> torch.Tensor:
    return san_discriminator_loss(hinge.discriminator_loss, fun_real, fun_fake, dir_real, dir_fake)


def gan_discriminator_loss(fun_real, fun_fake, dir_real, dir_fake) -> torch.Tensor:
    return san_discriminator_loss(gan.discriminator_loss, fun_real, fun_fake, dir_real, dir_fake)
