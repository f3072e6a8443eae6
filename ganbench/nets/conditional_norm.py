"""Conditional batch normalisation: batch norm whose scale and shift depend on the condition.

De Vries et al. 2017, "Modulating early visual processing by language" (conditional BN);
Dumoulin et al. 2017, "A Learned Representation for Artistic Style" (one γ/β per style);
as used by Miyato & Koyama 2018 ("cGANs with Projection Discriminator", §4: the generator's
BN layers are class-conditional) and Brock et al. 2019 ("Large Scale GAN Training for High
Fidelity Natural Image Synthesis", §3 and Appendix B: the class-conditional BN gains and
biases are linear projections of a shared class embedding concatenated with a chunk of z).

    out = γ(cond) ⊙ (x − μ_B) / sqrt(σ²_B + ε) + β(cond)      (per channel, BN without affine)

Two ways to get γ and β:

- ``num_classes=K`` (class tables, Dumoulin / Miyato & Koyama): γ = Γ[y], β = B[y] from two
  K × C embedding tables indexed by the integer label y; Γ starts at 1 and B at 0, so the
  layer starts as plain BN.
- ``cond_dim=d`` (BigGAN): γ = 1 + W_γ c and β = W_β c for a conditioning vector c ∈ R^d
  (BigGAN: the shared class embedding joined with this block's chunk of z). The linear maps
  have no bias term (the "1 +" plays the role of γ's bias, β's bias is left out as in the
  formula above); they are spectrally normalised when ``spectral=True`` (BigGAN applies SN
  to every linear layer of G, these included).
"""

from __future__ import annotations

import torch
from torch import nn

from ganbench.nets.layers import spectral as _sn


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm2d without affine parameters, then a per-sample γ/β from ``cond``.

    ``forward(x, cond)``: ``cond`` is an int64 tensor of class indices [N] when the layer was
    built with ``num_classes``, a float tensor [N, cond_dim] when built with ``cond_dim``.
    """

    def __init__(self, num_features: int, num_classes: int | None = None, cond_dim: int | None = None,
                 eps: float = 1e-5, momentum: float = 0.1, spectral: bool = False):
        super().__init__()
        if (num_classes is None) == (cond_dim is None):
            raise ValueError("ConditionalBatchNorm2d: give exactly one of num_classes and cond_dim")
        self.num_features = num_features
        self.num_classes = num_classes
        self.cond_dim = cond_dim
        self.bn = nn.BatchNorm2d(num_features, eps=eps, momentum=momentum, affine=False)
        if num_classes is not None:
            self.gamma_table = nn.Embedding(num_classes, num_features)
            self.beta_table = nn.Embedding(num_classes, num_features)
            nn.init.ones_(self.gamma_table.weight)
            nn.init.zeros_(self.beta_table.weight)
        else:
            self.gain = _sn(nn.Linear(cond_dim, num_features, bias=False), spectral)
            self.bias = _sn(nn.Linear(cond_dim, num_features, bias=False), spectral)

    def scale_shift(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """γ and β, each [N, C], for the conditions ``cond``."""
        if self.num_classes is not None:
            if cond.dtype not in (torch.int64, torch.int32):
                raise TypeError("ConditionalBatchNorm2d(num_classes=...): cond must hold integer class indices")
            return self.gamma_table(cond), self.beta_table(cond)
        if cond.dim() != 2 or cond.shape[1] != self.cond_dim:
            raise ValueError(f"ConditionalBatchNorm2d(cond_dim={self.cond_dim}): cond of shape {tuple(cond.shape)}")
        return 1.0 + self.gain(cond), self.bias(cond)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.scale_shift(cond)
        return self.bn(x) * gamma[:, :, None, None] + beta[:, :, None, None]

    def extra_repr(self) -> str:
        how = f"num_classes={self.num_classes}" if self.num_classes is not None else f"cond_dim={self.cond_dim}"
        return f"{self.num_features}, {how}"
