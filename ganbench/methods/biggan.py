"""BigGAN (Brock et al. 2019), scaled to 28–32 px.

Brock, Donahue, Simonyan 2019, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis" (ICLR). A class-conditional GAN built from the pieces the paper combines (§3, §4):

- G (:class:`~ganbench.nets.biggan.BigGANGenerator`): class-conditional BN from a **shared
  class embedding**, **hierarchical latent** (z split into one chunk per block, each joined to
  the embedding), residual up-blocks, **SN on every layer**, orthogonal initialisation.
- D: the **projection discriminator** (Miyato & Koyama 2018, eq. 3: D(x, y) = ψ(φ(x)) +
  ⟨V_y, φ(x)⟩; :class:`~ganbench.nets.conditional.ProjectionDiscriminator`) on the SN-GAN ResNet
  body (optimised down-block, down-block, two plain blocks, ReLU, sum pooling) with **SN on
  every layer**, V included — the layout of the paper's 32 px D (Appendix B), with 4·width
  channels as the paper's 4·ch, orthogonally re-initialised as the paper's.
- **Hinge loss** (§3, after Lim & Ye 2017 and Miyato et al. 2018):
      L_D = E relu(1 − D(x, y)) + E relu(1 + D(G(z, y), y)),   L_G = −E D(G(z, y), y)
- **Orthogonal regularisation** (§3.1, eq. 3, the paper's own variant): added to L_G,
      R_β(W) = β ‖WᵀW ⊙ (1 − I)‖²_F,  β = 1e-4,
  summed over every weight of G with two or more dimensions (a conv kernel is viewed as
  out_channels × (in·kh·kw), i.e. W's columns are the filters), the shared class embedding
  excepted (as the authors' ``ortho`` blacklist); under SN it acts on the raw weight.
  Departure: here R is a loss term differentiated by autograd, ∇R = 4β (WWᵀ ⊙ (1 − I)) W; the
  authors' BigGAN-PyTorch adds 2β (WWᵀ ⊙ (1 − I)) W straight to the gradient (half that), so
  β here is twice as strong as the same number there (recalled from the code, not re-checked).
- **EMA of G** (§4 and the appendix: decay 0.9999, started at iteration 20,000; recalled): used for sampling
  and evaluation. ganbench trials are far shorter than the paper's 150k+ iterations (20k in the
  full suites, a few hundred in quick profiles), and an average with decay β remembers about
  1/(1 − β) steps: at 0.9999 it would still be 90 % the weights of the first G update after a
  1,000-step run. The default here is **0.999** (a 1,000-step horizon, Karras et al. 2018's
  value) and the average **starts at half the trial** (``ema_start: 0.5``: before it, the average
  copies G, as BigGAN's ``ema_start``); runs of under ~2,000 iterations should set ``ema_g: 0.99``.
- Optimiser (§3): Adam, lr_G 5e-5, lr_D 2e-4 (the paper's 1 : 4), β = (0, 0.999),
  **two D steps per G step** (``n_critic: 2``); z ~ N(0, I) of 120 dims (the paper's 128 px
  ``dim_z``; it splits evenly into 3 and 4 chunks), shared embedding 128-d.
- **Truncation trick** (§3.1) at sampling, an evaluation option: ``truncation: t`` draws z from
  N(0, I) truncated to |z_i| ≤ t (every component outside is redrawn until it falls inside);
  ``None`` (default) = off, the plain prior. Training always uses the plain prior. The value
  is part of the method's params, so every trial's record says whether its scores were
  measured with truncation.

Departures (besides the EMA schedule above): fake labels are the real batch's labels (the
conditional loop of :mod:`ganbench.methods.conditional`; the paper samples them); no
self-attention (absent from the paper's 32 px model); batch size, width and iterations come
from the suite (the paper's CIFAR-10 batch is 50, ``ch`` 64); 28 px uses two up-blocks.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import nn

from ganbench.data.base import DatasetInfo
from ganbench.methods import hinge
from ganbench.methods.base import MethodParams, RealSampler
from ganbench.methods.conditional import ConditionalAdversarialMethod
from ganbench.nets.biggan import orthogonal_init
from ganbench.nets.layers import DNorm
from ganbench.registry import METHODS, NETS


class BigGANParams(MethodParams):
    lr_g: float = 5e-5
    lr_d: float = 2e-4
    beta1: float = 0.0
    beta2: float = 0.999
    n_critic: int = 2
    d_norm: DNorm = "spectral"
    ema_g: float | None = Field(0.999, ge=0.0, lt=1.0)
    #: the share of the trial's iterations after which G's average starts (before: a copy of G)
    ema_start: float = Field(0.5, ge=0.0, le=1.0)
    #: β of the orthogonal regularisation added to G's loss (0: off)
    ortho_beta: float = Field(1e-4, ge=0.0)
    #: width of the shared class embedding joined to each z chunk
    shared_dim: int = Field(128, ge=1)
    #: the truncation trick at sampling: |z_i| ≤ t, redrawn outside; None = off
    truncation: float | None = Field(None, gt=0.0)


def orthogonal_penalty(weights: list[torch.Tensor], beta: float) -> torch.Tensor:
    """β Σ_W ‖W Wᵀ ⊙ (1 − I)‖²_F, each W viewed as rows = filters (out × rest)."""
    total = weights[0].new_zeros(())
    for w in weights:
        w = w.reshape(w.shape[0], -1)
        gram = w @ w.t()
        off = gram - torch.diag_embed(torch.diagonal(gram))
        total = total + off.square().sum()
    return beta * total


def truncated_normal(n: int, dim: int, threshold: float, device, generator: torch.Generator | None = None
                     ) -> torch.Tensor:
    """z ~ N(0, I) with every component |z_i| > ``threshold`` redrawn until it is inside."""
    z = torch.randn(n, dim, device=device, generator=generator)
    outside = z.abs() > threshold
    while bool(outside.any()):
        z[outside] = torch.randn(int(outside.sum()), device=device, generator=generator)
        outside = z.abs() > threshold
    return z


@METHODS.register("biggan")
class BigGAN(ConditionalAdversarialMethod):
    """BigGAN (Brock et al. 2019) at 28–32 px: shared-embedding CBN, hierarchical z, SN, hinge, projection D, orthogonal reg., EMA, truncation."""

    name = "biggan"
    display_name = "BigGAN"
    paper = "Brock et al. 2019, Large Scale GAN Training for High Fidelity Natural Image Synthesis"
    Params = BigGANParams
    #: no packing (conditional loop); G and D are BigGAN's own, not a ``net`` family's
    unsupported_options = ("pack", "net")

    @classmethod
    def data_defaults(cls, info: DatasetInfo) -> dict[str, Any]:
        return {**super().data_defaults(info), "z_dim": 120}

    def build_nets(self, params, info: DatasetInfo) -> tuple[nn.Module, nn.Module]:
        g = NETS.get("biggan_g")(params.z_dim, info.shape, info.num_classes, width=params.width,
                                 shared_dim=params.shared_dim)
        # SN-GAN's ResNet D has 2·width channels: 2·(2·width) = BigGAN's 4·ch
        d = NETS.get("projection_d")("resnet", info.shape, info.num_classes, width=2 * params.width,
                                     norm=params.d_norm, minibatch_std=params.minibatch_std)
        orthogonal_init(d)
        return g, d

    def d_loss(self, real_logits, fake_logits):
        return hinge.discriminator_loss(real_logits, fake_logits)

    def g_loss(self, fake_logits):
        return hinge.generator_loss(fake_logits)

    def ortho_weights(self) -> list[torch.Tensor]:
        """G's weights with ≥ 2 dimensions (raw weights under SN), the shared embedding excepted."""
        shared = self.G.shared.weight
        return [p for p in self.G.parameters() if p.dim() >= 2 and p is not shared]

    def g_regularizer(self) -> torch.Tensor | None:
        if self.params.ortho_beta == 0:
            return None
        return orthogonal_penalty(self.ortho_weights(), self.params.ortho_beta)

    def ema_started(self) -> bool:
        if self.total_iterations is None:
            return True
        return self.iteration >= self.params.ema_start * self.total_iterations

    def step(self, next_real: RealSampler) -> dict[str, torch.Tensor]:
        stats = super().step(next_real)
        if self.G_ema is not None and not self.ema_started():
            # BigGAN's ema_start: until then the "average" is G itself
            self.G_ema.module.load_state_dict(self.G.state_dict())
        return stats

    def eval_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The z of ``sample`` and ``sample_figure`` (drawn by the conditional base from the EMA
        G): truncated at ``truncation`` when it is set."""
        if self.params.truncation is None:
            return self.prior(n, generator)
        return truncated_normal(n, self.params.z_dim, self.params.truncation, self.device, generator)
