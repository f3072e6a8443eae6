"""EBGAN (Zhao, Mathieu & LeCun 2017, "Energy-based Generative Adversarial Network", ICLR).

The discriminator is an auto-encoder (§2.3) and the energy of a sample is its reconstruction
error, D(x) = ‖Dec(Enc(x)) − x‖ (squared error, see "energy scale" below). With margin m and
[·]⁺ = max(0, ·) (Eqs. 1-2):

    L_D = D(x) + [m − D(G(z))]⁺
    L_G = D(G(z)) + λ_PT · f_PT(S)

where the pulling-away term (§2.4, Eq. 6), on the encoder's codes S = Enc(G(z)) of the
generated batch (N codes, G's loss only), is

    f_PT(S) = 1 / (N(N − 1)) · Σ_i Σ_{j≠i} (S_iᵀ S_j / (‖S_i‖ ‖S_j‖))².

Defaults: margin m = 10 (the paper's MNIST value; CelebA 20, LSUN 80, ImageNet 40/80, its
experiment sections), λ_PT = 0.1 ("EBGAN-PT"), one D step per G step.

Energy scale (``energy_reduction``, default ``mean``: the squared error averaged over the
pixels, then over the batch). The margin only means something against the energy's scale: the
game needs real energies inside [0, m] (at the paper's equilibrium D(x) is a constant in
[0, m]) while D pushes generated samples' energy up to m. With the per-pixel *mean* on
ganbench's [−1, 1] images, real energies of a small auto-encoder are about 0.2 after a few
hundred steps, well inside [0, 10], and D can lift a fake's energy to m because the decoder's
output is linear (not tanh); measured on MNIST (width 16, 300 steps) the fakes' energy sits at
≈ 10.6. With the squared error *summed* over the 784 pixels (``sum``), real energies stay at
80-250 over the same run, far above m = 10: the hinge never acts, D is a plain auto-encoder of
the data and G collapsed (pulling-away term 0.99). The paper's margins also do not grow with
the pixel count (MNIST 10, 64×64 CelebA 20), which fits a per-pixel scale better than a sum;
either way m is a per-dataset hyperparameter. Behaviour to expect: in a short MNIST run
(600 iterations, width 16, batch 32) the fakes' energy stays pinned near m and the samples have
not formed digits (FCD ≈ 1100 vs ≈ 520 for ``gan``); on ring8 (width 64) it covered 8 modes
after 1000 iterations.

Networks: ganbench's generator family (``net``; DCGAN for images, MLP for points) and the
auto-encoder of :mod:`ganbench.nets.autoencoder` (``conv_ae`` / ``mlp_ae``; code size
``code_dim``, 64 for images, 8 for points) with LeakyReLU(0.2) and batch norm (``d_norm: bn``,
as the paper's DCGAN-style nets), Adam lr 2e-4, β1 0.5 (Radford et al.'s setting).
Departures: the paper grid-searched its MNIST nets and optimiser settings per experiment;
ganbench uses its shared DCGAN-sized nets and the DCGAN optimiser, z ~ N(0, I), and for 2D
points a margin of 1 (the paper has no point-data experiment). Options honoured: ``d_norm``
(the auto-encoder's normalisation; ``none`` for points, as for every method), ``net`` (the
generator family), ``ema_g``, ``n_critic``; ``pack`` and ``minibatch_std`` do not apply to an
auto-encoder that scores single samples and are rejected at validation (``unsupported_options``).

This module also holds :class:`AutoEncoderGAN`, the loop shared with BEGAN.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ganbench.data.base import DatasetInfo
from ganbench.methods.base import Method, MethodParams, RealSampler, generate
from ganbench.methods.ema import EMA
from ganbench.registry import METHODS, NETS


# ----------------------------------------------------------------------------- losses
def reconstruction_energy(x: torch.Tensor, recon: torch.Tensor, power: int = 2,
                          reduction: str = "mean") -> torch.Tensor:
    """Per-sample reconstruction error Σ_pixels |recon − x|^power (``sum``) or its mean (``mean``)."""
    err = (recon - x).abs().pow(power).flatten(1)
    if reduction == "sum":
        return err.sum(dim=1)
    if reduction == "mean":
        return err.mean(dim=1)
    raise ValueError(f"unknown energy reduction {reduction!r}")


def pulling_away_term(codes: torch.Tensor) -> torch.Tensor:
    """f_PT(S): mean squared cosine similarity over the ordered pairs i ≠ j of the batch."""
    n = codes.shape[0]
    if n < 2:
        return codes.new_zeros(())
    s = F.normalize(codes.flatten(1), dim=1)
    cos2 = (s @ s.t()).square()
    off_diagonal = ~torch.eye(n, dtype=torch.bool, device=codes.device)
    return cos2[off_diagonal].sum() / (n * (n - 1))


def discriminator_loss(energy_real: torch.Tensor, energy_fake: torch.Tensor, margin: float) -> torch.Tensor:
    """L_D = E D(x) + E [m − D(G(z))]⁺."""
    return energy_real.mean() + F.relu(margin - energy_fake).mean()


def generator_loss(energy_fake: torch.Tensor, codes: torch.Tensor, lambda_pt: float) -> torch.Tensor:
    """L_G = E D(G(z)) + λ_PT f_PT(Enc(G(z)))."""
    return energy_fake.mean() + lambda_pt * pulling_away_term(codes)


# ----------------------------------------------------------------------------- shared loop
class AutoEncoderGANParams(MethodParams):
    #: size of the auto-encoder's code h (None: 64 for images, 8 for points)
    code_dim: int | None = Field(None, ge=1)


class AutoEncoderGAN(Method):
    """G and an auto-encoder D trained by alternating steps (EBGAN, BEGAN).

    Per iteration: ``n_critic`` times {x ~ data, z ~ N(0, I); D <- D − lr_d ∇ d_step_loss},
    then z ~ N(0, I); G <- G − lr_g ∇ g_step_loss (D's gradients from it are discarded).
    ``step`` returns its losses and stats as detached 0-d tensors on the device (no host sync;
    the trainer averages them over a logging window, :mod:`ganbench.train`).
    """

    #: the auto-encoder's activation
    activation: ClassVar[str] = "leaky_relu"
    #: an auto-encoder scores single samples: no packing, no minibatch-std feature
    unsupported_options = ("pack", "minibatch_std")

    def __init__(self, params: MethodParams, info: DatasetInfo, device="cpu"):
        super().__init__(params, info, device)
        image = info.kind == "image"
        family = params.net if params.net != "auto" else ("dcgan" if image else "mlp")
        self.G = NETS.get(f"{family}_g")(params.z_dim, info.shape, width=params.width).to(self.device)
        self.D = NETS.get("conv_ae" if image else "mlp_ae")(
            info.shape, width=params.width, code_dim=params.code_dim, norm=params.d_norm,
            act=self.activation).to(self.device)
        betas = (params.beta1, params.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=params.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=params.lr_d, betas=betas)
        self.ema = EMA(self.G, params.ema_g) if params.ema_g is not None else None

    @classmethod
    def data_defaults(cls, info: DatasetInfo) -> dict[str, Any]:
        return {**super().data_defaults(info), "code_dim": 8 if info.kind == "points" else 64}

    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.params.z_dim, device=self.device, generator=generator)

    def d_step_loss(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """D's loss on a real and a (detached) generated batch, plus extra stats (detached 0-d tensors)."""
        raise NotImplementedError

    def g_step_loss(self, fake: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """G's loss on a generated batch, plus extra stats (detached 0-d tensors)."""
        raise NotImplementedError

    def step(self, next_real: RealSampler) -> dict[str, torch.Tensor]:
        stats: dict[str, torch.Tensor] = {}
        batch = None
        for _ in range(self.params.n_critic):
            real = next_real()
            batch = real.shape[0]
            with torch.no_grad():
                fake = self.G(self.prior(batch))
            loss_d, extra = self.d_step_loss(real, fake)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            stats["loss_d"] = loss_d.detach()
            stats.update(extra)
        if batch is None:
            batch = next_real().shape[0]
        loss_g, extra = self.g_step_loss(self.G(self.prior(batch)))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        if self.ema is not None:
            self.ema.update(self.G)
        stats["loss_g"] = loss_g.detach()
        stats.update(extra)
        self.iteration += 1
        return stats

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return generate(self.ema.module if self.ema is not None else self.G, self.prior(n, generator))

    def modules(self) -> dict[str, nn.Module]:
        nets: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        if self.ema is not None:
            nets["G_ema"] = self.ema
        return nets

    def optimizers(self):
        return {"G": self.opt_g, "D": self.opt_d}


# ----------------------------------------------------------------------------- EBGAN
class EBGANParams(AutoEncoderGANParams):
    #: m (None: 10 for images, the paper's MNIST value; 1 for points)
    margin: float | None = Field(None, gt=0)
    lambda_pt: float = Field(0.1, ge=0)
    energy_reduction: Literal["sum", "mean"] = "mean"


@METHODS.register("ebgan")
class EBGAN(AutoEncoderGAN):
    """EBGAN-PT (Zhao et al. 2017): auto-encoder energy, margin m, pulling-away term."""

    name = "ebgan"
    paper = "Zhao, Mathieu & LeCun 2017, Energy-based Generative Adversarial Network"
    Params = EBGANParams
    activation = "leaky_relu"

    @classmethod
    def data_defaults(cls, info: DatasetInfo) -> dict[str, Any]:
        return {**super().data_defaults(info), "margin": 1.0 if info.kind == "points" else 10.0}

    def energy(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        recon, codes = self.D(x)
        return reconstruction_energy(x, recon, 2, self.params.energy_reduction), codes

    def d_step_loss(self, real, fake):
        e_real, _ = self.energy(real)
        e_fake, _ = self.energy(fake)
        return discriminator_loss(e_real, e_fake, self.params.margin), {
            "energy_real": e_real.mean().detach(), "energy_fake": e_fake.mean().detach()}

    def g_step_loss(self, fake):
        e_fake, codes = self.energy(fake)
        with torch.no_grad():
            pt = pulling_away_term(codes)
        return generator_loss(e_fake, codes, self.params.lambda_pt), {"pt": pt}
