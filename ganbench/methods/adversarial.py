"""The alternating D/G loop shared by the loss-based GANs (gan, lsgan, hinge, wgan, ...).

Per iteration (Goodfellow et al. 2014, Algorithm 1, with ``n_critic`` D steps):
  for k in 1..n_critic:  x ~ data, z ~ N(0, I);  D <- D - lr_d ∇ [L_D(D(x), D(G(z))) + penalty]
  z ~ N(0, I);  G <- G - lr_g ∇ L_G(D(G(z)))
A subclass supplies the pure loss functions and, where its paper says so, a penalty, an
optimiser and a hook after each critic step (weight clipping).
"""

from __future__ import annotations

import abc
from typing import ClassVar

import torch
from torch import nn

from ganbench.data.base import DatasetInfo
from ganbench.methods.base import Method, MethodParams, RealSampler
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
    @abc.abstractmethod
    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """The discriminator's loss (to minimise) on raw outputs."""

    @abc.abstractmethod
    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """The generator's loss (to minimise) on D's raw outputs for generated samples."""

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
        for _ in range(self.critic_steps()):
            real = next_real()
            with torch.no_grad():
                fake = self.G(self.prior(real.shape[0]))
            loss_d = self.d_loss(self.D(real), self.D(fake))
            penalty = self.d_penalty(real, fake)
            total_d = loss_d if penalty is None else loss_d + penalty
            self.opt_d.zero_grad(set_to_none=True)
            total_d.backward()
            self.opt_d.step()
            self.after_d_step()
            stats["loss_d"] = float(loss_d.detach())
            if penalty is not None:
                stats["penalty"] = float(penalty.detach())
        fake = self.G(self.prior(real.shape[0]))
        loss_g = self.g_loss(self.D(fake))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        stats["loss_g"] = float(loss_g.detach())
        self.iteration += 1
        return stats

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        was_training = self.G.training
        self.G.eval()
        try:
            return self.G(self.prior(n, generator))
        finally:
            self.G.train(was_training)

    def modules(self):
        return {"G": self.G, "D": self.D}

    def optimizers(self):
        return {"G": self.opt_g, "D": self.opt_d}
