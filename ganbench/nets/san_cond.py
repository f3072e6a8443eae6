"""The class-conditional SAN last layer: one unit-norm direction per class (Takida et al. 2024).

SAN writes the discriminator as f(x) = ⟨ω, h(x)⟩ with ω on the unit sphere
(:mod:`ganbench.nets.san_head`). Its class-conditional form keeps one direction per class,

    f(x, y) = ⟨ω_y, h(x)⟩,   ω_y = w_y / ‖w_y‖,   h(x) = s·φ(x)

with W = (w_1 … w_K) a K × D table (an embedding, normalised row by row), φ the body of a
ganbench discriminator (its ``features(x)``), and s one learnable scalar scale shared by all
classes, so h does not depend on y. This is the SAN analogue of the projection discriminator
(Miyato & Koyama 2018: ψ(φ(x)) + ⟨V_y, φ(x)⟩): the class picks the row of the last linear layer,
and SAN constrains that row to the sphere. The official simple-san tutorial (sony/san,
``simple-san/models/discriminator.py``) conditions its MNIST discriminator the same way (the
label selects a row of ``fc_w``, of shape num_class × D, random normal, no bias).

- ``split(features, y)`` gives the D-step outputs with SAN's detach pattern, per sample's class:
  ``fun = s·⟨ω_y⁻, φ⟩`` (gradient to the features and the scale) and ``dir = s⁻·⟨ω_y, φ⁻⟩``
  (gradient to the directions only; each ω_k only from the samples of class k).
- ``forward(features, y)``: the plain s·⟨ω_y, φ⟩ (G step, inference), shape N.
- ``normalize_()`` projects every row back onto the sphere (after each D step, as SANHead).

Initialisation: rows N(0, 1) then normalised (simple-san: randn); s starts at the norm of the
replaced 1-output head's weight (1 under spectral normalisation), as
:meth:`~ganbench.nets.san_head.SANHead.from_linear`, so the output starts at the body's usual
scale. Departure from simple-san: its scale is the norm of the unconstrained row (one per class);
here one shared scale (StyleSAN's ``SANLinear`` scale), so that h(x) is one feature map for all
classes and only the direction is conditioned.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.registry import NETS


class ClassSANHead(nn.Module):
    """K unit-norm directions (rows of ``weight``) and one scale; ``split`` for the D step."""

    def __init__(self, feature_dim: int, num_classes: int, scale: float = 1.0):
        super().__init__()
        self.feature_dim, self.num_classes = feature_dim, num_classes
        self.weight = nn.Parameter(torch.randn(num_classes, feature_dim))
        self.scale = nn.Parameter(torch.tensor([float(scale)]))
        self.normalize_()

    def directions(self) -> torch.Tensor:
        """All ω_k = w_k/‖w_k‖ (K × D)."""
        return F.normalize(self.weight, dim=1)

    @torch.no_grad()
    def normalize_(self) -> None:
        self.weight.copy_(F.normalize(self.weight, dim=1))

    def forward(self, features: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """s·⟨ω_y, φ⟩ per sample (N)."""
        return (self.directions()[y] * features).sum(dim=1) * self.scale

    def split(self, features: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(fun, dir)``: s·⟨ω_y⁻, φ⟩ and s⁻·⟨ω_y, φ⁻⟩, each of shape N."""
        omega = self.directions()[y]
        fun = (omega.detach() * features).sum(dim=1) * self.scale
        dir_ = (omega * features.detach()).sum(dim=1) * self.scale.detach()
        return fun, dir_


@NETS.register("san_cond_d")
class ClassSANDiscriminator(nn.Module):
    """D(x, y) = s·⟨ω_y, φ(x)⟩ on the body φ of the ``family``'s discriminator."""

    def __init__(self, family: str, shape, num_classes: int, width: int = 64, norm: str = "bn",
                 minibatch_std: bool = False):
        super().__init__()
        net = NETS.get(f"{family}_d")(tuple(shape), width=width, norm=norm, minibatch_std=minibatch_std)
        if not (hasattr(net, "features") and hasattr(net, "head") and hasattr(net, "feature_dim")):
            raise ValueError(f"net family {family!r}: its discriminator has no features/head for a SAN head")
        old = net.head
        weight = getattr(old, "weight_orig", None)
        scale = 1.0 if weight is not None else float(old.weight.detach().norm())
        net.head = nn.Identity()  # replaced by the class directions below
        self.net = net
        self.head = ClassSANHead(net.feature_dim, num_classes, scale)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.features(x)

    def split(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head.split(self.features(x), y)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x), y)
