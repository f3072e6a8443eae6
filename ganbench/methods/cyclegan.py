"""CycleGAN: Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks" (ICCV).

Two translators G: A → B (``G_ab``) and F: B → A (``G_ba``), two critics D_B (``D_b``) and
D_A (``D_a``). Objective (eq. 3), with the least-squares adversarial loss the paper trains
with (§4 "Training details", Mao et al. 2017) in place of eq. 1's log loss:

    L_GAN(G, D_B) = E_b[(D_B(b) − 1)²] + E_a[D_B(G(a))²]                   (D_B minimises)
    G minimises     E_a[(D_B(G(a)) − 1)²]        (and F likewise with D_A)
    L_cyc(G, F)   = E_a[‖F(G(a)) − a‖₁] + E_b[‖G(F(b)) − b‖₁]               (eq. 2)
    L_identity    = E_b[‖G(b) − b‖₁] + E_a[‖F(a) − a‖₁]                     (§5.2)
    L_G = L_GAN(G) + L_GAN(F) + λ L_cyc + λ_idt·λ L_identity,   λ = 10      (eq. 3)

‖·‖₁ is the mean absolute difference over pixels (as the authors' code). Each critic's loss is
divided by 2 ("slows down the rate at which D learns"), and the critics see generated images
drawn from a history of the 50 last generated ones (Shrivastava et al. 2017; §4): each new
image enters the pool while it has room; once full, with probability ½ a random pooled image
is returned in its place and replaced by it, else the new one is used.

One iteration (the authors' order): translate both batches, one Adam step on G and F
together for L_G, then one Adam step on D_A and D_B together for their losses on real images
and pooled translations. Adam(lr 2e-4, β = (0.5, 0.999)); the learning rate is constant for
the first half of training and decays linearly to zero over the second half (the paper:
100 + 100 epochs; here ``decay_from`` × the trial's iterations).

Departures: networks scaled to 28–32 px (:mod:`ganbench.nets.translation`: 2 residual
blocks, three-layer PatchGAN critic); the batch size is the suite's (the paper: 1);
``lambda_identity`` defaults to 0 (the paper uses 0.5 only for painting → photo; the authors'
code defaults to 0.5); the pool is kept in checkpoints.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field

from ganbench.methods.sngan import linear_decay
from ganbench.methods.translation import TranslationMethod, TranslationParams
from ganbench.registry import METHODS


def lsgan_d_loss(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """½ (E[(D(real) − 1)²] + E[D(fake)²]): the critic's least-squares loss, halved."""
    return 0.5 * ((real_out - 1).square().mean() + fake_out.square().mean())


def lsgan_g_loss(fake_out: torch.Tensor) -> torch.Tensor:
    """E[(D(G(x)) − 1)²]."""
    return (fake_out - 1).square().mean()


def l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference."""
    return (x - y).abs().mean()


def cycle_loss(a: torch.Tensor, a_cycled: torch.Tensor, b: torch.Tensor, b_cycled: torch.Tensor) -> torch.Tensor:
    """Eq. 2: ‖F(G(a)) − a‖₁ + ‖G(F(b)) − b‖₁ (means over pixels and batch)."""
    return l1(a_cycled, a) + l1(b_cycled, b)


class ImagePool:
    """The history of generated images the critics are trained on (size 0: no history).

    Its coin flips and indices come from torch's CPU generator and are read on the host; they
    are CPU tensors, so reading them never waits on the device the nets run on (the images
    themselves stay there)."""

    def __init__(self, size: int):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, batch: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return batch
        out = []
        for image in batch.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif float(torch.rand(())) < 0.5:  # torch's CPU RNG: seeded by the trial, checkpointed
                i = int(torch.randint(self.size, ()))
                out.append(self.images[i])
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state(self) -> torch.Tensor | None:
        return torch.stack(self.images).cpu() if self.images else None

    def load(self, images: torch.Tensor | None, device: torch.device) -> None:
        self.images = [] if images is None else [im.to(device) for im in images]


class CycleGANParams(TranslationParams):
    #: λ, the cycle-consistency weight (eq. 3)
    lambda_cycle: float = Field(10.0, ge=0.0)
    #: the identity loss's weight relative to λ (0: off; the paper's painting → photo: 0.5)
    lambda_identity: float = Field(0.0, ge=0.0)
    #: history of generated images per critic (0: the latest translations only)
    pool_size: int = Field(50, ge=0)
    #: fraction of the iterations after which the learning rate decays linearly to 0 (1: never)
    decay_from: float = Field(0.5, ge=0.0, le=1.0)


@METHODS.register("cyclegan")
class CycleGAN(TranslationMethod):
    name = "cyclegan"
    display_name = "CycleGAN"
    paper = "Zhu et al. 2017, Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks"
    Params: ClassVar = CycleGANParams
    unsupported_options: ClassVar[tuple[str, ...]] = (*TranslationMethod.unsupported_options, "n_critic")

    def __init__(self, params: CycleGANParams, info, device="cpu"):
        super().__init__(params, info, device)
        self.pool_a = ImagePool(params.pool_size)  # translations F(b), for D_A
        self.pool_b = ImagePool(params.pool_size)  # translations G(a), for D_B

    def generator_losses(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        """L_G's terms on one A and one B batch; also the translations, for the critics."""
        p = self.params
        fake_b, fake_a = self.G_ab(a), self.G_ba(b)
        gan = lsgan_g_loss(self.D_b(fake_b)) + lsgan_g_loss(self.D_a(fake_a))
        cyc = cycle_loss(a, self.G_ba(fake_b), b, self.G_ab(fake_a))
        total = gan + p.lambda_cycle * cyc
        out = {"gan": gan, "cycle": cyc, "fake_a": fake_a, "fake_b": fake_b}
        if p.lambda_identity > 0:
            idt = l1(self.G_ab(b), b) + l1(self.G_ba(a), a)
            total = total + p.lambda_identity * p.lambda_cycle * idt
            out["identity"] = idt
        out["total"] = total
        return out

    def critic_loss(self, a: torch.Tensor, b: torch.Tensor, fake_a: torch.Tensor, fake_b: torch.Tensor) -> torch.Tensor:
        """½-weighted least-squares losses of D_A and D_B, summed."""
        return lsgan_d_loss(self.D_a(a), self.D_a(fake_a)) + lsgan_d_loss(self.D_b(b), self.D_b(fake_b))

    def step(self, next_real) -> dict[str, torch.Tensor]:
        linear_decay((self.opt_g, self.opt_d), (self.params.lr_g, self.params.lr_d), self.iteration,
                     self.total_iterations, start=self.params.decay_from)
        a, b = self.real_batches(next_real)
        g = self.generator_losses(a, b)
        self.opt_g.zero_grad(set_to_none=True)
        g["total"].backward()
        self.opt_g.step()

        fake_a = self.pool_a.query(g["fake_a"].detach())
        fake_b = self.pool_b.query(g["fake_b"].detach())
        loss_d = self.critic_loss(a, b, fake_a, fake_b)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        self.iteration += 1
        stats = {"loss_g": g["total"].detach(), "loss_d": loss_d.detach(), "gan_g": g["gan"].detach(),
                 "cycle": g["cycle"].detach()}
        if "identity" in g:
            stats["identity"] = g["identity"].detach()
        return stats

    def extra_state(self) -> dict[str, Any]:
        return {"pool_a": self.pool_a.state(), "pool_b": self.pool_b.state()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.pool_a.load(state.get("pool_a"), self.device)
        self.pool_b.load(state.get("pool_b"), self.device)
