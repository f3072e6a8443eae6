"""Exponential moving average of a network's weights (``ema_g: <decay>``).

The generator used for sampling and evaluation is the running average
θ_ema <- decay·θ_ema + (1 - decay)·θ after every generator step, as in Karras et al. 2018
("Progressive Growing of GANs", §A.1: decay 0.999) and Yazıcı et al. 2019 ("The Unusual
Effectiveness of Averaging in GAN Training"). Parameters are averaged by
``torch.optim.swa_utils.AveragedModel`` with its EMA rule; buffers (batch-norm running
statistics) are copied from the live network, not averaged.

Departure from a plain running average: the average starts at the network's weights at
construction (the initial weights), i.e. θ_ema,0 = θ_0, and the first :meth:`EMA.update`
already blends (AveragedModel would copy the first update instead). ``n_averaged`` and the
averaged weights are part of :meth:`state_dict`, so a resumed trial continues exactly.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


class EMA(AveragedModel):
    """``EMA(model, decay)``; ``.update(model)`` after each step; ``.module`` is the averaged copy."""

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), not {decay}")
        super().__init__(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=False)
        self.decay = decay
        for p in self.module.parameters():
            p.requires_grad_(False)
        # the copy made by AveragedModel already holds θ_0: count it as the first average
        self.n_averaged.fill_(1)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.update_parameters(model)
        for b_avg, b in zip(self.module.buffers(), model.buffers(), strict=True):
            b_avg.copy_(b)
