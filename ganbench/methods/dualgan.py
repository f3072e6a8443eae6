"""DualGAN: Yi, Zhang, Tan & Gong 2017, "DualGAN: Unsupervised Dual Learning for
Image-to-Image Translation" (ICCV).

Domains U (= A) and V (= B); the primal translator G_A: U → V (``G_ab``) and the dual
G_B: V → U (``G_ba``); critic D_A scores V-images (real v against G_A(u): ``D_b`` here) and
D_B scores U-images (``D_a``). Wasserstein losses (Arjovsky et al. 2017), §3.1:

    l^d_A(u, v) = D_A(G_A(u)) − D_A(v)
    l^d_B(u, v) = D_B(G_B(v)) − D_B(u)
    l^g(u, v)   = λ_U ‖u − G_B(G_A(u))‖₁ + λ_V ‖v − G_A(G_B(v))‖₁ − D_B(G_B(v)) − D_A(G_A(u))

with batch means; ‖·‖₁ the mean absolute difference over pixels, as the authors' code.
Algorithm 1: repeat ``n_critic`` times {u ~ U, v ~ V; RMSProp step on D_A and D_B for
l^d_A + l^d_B; clip every critic weight to [−c, c]}; then one RMSProp step on G_A and G_B for
l^g (on the last critic batch). Defaults: RMSProp lr 5e-5 for both (WGAN's, as the paper),
c = 0.01 (WGAN's clip), n_critic = 2 (ours: Algorithm 1 leaves it a parameter), λ_U = λ_V = 100 (the paper sets
them "within [100.0, 1000.0]" by task; 100 is its lower end). The authors' released
TensorFlow code differs from the paper (cross-entropy losses, RMSProp decay 0.9, λ = 20, two
generator steps per critic step); ganbench follows the paper's Wasserstein formulation.

Departures: the translators are deterministic (the paper feeds noise to G as dropout; here
no noise, as CycleGAN), the shared encoder–decoder of :mod:`ganbench.nets.translation`
(2 residual blocks, batch norm) replaces the paper's U-Net, and the critics are its
three-layer PatchGAN (the paper: a 70×70 PatchGAN) at 28–32 px; the batch size is the
suite's (the paper: 1–4).
"""

from __future__ import annotations

import itertools
from typing import ClassVar, Literal

import torch
from pydantic import Field

from ganbench.methods.cyclegan import l1
from ganbench.methods.translation import TranslationMethod, TranslationParams
from ganbench.registry import METHODS


def wgan_critic_loss(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """E[D(fake)] − E[D(real)] (l^d; each critic minimises its own)."""
    return fake_out.mean() - real_out.mean()


def reconstruction_loss(u: torch.Tensor, u_rec: torch.Tensor, v: torch.Tensor, v_rec: torch.Tensor,
                        lambda_u: float, lambda_v: float) -> torch.Tensor:
    """λ_U ‖u − G_B(G_A(u))‖₁ + λ_V ‖v − G_A(G_B(v))‖₁ (mean absolute differences)."""
    return lambda_u * l1(u, u_rec) + lambda_v * l1(v, v_rec)


class DualGANParams(TranslationParams):
    lr_g: float = 5e-5
    lr_d: float = 5e-5
    n_critic: int = Field(2, ge=1)
    norm: Literal["instance", "batch", "none"] = "batch"
    #: λ_U: weight of U's (A's) reconstruction error
    lambda_u: float = Field(100.0, ge=0.0)
    #: λ_V: weight of V's (B's) reconstruction error
    lambda_v: float = Field(100.0, ge=0.0)
    #: c: every critic weight is clipped to [−c, c] after each critic step
    clip: float = Field(0.01, gt=0.0)


@METHODS.register("dualgan")
class DualGAN(TranslationMethod):
    name = "dualgan"
    display_name = "DualGAN"
    paper = "Yi et al. 2017, DualGAN: Unsupervised Dual Learning for Image-to-Image Translation"
    Params: ClassVar = DualGANParams
    unsupported_options: ClassVar[tuple[str, ...]] = (*TranslationMethod.unsupported_options, "beta1", "beta2")

    def make_optimizer(self, parameters, lr: float) -> torch.optim.Optimizer:
        return torch.optim.RMSprop(parameters, lr=lr)

    def critic_loss(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """l^d_A + l^d_B on one U batch and one V batch (translations detached)."""
        with torch.no_grad():
            fake_v, fake_u = self.G_ab(u), self.G_ba(v)
        return wgan_critic_loss(self.D_b(v), self.D_b(fake_v)) + wgan_critic_loss(self.D_a(u), self.D_a(fake_u))

    def generator_losses(self, u: torch.Tensor, v: torch.Tensor) -> dict[str, torch.Tensor]:
        fake_v, fake_u = self.G_ab(u), self.G_ba(v)
        rec = reconstruction_loss(u, self.G_ba(fake_v), v, self.G_ab(fake_u), self.params.lambda_u,
                                  self.params.lambda_v)
        adv = -self.D_a(fake_u).mean() - self.D_b(fake_v).mean()
        return {"total": rec + adv, "reconstruction": rec, "adversarial": adv}

    def clip_critics(self) -> None:
        c = self.params.clip
        with torch.no_grad():
            for w in itertools.chain(self.D_a.parameters(), self.D_b.parameters()):
                w.clamp_(-c, c)

    def step(self, next_real) -> dict[str, torch.Tensor]:
        u = v = None
        loss_d = torch.zeros(())
        for _ in range(self.params.n_critic):
            u, v = self.real_batches(next_real)
            loss_d = self.critic_loss(u, v)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            self.clip_critics()
        g = self.generator_losses(u, v)
        self.opt_g.zero_grad(set_to_none=True)
        g["total"].backward()
        self.opt_g.step()
        self.iteration += 1
        return {"loss_g": g["total"].detach(), "loss_d": loss_d.detach(),
                "reconstruction": g["reconstruction"].detach()}
