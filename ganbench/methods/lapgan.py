"""LAPGAN: a Laplacian pyramid of adversarial networks (Denton, Chintala, Szlam & Fergus 2015,
"Deep Generative Image Models using a Laplacian Pyramid of Adversarial Networks", NIPS, §3).

Pyramid (§3.1, Burt & Adelson): I_0 = x, I_{k+1} = d(I_k); l_k = u(I_{k+1}); the band-pass
residual h_k = I_k - l_k for k < K-1, and the coarsest image I_{K-1} itself, so that
I_k = u(I_{k+1}) + h_k reconstructs x exactly. Here d = 2×2 average pool (a box blur then
decimation; the paper blurs with the classic pyramid filter) and u = bilinear upsampling
(``align_corners=False``; eyescream's ``image.scale`` is bilinear too). Levels: 28 px ->
28, 14, 7; 32 px -> 32, 16, 8 (CIFAR-10's pyramid in the paper); 64 px -> 64, 32, 16, 8
(``levels`` sets another count).

Training (§3.2), every iteration and independently per level, on the pyramid of a real batch:
  coarsest level K-1: an unconditional GAN on I_{K-1}: z ~ U[-1, 1]^z_dim,
      D_{K-1} <- step on BCE(D(I_{K-1}), 1) + BCE(D(G(z)), 0);  G_{K-1} <- step on BCE(D(G(z)), 1)
  finer level k:  h̃_k = G_k(z_k, l_k) with z_k one U[-1, 1] noise plane (§4: "a 4th colour
      plane") and l_k from the *real* pyramid; D_k(h, l) sees l + h (§3.2: the low-pass image
      is added before the first convolution); the same non-saturating losses on D_k(h_k, l_k)
      vs D_k(h̃_k, l_k).
Sampling runs the pyramid top-down: Ĩ_{K-1} = G_{K-1}(z), Ĩ_k = u(Ĩ_{k+1}) + G_k(z_k, u(Ĩ_{k+1})).
Losses: the non-saturating GAN pair of :mod:`ganbench.methods.gan` (eyescream trains G with
BCE against the "real" label). Nets: :mod:`ganbench.nets.lapgan`.

Defaults (eyescream cifar/scripts/train_cifar_coarse_to_fine.lua): SGD, lr 0.01 for G and D,
``K = 1`` D step per G step, uniform noise, 128 hidden channels (``width``: 128), z_dim 100.
Departures: eyescream raises the momentum by 0.0008 per epoch (from 0, up to 0.7) and divides
the learning rate by 1.000004 per epoch; both are left out (constant lr, ``momentum``
default 0), which they barely move over this harness's budgets (under 0.02 momentum after 20
MNIST epochs). The paper's D sees, per example, a real or a generated residual with equal
probability; here each D step sees a real batch and a generated batch of equal size (the same
expectation). The coarsest level's MLP sizes are 8·width (see the nets); G's outputs are linear
as in the paper and ``sample()`` clips the full-resolution image to [-1, 1].
``optimizer: adam`` (with ``beta1``/``beta2``) is offered as an option.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ganbench.data.base import DatasetInfo
from ganbench.errors import GanbenchError
from ganbench.methods.base import Method, MethodParams, RealSampler
from ganbench.methods.gan import discriminator_loss, generator_loss
from ganbench.nets.layers import DNorm
from ganbench.nets.lapgan import CoarseDiscriminator, CoarseGenerator, ResidualDiscriminator, ResidualGenerator
from ganbench.registry import METHODS


def downsample(x: torch.Tensor) -> torch.Tensor:
    """d(·): 2×2 mean, then every other pixel (one average pool)."""
    return F.avg_pool2d(x, 2)


def upsample(x: torch.Tensor) -> torch.Tensor:
    """u(·): bilinear doubling of the side."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def gaussian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    out = [x]
    for _ in range(levels - 1):
        out.append(downsample(out[-1]))
    return out


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[h_0, …, h_{K-2}, I_{K-1}]: band-pass residuals, then the low-pass image."""
    gauss = gaussian_pyramid(x, levels)
    return [gauss[k] - upsample(gauss[k + 1]) for k in range(levels - 1)] + [gauss[-1]]


def reconstruct(pyramid: list[torch.Tensor]) -> torch.Tensor:
    """I_{K-1}, then I_k = u(I_{k+1}) + h_k down to I_0."""
    image = pyramid[-1]
    for h in reversed(pyramid[:-1]):
        image = upsample(image) + h
    return image


def default_levels(size: int) -> int:
    """Halve until the side is at most 8: 28 -> 3 (28, 14, 7), 32 -> 3, 64 -> 4."""
    levels = 1
    while size > 8 and size % 2 == 0:
        size //= 2
        levels += 1
    return levels


class LAPGANParams(MethodParams):
    lr_g: float = 0.01
    lr_d: float = 0.01
    n_critic: int = Field(1, ge=1)
    d_norm: DNorm = "none"
    optimizer: Literal["sgd", "adam"] = "sgd"
    momentum: float = Field(0.0, ge=0.0, lt=1.0)
    #: pyramid levels incl. the coarsest; None: halve until the side is at most 8
    levels: int | None = Field(None, ge=2)


@METHODS.register("lapgan")
class LAPGAN(Method):
    name = "lapgan"
    paper = ("Denton et al. 2015, Deep Generative Image Models using a Laplacian Pyramid of "
             "Adversarial Networks")
    Params = LAPGANParams
    #: its own per-level nets; ``d_norm`` and ``minibatch_std`` are honoured by every level's D
    unsupported_options = ("pack", "ema_g", "net")

    @classmethod
    def data_defaults(cls, info: DatasetInfo) -> dict[str, Any]:
        return {"z_dim": 100, "width": 128}

    def __init__(self, params: LAPGANParams, info: DatasetInfo, device="cpu"):
        super().__init__(params, info, device)
        if info.kind != "image":
            raise GanbenchError(f"lapgan: needs image data, {info.name} holds {info.kind}")
        c, size, _ = info.shape
        self.levels = params.levels or default_levels(size)
        if size % 2 ** (self.levels - 1) or size // 2 ** (self.levels - 1) < 2:
            raise GanbenchError(f"lapgan: levels: {self.levels} levels do not fit {size} px images")
        sizes = [size // 2**k for k in range(self.levels)]
        self.sizes = sizes
        g_nets: list[nn.Module] = [ResidualGenerator((c, s, s), params.width) for s in sizes[:-1]]
        d_nets: list[nn.Module] = [ResidualDiscriminator((c, s, s), params.width, params.d_norm, params.minibatch_std)
                                   for s in sizes[:-1]]
        coarse = (c, sizes[-1], sizes[-1])
        g_nets.append(CoarseGenerator(params.z_dim, coarse, params.width))
        d_nets.append(CoarseDiscriminator(coarse, params.width, params.d_norm, params.minibatch_std))
        self.G = nn.ModuleList(g_nets).to(self.device)
        self.D = nn.ModuleList(d_nets).to(self.device)
        self.opt_g = [self._optimizer(g, params.lr_g) for g in self.G]
        self.opt_d = [self._optimizer(d, params.lr_d) for d in self.D]

    def _optimizer(self, net: nn.Module, lr: float) -> torch.optim.Optimizer:
        if self.params.optimizer == "adam":
            return torch.optim.Adam(net.parameters(), lr=lr, betas=(self.params.beta1, self.params.beta2))
        return torch.optim.SGD(net.parameters(), lr=lr, momentum=self.params.momentum)

    # -- noise ------------------------------------------------------------------------------
    def _uniform(self, shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.rand(*shape, device=self.device, generator=generator) * 2.0 - 1.0

    def generate_level(self, k: int, n: int, low: torch.Tensor | None,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """Level k's output: the coarsest image (k = K-1, ``low`` None) or the residual h̃_k."""
        if k == self.levels - 1:
            return self.G[k](self._uniform((n, self.params.z_dim), generator))
        s = self.sizes[k]
        return self.G[k](self._uniform((n, 1, s, s), generator), low)

    def _critic(self, k: int, image: torch.Tensor, low: torch.Tensor | None) -> torch.Tensor:
        return self.D[k](image) if low is None else self.D[k](image, low)

    # -- the two sub-steps of one level -------------------------------------------------------
    def d_step(self, k: int, target: torch.Tensor, low: torch.Tensor | None) -> torch.Tensor:
        """One D_k step: ``target`` is the real h_k (or I_{K-1}), ``low`` the real l_k (or None)."""
        with torch.no_grad():
            fake = self.generate_level(k, target.shape[0], low)
        loss = discriminator_loss(self._critic(k, target, low), self._critic(k, fake, low))
        self.opt_d[k].zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d[k].step()
        return loss.detach()

    def g_step(self, k: int, n: int, low: torch.Tensor | None) -> torch.Tensor:
        loss = generator_loss(self._critic(k, self.generate_level(k, n, low), low))
        self.opt_g[k].zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g[k].step()
        return loss.detach()

    def _targets(self, real: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """(target, condition) per level from the real pyramid: (h_k, l_k), …, (I_{K-1}, None)."""
        gauss = gaussian_pyramid(real, self.levels)
        out: list[tuple[torch.Tensor, torch.Tensor | None]] = []
        for k in range(self.levels - 1):
            low = upsample(gauss[k + 1])
            out.append((gauss[k] - low, low))
        out.append((gauss[-1], None))
        return out

    def step(self, next_real: RealSampler) -> dict[str, torch.Tensor]:
        """One iteration at every level; per-level losses and their means as detached 0-d
        tensors on the device (no host sync). The means are taken in float64, the arithmetic of
        the Python floats they were computed in before, so the logged values are unchanged."""
        stats: dict[str, torch.Tensor] = {}
        targets: list[tuple[torch.Tensor, torch.Tensor | None]] = []
        for _ in range(self.params.n_critic):
            targets = self._targets(next_real())
            for k, (target, low) in enumerate(targets):
                stats[f"loss_d{k}"] = self.d_step(k, target, low)
        n = targets[0][0].shape[0]
        for k, (_, low) in enumerate(targets):
            stats[f"loss_g{k}"] = self.g_step(k, n, low)
        for kind in ("d", "g"):
            stats[f"loss_{kind}"] = sum(stats[f"loss_{kind}{k}"].double() for k in range(self.levels)) / self.levels
        self.iteration += 1
        return stats

    # -- sampling and state -------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        was = self.G.training
        self.G.eval()
        try:
            image = self.generate_level(self.levels - 1, n, None, generator)
            for k in range(self.levels - 2, -1, -1):
                low = upsample(image)
                image = low + self.generate_level(k, n, low, generator)
        finally:
            self.G.train(was)
        return image.clamp(-1.0, 1.0)

    def modules(self):
        return {"G": self.G, "D": self.D}

    def optimizers(self):
        return {**{f"G{k}": o for k, o in enumerate(self.opt_g)}, **{f"D{k}": o for k, o in enumerate(self.opt_d)}}
