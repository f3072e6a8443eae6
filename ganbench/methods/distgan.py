"""Dist-GAN (Tran, Bui, Cheung, "Dist-GAN: An Improved GAN using Distance Constraints",
ECCV 2018, arXiv 1803.08887), as in the authors' official code (repository tntrung/gan,
``distgan_image/distgan.py`` and ``distgan_toy2d/``), plus the machinery it shares with GN-GAN
(:mod:`ganbench.methods.gngan`).

Networks: encoder E (x→z), generator G (z→x), discriminator D with logit l(x) and features
f(x) (D's flattened last block, before the linear head). Prior z ~ U(−1, 1)^d.

Per iteration, each step on a fresh real batch x and fresh z (official ``train()``):
 1. Auto-encoder step, min over E and G (E only in the official CIFAR/STL/CelebA branch,
    ``ae_updates_g: false``):
        L_R   = mean (f(x) − f(G(E(x))))² + λ_r · R_reg
        R_reg = (md_x − md_z)²,  md_x = mean(f(G(E(x))) − f(G(z))),  md_z = λ_w · mean(E(x) − z)
    (means over the batch and every dimension), λ_w = sqrt(d / D_feat).
 2. Discriminator step ("log" loss), min over D:
        L_D = w_real·BCE(l(x), 1) + w_recon·BCE(l(G(E(x))), 1) + BCE(l(G(z)), 0) + λ_p·V_P
    reconstructions count as *real*; w_real = 1 − w_recon and, with t = iteration/T,
        w_recon(t) = 0.05 · (1 − clip(4t − 2, 0, 1))        (official: 0.05 − clip(0.2t − 0.1, 0, 0.05))
    i.e. 0.05 for the first half of training, linearly down to 0 at t = 0.75, then 0.
    V_P = mean((slope − 1)²), slope = RMS of ∂l/∂x̂ on x̂ = εx + (1 − ε)G(z)  (:func:`distgan_penalty`).
 3. Generator step: L_G = |mean σ(l(x)) − mean σ(l(G(z)))| (the discriminator-score distance).
Adam for all three optimisers (lr 2e-4, β = (0.5, 0.9), DCGAN setting); λ_p = λ_r = 1; 1 D step.

Hinge variant (``loss: hinge``; G's loss stays the score distance, as in the official code):
    L_D = w_real·mean relu(1 − l(x)) + w_recon·mean relu(1 − l(G(E(x)))) + mean relu(1 + l(G(z))) + λ_p·V_P
implemented as *intended*. **Official-code bug, not reproduced:** the official DCGAN hinge
cost is −(hinge terms + λ_p·V_P), with the penalty inside the negation, so the penalty is
*maximised*; for its SNGAN/ResNet nets the hinge is applied to σ(l) instead of the logit.

Where ganbench departs from the paper or the official code:
- The T of the w_recon schedule is ``schedule_iterations``; when that is None, the trial's
  iteration budget (``self.total_iterations``, which the trainer sets — see the report to
  the lead), and failing that the official MNIST ``n_steps`` = 100 000. ``recon_decay: false``
  gives the older code's constant weights (0.95 / 0.05).
- Data are in [−1, 1] and G ends in tanh (Dist-GAN: [0, 1] and a sigmoid output).
- Nets are ganbench's DCGAN/MLP nets (4×4 convs, two down-sampling blocks on 28×28, so
  D_feat = 2·width·7·7 = 6272 at width 64 instead of the official 4096); λ_w is computed
  from the actual feature size in :meth:`DistGAN.resolve_params`.
- 2D points (official ``distgan_toy2d``): the toy code's data-space auto-encoder (``ae_space:
  data``; MSE instead of its sigmoid cross-entropy on [0, 1]-rescaled data, since ganbench's
  points are in original units), R_reg on G's outputs with λ_w = sqrt(d / data_dim) (= 1 in
  2D, as the toy code, which has no λ_w), toy defaults lr 1e-3, β = (0.8, 0.999),
  λ_p = λ_r = 0.1, 5 D steps. Not reproduced: its ×0.9 learning-rate decay every 10k steps,
  and its D loss 0.5·(BCE(real, 1) + BCE(recon, **0**)), which labels reconstructions fake,
  contradicting the image code; ganbench uses the image code's D loss everywhere.
- The official code computes everything of an iteration in one TF graph with batch norm in
  training mode; ganbench calls D separately on each batch (x, reconstructions, G(z),
  interpolates), so each call normalises with its own batch statistics, as the TF code does.
"""

from __future__ import annotations

import abc
import contextlib
import math
from typing import Any, ClassVar, Iterator, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.data.base import DatasetInfo
from ganbench.methods.adversarial import build_nets
from ganbench.methods.base import Method, MethodParams, RealSampler, generate
from ganbench.methods.gradient_matching import score_distance
from ganbench.methods.penalties import input_gradients, interpolate
from ganbench.registry import METHODS, NETS

#: T of the w_recon schedule when neither the params nor the trainer give one (official MNIST n_steps)
DEFAULT_SCHEDULE_ITERATIONS = 100_000


# ---------------------------------------------------------------------------------------------
# The pieces shared with GN-GAN

def distgan_penalty(critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Dist-GAN's gradient penalty V_P (also GN-GAN's, with λ_p = 1).

    x̂ = εx + (1 − ε)G(z), ε ~ U(0, 1) per sample;
    slope = sqrt(mean over input dims of (∂l(x̂)/∂x̂)²), the **RMS** of the logit's input
    gradient (official ``tf.sqrt(tf.reduce_mean(tf.square(gradients), 1))``);
    V_P = mean over the batch of (slope − 1)².
    This is *not* the WGAN-GP penalty (:func:`ganbench.methods.penalties.wgan_gp_penalty`),
    whose slope is the L2 norm: with n input dims, RMS = ‖∇‖₂/√n, so on 28×28 images the unit
    target corresponds to an L2 norm of 28.
    """
    grad = input_gradients(critic, interpolate(real, fake)).flatten(1)
    slope = torch.linalg.vector_norm(grad, dim=1) / math.sqrt(grad.shape[1])  # = RMS, safe at 0
    return ((slope - 1.0) ** 2).mean()


def recon_weight_schedule(t: float, w0: float = 0.05) -> float:
    """Official Dist-GAN weight of reconstructions in D's loss at training progress t ∈ [0, 1].

    w0 until t = 0.5, linear to 0 at t = 0.75, 0 after (0.05 − clip(0.2t − 0.1, 0, 0.05) for w0 = 0.05).
    """
    return w0 * (1.0 - min(max(4.0 * t - 2.0, 0.0), 1.0))


def d_loss_log(l_real: torch.Tensor, l_recon: torch.Tensor, l_fake: torch.Tensor,
               w_recon: float) -> torch.Tensor:
    """(1 − w)·BCE(l(x), 1) + w·BCE(l(G(E(x))), 1) + BCE(l(G(z)), 0), penalty excluded.

    With w = α this is −[(1−α) E log D(x) + α E log D(G(E(x))) + E log(1 − D(G(z)))], GN-GAN's −V_D.
    """
    return ((1.0 - w_recon) * F.softplus(-l_real).mean() + w_recon * F.softplus(-l_recon).mean()
            + F.softplus(l_fake).mean())


def d_loss_hinge(l_real: torch.Tensor, l_recon: torch.Tensor, l_fake: torch.Tensor,
                 w_recon: float) -> torch.Tensor:
    """(1 − w)·mean relu(1 − l(x)) + w·mean relu(1 − l(G(E(x)))) + mean relu(1 + l(G(z))), on logits."""
    return ((1.0 - w_recon) * F.relu(1.0 - l_real).mean() + w_recon * F.relu(1.0 - l_recon).mean()
            + F.relu(1.0 + l_fake).mean())


D_LOSSES = {"log": d_loss_log, "hinge": d_loss_hinge}


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Parameters of ``module`` do not require grad inside the block (inputs still can)."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def build_encoder(params: MethodParams, info: DatasetInfo) -> nn.Module:
    """DCGAN-mirror encoder for images, MLP for points (:mod:`ganbench.nets.encoder`)."""
    name = "dcgan_e" if info.kind == "image" else "mlp_e"
    return NETS.get(name)(info.shape, params.z_dim, width=params.width)


class AutoEncodingGANParams(MethodParams):
    """Shared by Dist-GAN and GN-GAN: Dist-GAN's DCGAN setting (official code, tntrung/gan)."""

    lr_e: float = 2e-4  # the auto-encoder step's Adam (official opt_r)
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.9
    n_critic: int = 1
    d_norm: str = "bn"
    loss: Literal["log", "hinge"] = "log"
    lambda_p: float = 1.0
    lambda_r: float = 1.0
    #: the AE step updates G as well as E (official MNIST branch; E only for CIFAR/STL/CelebA)
    ae_updates_g: bool = True


#: Dist-GAN toy-2D code settings (distgan_toy2d.py), the defaults for point data
TOY_DEFAULTS: dict[str, Any] = {
    "z_dim": 2, "width": 128, "lr_e": 1e-3, "lr_g": 1e-3, "lr_d": 1e-3, "beta1": 0.8,
    "beta2": 0.999, "lambda_p": 0.1, "lambda_r": 0.1, "n_critic": 5,
}


class AutoEncodingGAN(Method):
    """E, G, D and the per-iteration loop AE step -> n_critic D steps -> G step.

    Subclasses supply :meth:`ae_loss`, :meth:`g_loss` and :meth:`recon_weight`. D's step
    (log or hinge loss with reconstructions as real, plus λ_p·V_P) is common.
    ``fresh_batches``: draw a new (x, z) for every step (Dist-GAN's official loop) or use the
    iteration's (x, z) for the AE, first D and G steps (GN-GAN's Algorithm 1).
    """

    Params: ClassVar[type[MethodParams]] = AutoEncodingGANParams
    fresh_batches: ClassVar[bool] = True

    def __init__(self, params: AutoEncodingGANParams, info: DatasetInfo, device="cpu"):
        super().__init__(params, info, device)
        g, d = build_nets(params, info)
        self.G, self.D = g.to(self.device), d.to(self.device)
        self.E = build_encoder(params, info).to(self.device)
        betas = (params.beta1, params.beta2)
        # three Adams as in the official code: the AE step's (E, plus G when ae_updates_g), G's, D's
        ae_params = list(self.E.parameters()) + (list(self.G.parameters()) if params.ae_updates_g else [])
        self.opt_e = torch.optim.Adam(ae_params, lr=params.lr_e, betas=betas)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=params.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=params.lr_d, betas=betas)

    @classmethod
    def data_defaults(cls, info: DatasetInfo) -> dict[str, Any]:
        if info.kind == "points":
            return dict(TOY_DEFAULTS)
        return super().data_defaults(info)

    # -- the paper's pieces -------------------------------------------------------------
    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ U(−1, 1)^d (Dist-GAN ``sample_z``)."""
        return torch.rand(n, self.params.z_dim, device=self.device, generator=generator) * 2.0 - 1.0

    @abc.abstractmethod
    def ae_loss(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The auto-encoder objective (minimised over E and G); D is frozen."""

    @abc.abstractmethod
    def g_loss(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The generator objective; D is frozen."""

    @abc.abstractmethod
    def recon_weight(self) -> float:
        """Weight of the reconstructions (counted as real) in D's loss now."""

    # -- the three steps ------------------------------------------------------------------
    def ae_step(self, x: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        with frozen(self.D):
            loss, stats = self.ae_loss(x, z)
        self.opt_e.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_e.step()
        return {"loss_ae": loss.detach(), **stats}

    def d_step(self, x: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            fake = self.G(z)
            recon = self.G(self.E(x))
        w_recon = self.recon_weight()
        loss = D_LOSSES[self.params.loss](self.D(x), self.D(recon), self.D(fake), w_recon)
        penalty = distgan_penalty(self.D, x, fake)
        self.opt_d.zero_grad(set_to_none=True)
        (loss + self.params.lambda_p * penalty).backward()
        self.opt_d.step()
        # the schedule's value is a Python float: a device fill (a kernel, not a copy) keeps every
        # logged value a device tensor
        return {"loss_d": loss.detach(), "penalty": penalty.detach(), "w_recon": loss.new_full((), w_recon)}

    def g_step(self, x: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        with frozen(self.D):
            loss, stats = self.g_loss(x, z)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return {"loss_g": loss.detach(), **stats}

    def step(self, next_real: RealSampler) -> dict[str, torch.Tensor]:
        x = next_real()
        z = self.prior(x.shape[0])
        stats = self.ae_step(x, z)
        for k in range(self.params.n_critic):
            if self.fresh_batches or k > 0:
                xd = next_real()
                zd = self.prior(xd.shape[0])
            else:
                xd, zd = x, z
            stats.update(self.d_step(xd, zd))
        if self.fresh_batches:
            x = next_real()
            z = self.prior(x.shape[0])
        stats.update(self.g_step(x, z))
        self.iteration += 1
        return stats

    # -- sampling and state -----------------------------------------------------------------
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """G(z), z ~ U(−1, 1)^d, with G's batch norm in eval mode; images in [−1, 1] (tanh)."""
        return generate(self.G, self.prior(n, generator))

    def modules(self) -> dict[str, nn.Module]:
        return {"E": self.E, "G": self.G, "D": self.D}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """``E``: the auto-encoder step's Adam (E's parameters, and G's when ``ae_updates_g``:
        the official ``opt_r``, with its own moments for G); ``G``; ``D``."""
        return {"E": self.opt_e, "G": self.opt_g, "D": self.opt_d}


# ---------------------------------------------------------------------------------------------
# Dist-GAN

class DistGANParams(AutoEncodingGANParams):
    #: md_z scale; None -> sqrt(z_dim / dim of the AE space), made concrete by resolve_params
    lambda_w: float | None = None
    #: where the AE loss and md_x are measured: D's features (image code) or G's outputs (toy code)
    ae_space: Literal["feature", "data"] = "feature"
    #: initial weight of reconstructions-as-real in D's loss
    w_recon: float = 0.05
    #: the official schedule (w_recon until T/2, linear to 0 at 3T/4); false: constant w_recon
    recon_decay: bool = True
    #: T of that schedule; None -> the trial's iteration count (see the module docstring)
    schedule_iterations: int | None = None


@METHODS.register("distgan")
class DistGAN(AutoEncodingGAN):
    name = "distgan"
    paper = "Tran et al. 2018, Dist-GAN: An Improved GAN using Distance Constraints"
    Params = DistGANParams

    @classmethod
    def data_defaults(cls, info: DatasetInfo) -> dict[str, Any]:
        defaults = super().data_defaults(info)
        if info.kind == "points":
            defaults["ae_space"] = "data"
        return defaults

    @classmethod
    def resolve_params(cls, overrides: dict[str, Any], info: DatasetInfo) -> dict[str, Any]:
        """Base resolution, then λ_w = sqrt(z_dim / D_feat) (or / data dim) filled in."""
        resolved = super().resolve_params(overrides, info)
        if resolved["lambda_w"] is None:
            params = cls.Params(**resolved)
            if params.ae_space == "feature":
                with torch.random.fork_rng(devices=[]):  # building nets must not move the global RNG
                    dim = build_nets(params, info)[1].feature_dim
            else:
                dim = math.prod(info.shape)
            resolved["lambda_w"] = math.sqrt(params.z_dim / dim)
        return resolved

    def _lambda_w(self) -> float:
        if self.params.lambda_w is not None:
            return self.params.lambda_w
        dim = self.D.feature_dim if self.params.ae_space == "feature" else math.prod(self.info.shape)
        return math.sqrt(self.params.z_dim / dim)

    def _space(self, x: torch.Tensor) -> torch.Tensor:
        return self.D.features(x) if self.params.ae_space == "feature" else x.flatten(1)

    def ae_loss(self, x, z):
        ze = self.E(x)
        recon = self.G(ze)
        fake = self.G(z)
        with torch.no_grad():
            f_real = self._space(x)
        f_recon, f_fake = self._space(recon), self._space(fake)
        ae = (f_real - f_recon).pow(2).mean()
        md_x = (f_recon - f_fake).mean()
        md_z = self._lambda_w() * (ze - z).mean()
        reg = (md_x - md_z).pow(2)
        return ae + self.params.lambda_r * reg, {"ae_rec": ae.detach(), "ae_reg": reg.detach()}

    def schedule_length(self) -> int:
        return (self.params.schedule_iterations or getattr(self, "total_iterations", None)
                or DEFAULT_SCHEDULE_ITERATIONS)

    def recon_weight(self) -> float:
        if not self.params.recon_decay:
            return self.params.w_recon
        return recon_weight_schedule(self.iteration / self.schedule_length(), self.params.w_recon)

    def g_loss(self, x, z):
        with torch.no_grad():
            real_probs = torch.sigmoid(self.D(x))
        fake_probs = torch.sigmoid(self.D(self.G(z)))
        return score_distance(real_probs, fake_probs), {}
