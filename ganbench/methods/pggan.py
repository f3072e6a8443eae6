"""Progressive growing of GANs (Karras, Aila, Laine & Lehtinen 2018, "Progressive Growing of
GANs for Improved Quality, Stability, and Variation", ICLR; presented in the "Progressive
Growth of GAN" slides of Université Laval's GLO-4030/7030 deep-learning course, GAN lecture).

Per iteration, at the growth state (stage s, fade weight α) read off ``self.iteration``:
  x ~ data, downscaled (2×2 average pools) to the stage's resolution; while fading a new
      stage in, x <- (1 - α)·up(avgpool(x)) + α·x, as G's output is blended (Fig. 2 caption)
  z ~ N(0, I);  D <- Adam step on  E D(G(z)) - E D(x) + λ E(‖∇_x̂ D(x̂)‖₂ - 1)² + ε_drift E D(x)²
                (WGAN-GP, Gulrajani et al. 2017, Eq. 3, plus the drift term of Appendix A.1)
  z ~ N(0, I);  G <- Adam step on  -E D(G(z))
Networks: :mod:`ganbench.nets.pggan` (pixel norm in G §4.2, equalised learning rate §4.1,
minibatch standard deviation at D's lowest-resolution block §3, nearest upsampling and
average-pool downsampling, all resolutions' blocks built up front so the optimisers cover every
parameter from the first step).

Defaults (paper §A.1 and the official config.py/loss.py, tkarras/progressive_growing_of_gans):
Adam lr 1e-3, β = (0, 0.99), ε 1e-8; λ = 10; ε_drift = 0.001; one critic step per generator
step (``D_training_repeats = 1``); the minibatch-std group size 4.

Growth schedule. The paper trains the first resolution for 800k real images, then alternates
fading the next resolution in over 800k images and stabilising it for 800k (§A.1). Here the
trial's ``total_iterations`` (set by the trainer) is split into 2S - 1 equal phases for S
resolutions — stabilise₀, fade₁, stabilise₁, …, fade_{S-1}, stabilise_{S-1} — keeping the
paper's equal phase lengths in proportion (28 px: 5 phases of total/5 iterations; 32 px: 7).
``phase_iterations`` sets the phase length directly instead (the last stage then runs to the
end). During a fade phase α rises linearly from 0 at its first iteration towards 1.
The state is a pure function of ``self.iteration``, so a resumed trial continues exactly; it
is the step's one piece of Python control flow (stage, α and the fade's ``α < 1`` branch come
from that Python int, never from a tensor), and the losses ``step`` returns (``loss_d``,
``penalty``, ``drift``, ``loss_g``) are detached 0-d tensors on the device, so a step makes no
host sync (the trainer averages them over a logging window, :mod:`ganbench.train`).
``sample()`` returns images at the dataset's full size whatever the stage (the current
resolution upsampled by nearest neighbour), so evaluation works at every phase; the current
resolution and α are reported with each evaluation (``progress_values``).

Departures: z has ``z_dim`` (default 100) dimensions, not 512; channel widths are scaled by
``width`` (see the nets); G's output is linear as in the paper and ``sample()`` clips it to
[-1, 1]; no learning-rate ramp-up, no batch-size schedule per resolution (the trainer's batch
size throughout); the paper's exponential moving average of G (decay 0.999) is off by default
(at a few hundred iterations the average is still mostly the initial weights) and is switched
on with ``ema_g: 0.999``; the last resolution gets one phase like the others (the paper keeps
training it until the total image budget, e.g. 19M images for CelebA-HQ after 13.6M of growth;
``phase_iterations`` gives it the remainder). ``d_norm`` must stay ``none`` (the paper uses no
normalisation in D), ``pack`` 1 and ``net`` auto: each is a validation error otherwise.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field

from ganbench.data.base import DatasetInfo
from ganbench.errors import GanbenchError
from ganbench.methods.base import Method, MethodParams, RealSampler
from ganbench.methods.ema import EMA
from ganbench.methods.penalties import wgan_gp_penalty
from ganbench.nets.layers import DNorm
from ganbench.nets.pggan import PGGANDiscriminator, PGGANGenerator
from ganbench.registry import METHODS


class PGGANParams(MethodParams):
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    beta1: float = 0.0
    beta2: float = 0.99
    n_critic: int = Field(1, ge=1)
    d_norm: DNorm = "none"
    minibatch_std: bool = True
    lambda_gp: float = 10.0
    drift: float = 0.001
    #: iterations per fade/stabilise phase; None: total_iterations / (2·stages - 1)
    phase_iterations: int | None = Field(None, ge=1)


def growth_state(iteration: int, stages: int, total: int | None, phase: int | None = None) -> tuple[int, float]:
    """(stage, α) at ``iteration``: phases stabilise₀, fade₁, stabilise₁, … of equal length.

    The phase length is ``phase`` when given, else ``total`` split into 2·stages - 1 phases
    (boundaries ⌊j·total / (2·stages - 1)⌋). α is 1 outside fade phases.
    """
    n_phases = 2 * stages - 1
    if phase is not None:
        bounds = [j * phase for j in range(n_phases)] + [max(n_phases * phase, iteration + 1)]
    elif total is not None and total > 0:
        bounds = [j * total // n_phases for j in range(n_phases + 1)]
    else:
        raise GanbenchError("pggan: the growth schedule needs total_iterations (set by the trainer) "
                            "or phase_iterations")
    p = n_phases - 1
    for j in range(n_phases):
        if iteration < bounds[j + 1]:
            p = j
            break
    stage = (p + 1) // 2
    if p % 2 == 1:  # a fade phase
        length = bounds[p + 1] - bounds[p]
        return stage, (iteration - bounds[p]) / length if length > 0 else 1.0
    return stage, 1.0


def drift_penalty(real_logits: torch.Tensor) -> torch.Tensor:
    """E D(x)² (Karras et al. 2018, Appendix A.1), weighted by ε_drift by the caller."""
    return real_logits.square().mean()


@METHODS.register("pggan")
class PGGAN(Method):
    name = "pggan"
    paper = ("Karras et al. 2018, Progressive Growing of GANs for Improved Quality, Stability, "
             "and Variation")
    Params = PGGANParams
    #: the nets are the paper's own (no D normalisation, no packing); ``ema_g`` is honoured
    unsupported_options = ("pack", "net", "d_norm")

    def __init__(self, params: PGGANParams, info: DatasetInfo, device="cpu"):
        super().__init__(params, info, device)
        if info.kind != "image":
            raise GanbenchError(f"pggan: needs image data, {info.name} holds {info.kind}")
        self.G = PGGANGenerator(params.z_dim, info.shape, width=params.width).to(self.device)
        self.D = PGGANDiscriminator(info.shape, width=params.width,
                                    minibatch_std=params.minibatch_std).to(self.device)
        self.stages = self.G.stages
        betas = (params.beta1, params.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=params.lr_g, betas=betas, eps=1e-8)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=params.lr_d, betas=betas, eps=1e-8)
        self.ema = EMA(self.G, params.ema_g) if params.ema_g is not None else None

    # -- growth -----------------------------------------------------------------------------
    def growth(self) -> tuple[int, float]:
        return growth_state(self.iteration, self.stages, self.total_iterations, self.params.phase_iterations)

    def real_at(self, x: torch.Tensor, stage: int, alpha: float) -> torch.Tensor:
        """Real images at ``stage``'s resolution, blended with the previous one while fading."""
        factor = self.G.res[-1] // self.G.res[stage]
        if factor > 1:
            x = F.avg_pool2d(x, factor)
        if stage > 0 and alpha < 1.0:
            low = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
            x = (1.0 - alpha) * low + alpha * x
        return x

    def progress_values(self) -> dict[str, float]:
        stage, alpha = self.growth()
        return {"pggan_resolution": float(self.G.res[stage]), "pggan_alpha": float(alpha)}

    @property
    def progress_protocol(self) -> dict[str, dict[str, Any]]:
        schedule = {"phases": 2 * self.stages - 1, "phase_iterations": self.params.phase_iterations,
                    "resolutions": list(self.G.res)}
        return {"pggan_resolution": {"definition": "side of G's current output before upsampling to the "
                                     "data size", **schedule},
                "pggan_alpha": {"definition": "fade-in weight of the newest resolution (1 when stable)",
                                **schedule}}

    # -- the two sub-steps ------------------------------------------------------------------
    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.params.z_dim, device=self.device, generator=generator)

    def d_step(self, real: torch.Tensor, stage: int, alpha: float) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            fake = self.G(self.prior(real.shape[0]), stage, alpha)
        real_logits = self.D(real, stage, alpha)
        fake_logits = self.D(fake, stage, alpha)
        loss = fake_logits.mean() - real_logits.mean()
        drift = drift_penalty(real_logits)
        penalty = wgan_gp_penalty(lambda x: self.D(x, stage, alpha), real, fake)
        total = loss + self.params.lambda_gp * penalty + self.params.drift * drift
        self.opt_d.zero_grad(set_to_none=True)
        total.backward()
        self.opt_d.step()
        return {"loss_d": loss.detach(), "penalty": penalty.detach(), "drift": drift.detach()}

    def g_step(self, n: int, stage: int, alpha: float) -> dict[str, torch.Tensor]:
        loss = -self.D(self.G(self.prior(n), stage, alpha), stage, alpha).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        if self.ema is not None:
            self.ema.update(self.G)
        return {"loss_g": loss.detach()}

    def step(self, next_real: RealSampler) -> dict[str, torch.Tensor]:
        stage, alpha = self.growth()
        stats: dict[str, torch.Tensor] = {}
        n = 0
        for _ in range(self.params.n_critic):
            real = self.real_at(next_real(), stage, alpha)
            n = real.shape[0]
            stats.update(self.d_step(real, stage, alpha))
        stats.update(self.g_step(n, stage, alpha))
        self.iteration += 1
        return stats

    # -- sampling and state -----------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        stage, alpha = self.growth()
        net = self.ema.module if self.ema is not None else self.G
        x = net(self.prior(n, generator), stage, alpha)
        factor = self.G.res[-1] // self.G.res[stage]
        if factor > 1:
            x = F.interpolate(x, scale_factor=factor, mode="nearest")
        return x.clamp(-1.0, 1.0)

    def extra_state(self) -> dict[str, Any]:
        # the schedule's length, so that a checkpoint alone (``ganbench eval``) knows the stage
        return {"total_iterations": self.total_iterations}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if self.total_iterations is None and state.get("total_iterations") is not None:
            self.total_iterations = int(state["total_iterations"])

    def modules(self):
        out = {"G": self.G, "D": self.D}
        if self.ema is not None:
            out["G_ema"] = self.ema
        return out

    def optimizers(self):
        return {"G": self.opt_g, "D": self.opt_d}
