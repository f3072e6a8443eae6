"""Gradient penalties, kept apart because they are easy to confuse (methods_spec.md §6.4).

- :func:`wgan_gp_penalty`: Gulrajani et al. 2017, Eq. 3: E(‖∇_x̂ D(x̂)‖₂ - 1)², the L2 norm over
  all input dimensions, x̂ = εx + (1-ε)G(z), ε ~ U(0, 1) per sample.
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
