"""DiscoGAN: Kim, Cha, Kim, Lee & Kim 2017, "Learning to Discover Cross-Domain Relations
with Generative Adversarial Networks" (ICML).

Two coupled GANs: G_AB (``G_ab``) with critic D_B (``D_b``), G_BA (``G_ba``) with D_A
(``D_a``), each generator also reconstructing its input through the other (§2.3, eqs. 2–5):

    x_AB = G_AB(x_A),   x_ABA = G_BA(x_AB)
    L_CONST_A = d(x_ABA, x_A)                        d: mean squared error (the paper allows
                                                        MSE, cosine or hinge distances)
    L_GAN_B   = −E_{x_A}[log D_B(G_AB(x_A))]
    L_G_AB    = L_GAN_B + L_CONST_A,   L_G_BA = L_GAN_A + L_CONST_B  (symmetrically)
    L_G       = L_G_AB + L_G_BA
    L_D_B     = −E_{x_B}[log D_B(x_B)] − E_{x_A}[log(1 − D_B(G_AB(x_A)))]
    L_D       = L_D_A + L_D_B

with D's outputs as logits (log D = −softplus(−logit), log(1 − D) = −softplus(logit)).
``lambda_rec`` (default 1: the paper's sum) weighs L_CONST_A and L_CONST_B. One iteration:
one Adam step on both generators for L_G, then one on both critics for L_D on the same
batches (translations detached). Adam(lr 2e-4, β = (0.5, 0.999)), batch norm in generator and
critics (§3 "Network architecture").

Departures: networks scaled to 28–32 px — the generator is the shared encoder–decoder of
:mod:`ganbench.nets.translation` without residual blocks (the paper's is a plain conv/deconv
encoder–decoder, 4 layers each way at 64 px), the critic its three-layer conv stack with one
global logit (the paper: the encoder's conv stack and a sigmoid); the batch size is the
suite's.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from ganbench.methods.translation import TranslationMethod, TranslationParams
from ganbench.registry import METHODS


def gan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """−E[log D(real)] − E[log(1 − D(fake))] with D = sigmoid(logit)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def gan_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """−E[log D(G(x))]."""
    return F.softplus(-fake_logits).mean()


def mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x - y).square().mean()


def reconstruction_loss(a: torch.Tensor, a_rec: torch.Tensor, b: torch.Tensor, b_rec: torch.Tensor) -> torch.Tensor:
    """L_CONST_A + L_CONST_B = MSE(x_ABA, x_A) + MSE(x_BAB, x_B)."""
    return mse(a_rec, a) + mse(b_rec, b)


class DiscoGANParams(TranslationParams):
    n_res: int = Field(0, ge=0)
    norm: Literal["instance", "batch", "none"] = "batch"
    patch_d: bool = False
    #: weight of the reconstruction losses L_CONST (the paper: 1)
    lambda_rec: float = Field(1.0, ge=0.0)


@METHODS.register("discogan")
class DiscoGAN(TranslationMethod):
    name = "discogan"
    display_name = "DiscoGAN"
    paper = "Kim et al. 2017, Learning to Discover Cross-Domain Relations with Generative Adversarial Networks"
    Params: ClassVar = DiscoGANParams
    unsupported_options: ClassVar[tuple[str, ...]] = (*TranslationMethod.unsupported_options, "n_critic")

    def generator_losses(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        x_ab, x_ba = self.G_ab(a), self.G_ba(b)
        gan = gan_g_loss(self.D_b(x_ab)) + gan_g_loss(self.D_a(x_ba))  # L_GAN_B + L_GAN_A
        rec = reconstruction_loss(a, self.G_ba(x_ab), b, self.G_ab(x_ba))  # L_CONST_A + L_CONST_B
        return {"total": gan + self.params.lambda_rec * rec, "gan": gan, "reconstruction": rec,
                "x_ab": x_ab, "x_ba": x_ba}

    def critic_loss(self, a, b, x_ba, x_ab) -> torch.Tensor:
        """L_D_A + L_D_B on real batches and detached translations."""
        return gan_d_loss(self.D_a(a), self.D_a(x_ba)) + gan_d_loss(self.D_b(b), self.D_b(x_ab))

    def step(self, next_real) -> dict[str, torch.Tensor]:
        a, b = self.real_batches(next_real)
        g = self.generator_losses(a, b)
        self.opt_g.zero_grad(set_to_none=True)
        g["total"].backward()
        self.opt_g.step()
        loss_d = self.critic_loss(a, b, g["x_ba"].detach(), g["x_ab"].detach())
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        self.iteration += 1
        return {"loss_g": g["total"].detach(), "loss_d": loss_d.detach(),
                "reconstruction": g["reconstruction"].detach()}
