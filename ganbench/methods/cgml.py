"""cGML: conditional generation by learning the latent space.

Ramasinghe, Ranasinghe, Khan, Barnes, Gould, "Conditional Generative Modeling via Learning
the Latent Space", ICLR 2021 (arXiv 2010.03132, OpenReview VJnrYcnRc6). No official code
was found and only the abstract and introduction of the paper could be read, so this
module follows the cGML student poster's Algorithm 1, a third-party student reimplementation
of the paper's toy task ("the reimplementation") and a third-party reading note on the paper;
everything is UNVERIFIED at paper level. No adversary: regression losses only.

Networks (:mod:`ganbench.nets.cgml_nets`): H encodes the condition, h = H(x); G decodes,
ŷ = G(h, z); Z updates latents, (r′, ρ) = Z(h, z), r′ a predicted next latent (direction)
and ρ ≥ 0 a step size (magnitude).

One training iteration on a batch of pairs (x, y) (the poster's Algorithm 1, as the reimplementation runs it):
 1. h = H(x) with H and G frozen; z_0 drawn per example (``z_init``, default the
    reimplementation's box U(−0.1, 0.1)^d; the poster's U(B(0, 1)) and the reading note's
    sphere are the options ``ball`` and ``sphere``); m_{−1} = 0.
 2. for t = 0..T−1 (``inner_steps``):
        L(z) = ‖G(h, z) − y‖²                              (per example, summed over elements)
        m_t = γ·m_{t−1} + β·∇_z L(z_t)                     (γ ``inner_momentum``, β ``inner_lr``)
        z_{t+1} = Π(z_t − m_t) ;  ρ_t = ‖z_{t+1} − z_t‖₂   (Π: projection into the ball of
                                                          radius ``z_clip``, 1; 0 = none)
        Z ← Adam step on  ‖r′(h, z_t) − z_{t+1}‖² + (ρ(h, z_t) − ρ_t)² + α·Lip(Z)
                                                          (z_t, z_{t+1}, ρ_t, h held fixed)
 3. H, G ← Adam step on  ‖G(H(x), z_T) − y‖² + α·Lip(G)    (z_T detached; Z frozen)
 4. Lip(f) = ‖f(h + ε_h, z + ε_z) − f(h, z)⁻‖², ε ~ N(0, σ²) on every input, ⁻ = no
    gradient (the reimplementation: α = 1e-4, σ = 1e-3).
Losses are summed over a target's elements and averaged over the batch; in step 2 the
examples' losses are summed, so each z gets the gradient of its own loss only.

Inference (the reading note and the reimplementation; the poster's "correction avec momentum"): for each
condition draw several z_0 (``infer_init``, default uniform in the unit ball) and iterate
the learned Z, with no target,
        z_{t+1} = Π(z_t + ρ(h, z_t)·(r′(h, z_t) − z_t)/‖r′(h, z_t) − z_t‖)
for ``infer_steps`` steps (default T, as the reimplementation); output G(h, z_T). Different starts
reach different modes.

Evaluation layout (:meth:`CGML.sample`): ``sample(n, generator)`` draws
m = ceil(n / k) conditions with the dataset's ``eval_conditions(m, generator)``
(k = ``eval_starts``), runs k starts for each and returns n rows in the conditional layout
of :mod:`ganbench.data.conditional`: row i = [condition c_{i // k}, output of start i % k],
shape n×(C+T). The metric :mod:`ganbench.metrics.cgml_modes` groups rows by their
condition, so the evaluator may call ``sample`` in batches and concatenate; num_samples
maps to num_samples / k conditions when every batch size is a multiple of k (else a
condition split across a batch boundary simply gets fewer starts).

Defaults are the reimplementation's (UNVERIFIED against the paper); see the
comments of :class:`CGMLParams`. What we measured on toy3d (``suites/cgml.yaml`` carries
the settings that work):
- With the reimplementation's β = 1e-3, γ = 0.002 the latents hardly moved in our runs (up to 600
  iterations) and G learned the mean of the two branches.
- A Z regressed on the steps learns their *expected* value, which points to the
  "phantom" between the modes (the poster's "distributions fantômes") wherever G puts the
  optima of both branches inside the region the starts cover. What works: a narrow
  training start (the box), stronger steps (β = 0.01, γ = 0.9, T = 10) that carry z_T to
  the ball's boundary, a Lipschitz term strong enough to shape the latent space (α = 10,
  σ = 0.1, i.e. α·σ² = 0.1 against the reimplementation's 1e-10), starts from the whole ball at
  inference, and few Z steps (5): the modes then sit at the boundary and the flow of Z
  carries each start to the nearer one. With Adam lr 1e-3 and MLP width 32 this reached
  coverage 0.95–1.0 within 800–3000 iterations (batch 256, 4 seeds); width 256 (at lr
  1e-3) and lr 3e-3 (at width 32) learn faster but in some seeds collapsed to the mean of
  the branches for a few hundred iterations.
- mnist_bar (250 CPU iterations, batch 32, width 16): G(h, z_0) alone already gives both
  modes (43 % bars), but 5 Z steps pull 98 % of the starts to the 70 % "plain" mode, the
  expected-update bias again; longer runs are untested.

Departures and choices (ours where the sources are silent):
- Reconstruction loss: squared L2 (the reading note, the reimplementation); the poster writes
  the generic 𝓛₁ for every loss; ``recon: l1`` and ``z_loss: l1`` give L1 variants.
- ρ target: the L2 norm of the step (poster ‖z_{t+1} − z_t‖; the reimplementation uses
  the L1 norm — identical for z_dim = 1). ρ = sigmoid(·), so steps are below 1.
- Z predicts the offset, r′ = z_t + Δ(h, z_t): the same function class as predicting
  r′ directly, but small steps need not be read off a regression of z_{t+1} itself.
  ``z_residual: false`` gives the plain parametrisation. The Lipschitz term on Z is taken
  on its raw outputs (Δ, ρ).
- The projection radius (1, the poster's ball) and the inference starts (the ball) are
  ours; the reimplementation clips without saying where.
- Z gets one Adam step per inner step, exactly as the algorithm box (T steps a batch).
- The Lipschitz term perturbs every tensor of h (the image encoder's skip maps too).
- Adam β = (0.9, 0.999) (PyTorch defaults; the sources give only the learning rate).
- The image nets are ours (see :mod:`ganbench.nets.cgml_nets`), and so are the mnist_bar
  defaults (z_dim 8, width 16).
- Not implemented: the reimplementation's test-time gradient refinement with a target.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from ganbench.data.base import DatasetInfo
from ganbench.data.conditional import CONDITIONAL, condition_shape, get_conditional, join_pair, split_pair
from ganbench.methods.base import Method, MethodParams, RealSampler
from ganbench.registry import METHODS, NETS

Hidden = tuple[torch.Tensor, ...]


class CGMLParams(MethodParams):
    """cGML hyperparameters; source and status in the comments (reimpl. = the third-party student
    reimplementation of the toy task named in the module docstring)."""

    z_dim: int | None = None  # toy 1 (reimpl.), images 8 (ours); None -> data default
    width: int | None = None  # toy MLP width 256 (reimpl.), image base channels 16 (ours)
    lr_g: float = 1e-4  # Adam lr of H and G (reimpl.; UNVERIFIED)
    lr_z: float = 1e-4  # Adam lr of Z (reimpl.; UNVERIFIED)
    beta1: float = 0.9  # Adam β1 (ours: PyTorch default)
    beta2: float = 0.999  # Adam β2 (ours: PyTorch default)
    inner_steps: int = 20  # T (reimpl.; UNVERIFIED)
    inner_lr: float = 1e-3  # β (reimpl.; UNVERIFIED)
    inner_momentum: float = 0.002  # γ (reimpl.; UNVERIFIED)
    z_init: Literal["ball", "sphere", "box"] = "box"  # training z_0 (reimpl.: box; poster: ball)
    z_box: float = 0.1  # half-width of the "box" init U(−a, a) (reimpl.)
    z_clip: float = 1.0  # > 0: project z into the ball of this radius (reimpl. clips; radius ours)
    z_residual: bool = True  # Z predicts r′ = z + Δ (ours; see the docstring)
    lip_weight: float = 1e-4  # α of the Lipschitz term (reimpl.; UNVERIFIED)
    lip_noise: float = 1e-3  # σ of its input noise (reimpl.; UNVERIFIED)
    recon: Literal["l2", "l1"] = "l2"  # reimpl.: ‖·‖²; the poster writes 𝓛₁
    z_loss: Literal["l2", "l1"] = "l2"  # Z's regression loss (reimpl.: squared; poster: 𝓛₁)
    infer_steps: int | None = None  # Z iterations at inference; None -> inner_steps (reimpl.)
    infer_init: Literal["ball", "sphere", "box"] | None = "ball"  # inference z_0 (ours); None -> z_init
    eval_starts: int = 10  # k latent starts per evaluation condition (ours)
    # inherited, unused by cGML (there is no discriminator): lr_d, n_critic, d_norm


def _lip(f, h: Hidden, z: torch.Tensor, clean, sigma: float):
    """‖f(h + ε_h, z + ε_z) − f(h, z)⁻‖², mean over the batch (f's outputs: one tensor or a tuple)."""
    noisy = f(tuple(t + sigma * torch.randn_like(t) for t in h), z + sigma * torch.randn_like(z))
    if isinstance(noisy, torch.Tensor):
        noisy, clean = (noisy,), (clean,)
    return sum((a - b.detach()).pow(2).reshape(a.shape[0], -1).sum(1).mean() for a, b in zip(noisy, clean))


@METHODS.register("cgml")
class CGML(Method):
    Params: ClassVar[type[MethodParams]] = CGMLParams
    name = "cgml"
    paper = "Ramasinghe et al. 2021, Conditional Generative Modeling via Learning the Latent Space"

    def __init__(self, params: CGMLParams, info: DatasetInfo, device="cpu"):
        super().__init__(params, info, device)
        if info.kind != CONDITIONAL:
            raise ValueError(f"cgml needs a conditional dataset, not {info.name!r} ({info.kind})")
        cond_shape = condition_shape(info)
        family = "conv" if len(info.shape) == 3 else "mlp"
        self.H = NETS.get(f"cgml_{family}_h")(cond_shape, width=params.width).to(self.device)
        self.G = NETS.get(f"cgml_{family}_g")(params.z_dim, info.shape, width=params.width).to(self.device)
        self.Z = NETS.get(f"cgml_{family}_z")(params.z_dim, width=params.width).to(self.device)
        betas = (params.beta1, params.beta2)
        hg = [*self.H.parameters(), *self.G.parameters()]
        self.opt_hg = torch.optim.Adam(hg, lr=params.lr_g, betas=betas, foreach=True)
        self.opt_z = torch.optim.Adam(self.Z.parameters(), lr=params.lr_z, betas=betas, foreach=True)

    @classmethod
    def data_defaults(cls, info: DatasetInfo) -> dict[str, Any]:
        if len(info.shape) == 3:
            return {"z_dim": 8, "width": 16}
        return {"z_dim": 1, "width": 256}

    # -- pieces ---------------------------------------------------------------------------
    def init_z(self, n: int, generator: torch.Generator | None = None, kind: str | None = None) -> torch.Tensor:
        """z_0 uniform in the unit ball, on the unit sphere, or in the box U(−a, a)^d."""
        d = self.params.z_dim
        kind = kind or self.params.z_init
        if kind == "box":
            u = torch.rand(n, d, device=self.device, generator=generator)
            return (2 * u - 1) * self.params.z_box
        g = torch.randn(n, d, device=self.device, generator=generator)
        direction = g / g.norm(dim=1, keepdim=True).clamp_min(1e-12)
        if kind == "sphere":
            return direction
        radius = torch.rand(n, 1, device=self.device, generator=generator).pow(1.0 / d)
        return direction * radius

    def _clip(self, z: torch.Tensor) -> torch.Tensor:
        r = self.params.z_clip
        if r <= 0:
            return z
        norm = z.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return z * (r / norm).clamp(max=1.0)

    def recon_loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-example reconstruction loss (summed over the target's elements)."""
        diff = (out - y).flatten(1)
        return diff.abs().sum(1) if self.params.recon == "l1" else diff.pow(2).sum(1)

    def regression_loss(self, r_pred, r_target, rho_pred, rho_target) -> torch.Tensor:
        """Z's loss: ‖r′ − z_{t+1}‖ + |ρ − ρ_t|, squared (l2) or not (l1), mean over the batch."""
        if self.params.z_loss == "l1":
            return (r_pred - r_target).abs().sum(1).mean() + (rho_pred - rho_target).abs().mean()
        return (r_pred - r_target).pow(2).sum(1).mean() + (rho_pred - rho_target).pow(2).mean()

    def z_net(self, h: Hidden, z: torch.Tensor, raw: tuple[torch.Tensor, torch.Tensor] | None = None):
        """(r′, ρ) with r′ = z + Δ in the residual parametrisation (``raw``: Z's outputs)."""
        r, rho = self.Z(h, z) if raw is None else raw
        return (z + r if self.params.z_residual else r), rho

    # -- training ---------------------------------------------------------------------------
    def optimise_latents(self, h: Hidden, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Steps 1–2: momentum descent on z with H, G frozen, and Z's regression steps.

        Stats: ``loss_z``, the mean of Z's T losses (summed in float64, as the Python floats they
        once were), and ``z_norm``, the mean ‖z_T‖: detached 0-d tensors on the device."""
        p = self.params
        z = self.init_z(y.shape[0])
        m = torch.zeros_like(z)
        z_losses = []
        for _ in range(p.inner_steps):
            z_var = z.detach().requires_grad_(True)
            loss = self.recon_loss(self.G(h, z_var), y).sum()
            (grad,) = torch.autograd.grad(loss, z_var)
            m = p.inner_momentum * m + p.inner_lr * grad
            z_next = self._clip(z - m)
            rho_target = (z_next - z).norm(dim=1)
            raw = self.Z(h, z)
            r_pred, rho_pred = self.z_net(h, z, raw)
            loss_z = self.regression_loss(r_pred, z_next, rho_pred, rho_target)
            if p.lip_weight > 0:
                loss_z = loss_z + p.lip_weight * _lip(self.Z, h, z, raw, p.lip_noise)
            self.opt_z.zero_grad(set_to_none=True)
            loss_z.backward()
            self.opt_z.step()
            z_losses.append(loss_z.detach().double())
            z = z_next.detach()
        loss_z_mean = (sum(z_losses) / len(z_losses) if z_losses
                       else torch.zeros((), dtype=torch.float64, device=z.device))
        return z, {"loss_z": loss_z_mean, "z_norm": z.norm(dim=1).mean().detach()}

    def step(self, next_real: RealSampler) -> dict[str, torch.Tensor]:
        """One iteration of Algorithm 1 (module docstring); its losses and stats come back as
        detached 0-d tensors on the device, so a step makes no host sync (the trainer averages
        them over a logging window, :mod:`ganbench.train`)."""
        p = self.params
        x, y = split_pair(next_real(), self.info)
        with torch.no_grad():
            h_frozen = tuple(t.detach() for t in self.H(x))
        for net in (self.H, self.G):
            net.requires_grad_(False)
        try:
            z_T, stats = self.optimise_latents(h_frozen, y)
        finally:
            for net in (self.H, self.G):
                net.requires_grad_(True)

        h = self.H(x)
        out = self.G(h, z_T)
        loss_rec = self.recon_loss(out, y).mean()
        total = loss_rec
        if p.lip_weight > 0:
            lip = _lip(self.G, h, z_T, out, p.lip_noise)
            total = total + p.lip_weight * lip
            stats["lip_g"] = lip.detach()
        self.opt_hg.zero_grad(set_to_none=True)
        total.backward()
        self.opt_hg.step()
        self.iteration += 1
        return {"loss_rec": loss_rec.detach(), **stats}

    # -- inference --------------------------------------------------------------------------
    @torch.no_grad()
    def infer(self, x: torch.Tensor, z0: torch.Tensor, steps: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Iterate Z from ``z0`` for each condition in ``x``; return (outputs, final z)."""
        steps = self.params.infer_steps if steps is None else steps
        steps = self.params.inner_steps if steps is None else steps
        h = self.H(x)
        z = z0
        for _ in range(steps):
            r, rho = self.z_net(h, z)
            d = r - z
            z = self._clip(z + rho.unsqueeze(1) * d / d.norm(dim=1, keepdim=True).clamp_min(1e-12))
        return self.G(h, z), z

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n rows [condition, output]; row i: condition i // k, start i % k (module docstring)."""
        k = self.params.eval_starts
        m = math.ceil(n / k)
        cond = get_conditional(self.info.name).eval_conditions(m, generator, self.device)
        x = cond.repeat_interleave(k, dim=0)[:n]
        z0 = self.init_z(n, generator, self.params.infer_init)
        out, _ = self.infer(x, z0)
        return join_pair(x, out)

    def modules(self) -> dict[str, nn.Module]:
        return {"H": self.H, "G": self.G, "Z": self.Z}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"HG": self.opt_hg, "Z": self.opt_z}
