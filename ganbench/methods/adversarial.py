"""The alternating D/G loop shared by the loss-based GANs (gan, lsgan, hinge, wgan, ...).

Per iteration (Goodfellow et al. 2014, Algorithm 1, with ``n_critic`` D steps):
  for k in 1..n_critic:  x ~ data, z ~ N(0, I);  D <- D - lr_d ∇ [L_D(D(x), D(G(z))) + penalty]
  z ~ N(0, I);  G <- G - lr_g ∇ L_G(D(G(z)))
A subclass supplies the pure loss functions and, where its paper says so, a penalty, an
optimiser and a hook after each critic step (weight clipping).

Options every such method honours (``MethodParams``): ``net`` (the net family), ``d_norm`` and
``minibatch_std`` (built into D), ``pack: m`` (PacGAN, Lin et al. 2018: every real and every
generated batch reaches D, its penalty and the ``*_step_loss`` hooks as N/m packed inputs of m
consecutive samples, see :func:`ganbench.nets.layers.pack`), and ``ema_g: decay`` (an
exponential moving average of G, updated after each G step, used by :meth:`sample` and so by
evaluation, saved in checkpoints as the module ``G_ema``).

``step`` returns its losses as detached 0-d tensors on the device (``loss_d``, ``penalty``,
``loss_g``, plus whatever a subclass's ``d_step_loss`` adds): reading them as Python floats
would make a GPU wait for every iteration; the trainer averages them over a logging window
(:mod:`ganbench.train`). ``compile_nets(mode)`` compiles G's and D's forwards in place with
``torch.compile`` (``nn.Module.compile``, so state-dict keys and checkpoints are unchanged) for
``train.compile``; ``uncompile_nets`` undoes it.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from ganbench.data.base import DatasetInfo
from ganbench.methods.base import Method, MethodParams, RealSampler, generate
from ganbench.methods.ema import EMA
from ganbench.nets.layers import pack
from ganbench.registry import NETS


def net_family(params: MethodParams, info: DatasetInfo) -> str:
    """``params.net``, with ``auto`` = ``dcgan`` for images and ``mlp`` for points."""
    if params.net != "auto":
        return params.net
    return "dcgan" if info.kind == "image" else "mlp"


def build_nets(params: MethodParams, info: DatasetInfo) -> tuple[nn.Module, nn.Module]:
    """G and D of the family ``params.net``; D sees ``pack`` samples at once (m× channels / features)."""
    family = net_family(params, info)
    m = getattr(params, "pack", 1)
    d_shape = (m * info.shape[0], *info.shape[1:])
    g = NETS.get(f"{family}_g")(params.z_dim, info.shape, width=params.width)
    d = NETS.get(f"{family}_d")(d_shape, width=params.width, norm=params.d_norm,
                                minibatch_std=params.minibatch_std)
    return g, d


class AdversarialMethod(Method):
    """G and D trained by alternating gradient steps on ``d_loss`` and ``g_loss``."""

    optimizer: ClassVar[str] = "adam"
    #: this loop honours every shared option (packing and G's EMA included)
    unsupported_options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: MethodParams, info: DatasetInfo, device="cpu"):
        super().__init__(params, info, device)
        self.G, self.D = (net.to(self.device) for net in self.build_nets(params, info))
        self.opt_g = self._make_optimizer(self.G, params.lr_g)
        self.opt_d = self._make_optimizer(self.D, params.lr_d)
        self.G_ema = EMA(self.G, params.ema_g) if params.ema_g is not None else None

    def build_nets(self, params: MethodParams, info: DatasetInfo) -> tuple[nn.Module, nn.Module]:
        return build_nets(params, info)

    def _make_optimizer(self, net: nn.Module, lr: float) -> torch.optim.Optimizer:
        if self.optimizer == "rmsprop":
            return torch.optim.RMSprop(net.parameters(), lr=lr)
        return torch.optim.Adam(net.parameters(), lr=lr, betas=(self.params.beta1, self.params.beta2))

    # -- the paper's pieces -------------------------------------------------------------
    # A loss-based GAN defines ``d_loss(real_logits, fake_logits)`` and ``g_loss(fake_logits)``
    # (pure functions of D's raw outputs); methods whose losses need more than D's outputs
    # (SAN's two detached outputs, SW-GAN's features) override the ``*_step_loss`` hooks.
    def d_step_loss(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
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

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """What D sees of a batch: ``pack`` consecutive samples per input (identity for m = 1)."""
        return pack(x, self.params.pack)

    def step(self, next_real: RealSampler) -> dict[str, torch.Tensor | float]:
        stats: dict[str, torch.Tensor | float] = {}
        real = None
        for _ in range(self.critic_steps()):
            real = next_real()
            with torch.no_grad():
                fake = self.G(self.prior(real.shape[0]))
            real_d, fake_d = self.pack(real), self.pack(fake)
            loss_d, extra = self.d_step_loss(real_d, fake_d)
            penalty = self.d_penalty(real_d, fake_d)
            total_d = loss_d if penalty is None else loss_d + penalty
            self.opt_d.zero_grad(set_to_none=True)
            total_d.backward()
            self.opt_d.step()
            self.after_d_step()
            stats["loss_d"] = loss_d.detach()
            stats.update(extra)
            if penalty is not None:
                stats["penalty"] = penalty.detach()
        if real is None:  # a method without critic steps still needs a real batch
            real = next_real()
        fake = self.G(self.prior(real.shape[0]))
        loss_g = self.g_step_loss(self.pack(real), self.pack(fake))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        if self.G_ema is not None:
            self.G_ema.update(self.G)
        stats["loss_g"] = loss_g.detach()
        self.iteration += 1
        return stats

    def compiled_nets(self) -> dict[str, nn.Module]:
        """The networks ``compile_nets`` compiles: G and D (G's EMA copy is only sampled)."""
        return {"G": self.G, "D": self.D}

    def compile_nets(self, mode: str) -> None:
        """``torch.compile`` G's and D's forwards in place (``mode``: default | reduce-overhead)."""
        for net in self.compiled_nets().values():
            net.compile(mode=mode)

    def uncompile_nets(self) -> None:
        for net in self.compiled_nets().values():
            net._compiled_call_impl = None  # what nn.Module.compile set; eager forward again

    def sampling_generator(self) -> nn.Module:
        """The generator used for samples and evaluation: G's EMA when ``ema_g`` is set."""
        return self.G if self.G_ema is None else self.G_ema.module

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return generate(self.sampling_generator(), self.prior(n, generator))

    def modules(self):
        nets = {"G": self.G, "D": self.D}
        if self.G_ema is not None:
            nets["G_ema"] = self.G_ema
        return nets

    def optimizers(self):
        return {"G": self.opt_g, "D": self.opt_d}
