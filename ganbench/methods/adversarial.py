"""The alternating D/G loop shared by the loss-based GANs (gan, lsgan, hinge, wgan, ...).

Per iteration (Goodfellow et al. 2014, Algorithm 1, with ``n_critic`` D steps):
  for k in 1..n_critic:  x ~ data, z ~ N(0, I);  D <- D - lr_d ∇ [L_D(D(x), D(G(z))) + penalty]
  z ~ N(0, I);  G <- G - lr_g ∇ L_G(D(G(z)))
A subclass supplies the pure loss functions and, where its paper says so, a penalty, an
optimiser and a hook after each critic step (weight clipping).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from ganbench.data.base import DatasetInfo
from ganbench.methods.base import Method, MethodParams, RealSampler, generate
from ganbench.registry import NETS


def build_nets(params: MethodParams, info: DatasetInfo) -> tuple[nn.Module, nn.Module]:
    """DCGAN nets for images, MLPs for points."""
    if info.kind == "image":
        g = NETS.get("dcgan_g")(params.z_dim, info.shape, width=params.width)
        d = NETS.get("dcgan_d")(info.shape, width=params.width, norm=params.d_norm)
    else:
        g = NETS.get("mlp_g")(params.z_dim, info.shape, width=params.width)
        d = NETS.get("mlp_d")(info.shape, width=params.width, norm=params.d_norm)
    return g, d


class AdversarialMethod(Method):
    """G and D trained by alternating gradient steps on ``d_loss`` and ``g_loss``."""

    optimizer: ClassVar[str] = "adam"

    def __init__(self, params: MethodParams, info: DatasetInfo, device="cpu"):
        super().__init__(params, info, device)
        self.G, self.D = (net.to(self.device) for net in build_nets(params, info))
        self.opt_g = self._make_optimizer(self.G, params.lr_g)
        self.opt_d = self._make_optimizer(self.D, params.lr_d)

    def _make_optimizer(self, net: nn.Module, lr: float) -> torch.optim.Optimizer:
        if self.optimizer == "rmsprop":
            return torch.optim.RMSprop(net.parameters(), lr=lr)
        return torch.optim.Adam(net.parameters(), lr=lr, betas=(self.params.beta1, self.params.beta2))

    # -- the paper's pieces -------------------------------------------------------------
    # A loss-based GAN defines ``d_loss(real_logits, fake_logits)`` and ``g_loss(fake_logits)``
    # (pure functions of D's raw outputs); methods whose losses need more than D's outputs
    # (SAN's two detached outputs, SW-GAN's features) override the ``*_step_loss`` hooks.
    def d_step_loss(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The critic's loss on a real and a (detached) generated batch, plus extra stats."""
        return self.d_loss(self.D(real), self.D(fake)), {}

    def g_step_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """The generator's loss; ``real`` is the last real batch of the critic steps."""
        return self.g_loss(self.D(fake))

    def d_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor | None:
        return None

    def after_d_step(self) -> None:
        pass

    def critic_steps(self) -> int:
        return self.params.n_critic

    # -- the loop -------------------------------------------------------------------------
    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.params.z_dim, device=self.device, generator=generator)

    def step(self, next_real: RealSampler) -> dict[str, float]:
        stats: dict[str, float] = {}
        real = None
        for _ in range(self.critic_steps()):
            real = next_real()
            with torch.no_grad():
                fake = self.G(self.prior(real.shape[0]))
            loss_d, extra = self.d_step_loss(real, fake)
            penalty = self.d_penalty(real, fake)
            total_d = loss_d if penalty is None else loss_d + penalty
            self.opt_d.zero_grad(set_to_none=True)
            total_d.backward()
            self.opt_d.step()
            self.after_d_step()
            stats["loss_d"] = float(loss_d.detach())
            stats.update(extra)
            if penalty is not None:
                stats["penalty"] = float(penalty.detach())
        if real is None:  # a method without critic steps still needs a real batch
            real = next_real()
        fake = self.G(self.prior(real.shape[0]))
        loss_g = self.g_step_loss(real, fake)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        stats["loss_g"] = float(loss_g.detach())
        self.iteration += 1
        return stats

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return generate(self.G, self.prior(n, generator))

    def modules(self):
        return {"G": self.G, "D": self.D}

    def optimizers(self):
        return {"G": self.opt_g, "D": self.opt_d}
