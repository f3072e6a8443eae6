"""Gradient penalties, kept apart because they are easy to confuse.

- :func:`wgan_gp_penalty`: Gulrajani et al. 2017, Eq. 3: E(‖∇_x̂ D(x̂)‖₂ - 1)², the L2 norm over
  all input dimensions, x̂ = εx + (1-ε)G(z), ε ~ U(0, 1) per sample.
- :func:`dragan_penalty`: Kodali et al. 2017 ("On Convergence and Stability of GANs", §4,
  Eq. 5 / Algorithm 1): E(‖∇_x̂ D(x̂)‖₂ - 1)² at points x̂ *around the real data only*, as
  Lucic et al. 2018 ran it (google/compare_gan ``src/gans/DRAGAN.py`` at 623f646):
  x_p = x + 0.5·std(x)·u, u ~ U(0, 1) per element, std(x) the population std of the whole
  batch; x̂ = x + α(x_p - x), α ~ U(0, 1) per sample; ‖·‖ = sqrt(1e-4 + Σ g²) (their
  stabiliser, so the gradient of the norm is finite at 0).
"""

from __future__ import annotations

from typing import Callable

import torch


def interpolate(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    return (eps * real + (1 - eps) * fake).requires_grad_(True)


def input_gradients(critic: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """∂ Σ critic(x) / ∂x with a graph, so that a penalty on it can be back-propagated."""
    out = critic(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad


def wgan_gp_penalty(critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    grad = input_gradients(critic, interpolate(real, fake)).flatten(1)
    return ((grad.norm(2, dim=1) - 1.0) ** 2).mean()


def dragan_perturb(real: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """x_p = x + 0.5·std(x)·u, u ~ U(0, 1) elementwise (compare_gan's ``get_perturbed_batch``)."""
    u = torch.rand(real.shape, device=real.device, dtype=real.dtype, generator=generator)
    return real + 0.5 * real.std(unbiased=False) * u


def dragan_penalty(critic, real: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """E(sqrt(eps + ‖∇D(x̂)‖²) - 1)² at x̂ = x + α(x_p - x) on the perturbed real batch."""
    real = real.detach()
    perturbed = dragan_perturb(real)
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    x_hat = (real + alpha * (perturbed - real)).requires_grad_(True)
    grad = input_gradients(critic, x_hat).flatten(1)
    slopes = torch.sqrt(eps + grad.square().sum(dim=1))
    return ((slopes - 1.0) ** 2).mean()
