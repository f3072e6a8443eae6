"""Exponential moving average of a network's weights (``ema_g: <decay>``).

The generator used for sampling and evaluation is the running average
θ_ema <- decay·θ_ema + (1 - decay)·θ after every generator step, as in Karras et al. 2018
("Progressive Growing of GANs", §A.1: decay 0.999) and Yazıcı et al. 2019 ("The Unusual
Effectiveness of Averaging in GAN Training"). Parameters are averaged with one fused
``torch._foreach_lerp_(θ_ema, θ, 1 - decay)`` per device and dtype, the rule of
``torch.optim.swa_utils.get_ema_multi_avg_fn``; buffers (batch-norm running statistics) are
copied from the live network, not averaged.

Departure from a plain running average: the average starts at the network's weights at
construction (the initial weights), i.e. θ_ema,0 = θ_0, and the first :meth:`EMA.update`
already blends. ``n_averaged`` (the number of averaged weight sets, θ_0 included) and the
averaged weights are part of :meth:`state_dict` under the keys of torch's ``AveragedModel``
(``n_averaged``, ``module.*``), so checkpoints written when this class was built on it load
unchanged and a resumed trial continues exactly.

Why not ``AveragedModel`` itself: its ``update_parameters`` reads ``n_averaged`` in Python
(``bool(n_averaged == 0)``, ``if n_averaged > 0``) and copies it to the parameters' device at
every update; with the counter on the CPU (where AveragedModel creates it) that copy is a
blocking host-to-device transfer on a GPU, with it on the GPU the reads are. Here nothing is
read: the counter lives beside the parameters and is incremented there, the blend is the same
``_foreach_lerp_`` with the same weight, so the averaged weights are bit-identical to
AveragedModel's EMA rule (tests/test_no_sync_more.py compares both).
"""

from __future__ import annotations

from copy import deepcopy

import torch
from torch import nn


class EMA(nn.Module):
    """``EMA(model, decay)``; ``.update(model)`` after each step; ``.module`` is the averaged copy."""

    n_averaged: torch.Tensor

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), not {decay}")
        super().__init__()
        self.module = deepcopy(model)
        self.decay = decay
        for p in self.module.parameters():
            p.requires_grad_(False)
        device = next(self.module.parameters(), torch.empty(0)).device
        # the copy already holds θ_0: it counts as the first average
        self.register_buffer("n_averaged", torch.tensor(1, dtype=torch.long, device=device))

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """θ_ema <- lerp(θ_ema, θ, 1 - decay) for every parameter; buffers copied; no host read."""
        weight = 1.0 - self.decay
        groups: dict[tuple[torch.device, torch.dtype], tuple[list, list]] = {}
        for p_avg, p in zip(self.module.parameters(), model.parameters(), strict=True):
            avg_list, new_list = groups.setdefault((p_avg.device, p_avg.dtype), ([], []))
            avg_list.append(p_avg.detach())
            new_list.append(p.detach().to(p_avg.device))
        for (_, dtype), (avg_list, new_list) in groups.items():
            if dtype.is_floating_point or dtype.is_complex:
                torch._foreach_lerp_(avg_list, new_list, weight)
            else:  # what torch's EMA rule does for other dtypes (lerp takes floats only)
                for p_avg, p in zip(avg_list, new_list, strict=True):
                    p_avg.copy_(p_avg * self.decay + p * weight)
        for b_avg, b in zip(self.module.buffers(), model.buffers(), strict=True):
            b_avg.copy_(b)
        self.n_averaged.add_(1)
