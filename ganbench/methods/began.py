"""BEGAN (Berthelot, Schumm & Metz 2017, "BEGAN: Boundary Equilibrium Generative Adversarial
Networks", arXiv:1703.10717).

The discriminator is an auto-encoder and L(v) = |v − D(v)|^η is a sample's reconstruction
error, η = 1 (§3.1; per-pixel mean absolute error here, averaged over the batch). The
boundary-equilibrium objective (§3.4), with z_D, z_G ~ the prior:

    L_D = L(x) − k_t · L(G(z_D))
    L_G = L(G(z_G))
    k_{t+1} = clip(k_t + λ_k (γ L(x) − L(G(z_G))), 0, 1),   k_0 = 0

γ = E L(G(z)) / E L(x) is the diversity ratio the control loop holds (§3.3). The global
convergence measure (§3.4.1) is

    M = L(x) + |γ L(x) − L(G(z_G))|,

logged as ``began_m`` through :meth:`progress_values` at every evaluation: the mean of M over
the iterations since the previous evaluation (lower is better; it is a progress signal of
this method, not a quality metric comparable across methods or γ, so the report keeps it out
of the main table but in results.csv, the plots and MLflow).
k_t is method state: it and the running sum of M are saved in checkpoints (``extra_state``),
so a resumed trial continues exactly. k_t, L(x) and M's running sum are float64 0-d tensors on
the method's device (``torch.clamp`` for the clip): a step reads nothing back to Python, and
float64 is the arithmetic of the Python floats they replace, so the values are unchanged; L_D
uses k_t in the losses' dtype as before. M's window mean reaches Python at each evaluation,
k_t at each checkpoint. (A NaN loss now leaves k_t NaN where ``min``/``max`` set it to 0; the
trainer stops such a trial as diverged at its next logging window either way.)

Defaults (§4.1 of the paper): γ = 0.5 (the paper shows 0.3-0.7), λ_k = 0.001, k_0 = 0, Adam
lr 1e-4, h = N_z = 64 for images (``code_dim`` and ``z_dim``), ELU activations and no batch
norm in D (``d_norm: none``). Departures: the paper's Adam rate decay (halved whenever M
stalls) is not implemented; its batch size 16 is the suite's ``train.batch_size``, not a method
parameter; its z is uniform in [−1, 1], here N(0, I) like every ganbench method; its 3×3-conv
encoder/decoder with nearest-neighbour up-sampling and a G of the decoder's architecture are
replaced by ganbench's strided auto-encoder (:mod:`ganbench.nets.autoencoder`, ELU) and the
generator family's G (DCGAN, with batch norm); the D and G updates alternate within an
iteration (the paper updates both from one forward pass), so L(G(z_G)) in the k update and
in M is the generator step's value, through the D of this iteration. For 2D points: the MLP
auto-encoder with a 1-d code (a code as wide as the data lets D learn the identity: on ring8
with an 8-d code L(v) fell to ~0 everywhere, M to 0.004, and nothing was left to balance).
``pack`` and ``minibatch_std`` are rejected at validation.

Behaviour to expect: with λ_k = 0.001, k_t grows by about 1e-4 per step, so for the first
thousands of iterations D is mostly an auto-encoder of the data and G drifts to what D
reconstructs best; in a short MNIST run (600 iterations, width 16, batch 32) k reached only
0.07 and the samples had not formed digits (FCD ≈ 1140 vs ≈ 520 for ``gan``).
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from ganbench.data.base import DatasetInfo
from ganbench.methods.ebgan import AutoEncoderGAN, AutoEncoderGANParams, reconstruction_energy
from ganbench.nets.layers import DNorm
from ganbench.registry import METHODS


def k_update(k: torch.Tensor, loss_real: torch.Tensor, loss_fake: torch.Tensor, gamma: float,
             lambda_k: float) -> torch.Tensor:
    """k_{t+1} = clip(k_t + λ_k (γ L(x) − L(G(z_G))), 0, 1), on tensors (float64 in the method)."""
    return torch.clamp(k + lambda_k * (gamma * loss_real - loss_fake), 0.0, 1.0)


def convergence_measure(loss_real: torch.Tensor, loss_fake: torch.Tensor, gamma: float) -> torch.Tensor:
    """M = L(x) + |γ L(x) − L(G(z_G))|, on tensors."""
    return loss_real + (gamma * loss_real - loss_fake).abs()


def discriminator_loss(loss_real: torch.Tensor, loss_fake: torch.Tensor, k: torch.Tensor | float) -> torch.Tensor:
    """L_D = L(x) − k_t L(G(z_D)); a tensor k is used in the losses' dtype."""
    if isinstance(k, torch.Tensor):
        k = k.to(loss_fake.dtype)
    return loss_real - k * loss_fake


class BEGANParams(AutoEncoderGANParams):
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    d_norm: DNorm = "none"
    gamma: float = Field(0.5, ge=0.0, le=1.0)
    lambda_k: float = Field(0.001, ge=0.0)
    k_0: float = Field(0.0, ge=0.0, le=1.0)


@METHODS.register("began")
class BEGAN(AutoEncoderGAN):
    """BEGAN (Berthelot et al. 2017): L1 auto-encoder D, k_t control loop, convergence measure M."""

    name = "began"
    paper = "Berthelot, Schumm & Metz 2017, BEGAN: Boundary Equilibrium Generative Adversarial Networks"
    Params = BEGANParams
    activation = "elu"

    def __init__(self, params, info: DatasetInfo, device="cpu"):
        super().__init__(params, info, device)
        self.k = self._scalar(params.k_0)
        self._last_real = self._scalar(0.0)
        self._m_sum, self._m_count = self._scalar(0.0), 0

    def _scalar(self, value: float) -> torch.Tensor:
        """A float64 0-d tensor on the method's device (k_t, L(x) and M's running sum)."""
        return torch.tensor(float(value), dtype=torch.float64, device=self.device)

    @classmethod
    def data_defaults(cls, info: DatasetInfo) -> dict[str, Any]:
        defaults = super().data_defaults(info)
        return {**defaults, "code_dim": 1} if info.kind == "points" else {**defaults, "z_dim": 64}

    def recon_loss(self, v: torch.Tensor) -> torch.Tensor:
        """L(v) = |v − D(v)| (η = 1), per-pixel mean, averaged over the batch."""
        recon, _ = self.D(v)
        return reconstruction_energy(v, recon, power=1, reduction="mean").mean()

    def d_step_loss(self, real, fake):
        loss_real, loss_fake = self.recon_loss(real), self.recon_loss(fake)
        self._last_real = loss_real.detach().double()
        return discriminator_loss(loss_real, loss_fake, self.k), {
            "l_real": loss_real.detach(), "l_fake_d": loss_fake.detach(), "k": self.k}

    def g_step_loss(self, fake):
        loss_g = self.recon_loss(fake)
        l_fake, gamma = loss_g.detach().double(), self.params.gamma
        m = convergence_measure(self._last_real, l_fake, gamma)
        self._m_sum = self._m_sum + m
        self._m_count += 1
        self.k = k_update(self.k, self._last_real, l_fake, gamma, self.params.lambda_k)
        return loss_g, {"m": m}

    # -- progress signal and state ----------------------------------------------------------
    #: how the trainer describes ``began_m`` in the evaluation protocol (and its direction)
    @property
    def progress_protocol(self) -> dict[str, dict[str, Any]]:
        return {"began_m": {"source": "method", "direction": "min", "gamma": self.params.gamma,
                            "window": "mean of M over the iterations since the previous evaluation",
                            "definition": "M = L(x) + |gamma L(x) - L(G(z_G))|, Berthelot et al. 2017 §3.4.1"}}

    def progress_values(self) -> dict[str, float]:
        """``began_m``: the mean of M since the previous call (one call per evaluation); resets the window."""
        if self._m_count == 0:
            return {}
        value = float(self._m_sum) / self._m_count  # an evaluation's one host read of M
        self._m_sum, self._m_count = self._scalar(0.0), 0
        return {"began_m": value}

    def extra_state(self) -> dict[str, Any]:
        """Python floats (read at checkpoints only), the format of checkpoints before k lived on the device."""
        return {"k": float(self.k), "last_real": float(self._last_real), "m_sum": float(self._m_sum),
                "m_count": self._m_count}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.k = self._scalar(state.get("k", self.params.k_0))
        self._last_real = self._scalar(state.get("last_real", 0.0))
        self._m_sum = self._scalar(state.get("m_sum", 0.0))
        self._m_count = int(state.get("m_count", 0))
