"""SAN last layer: a unit-norm direction ω and a scale (Takida et al., ICLR 2024, §5).

SAN writes the discriminator as f(x) = ⟨ω, h(x)⟩ with ω ∈ S^{D-1} (the paper; sony/san's ``SANLinear``).
This head replaces the linear ``head`` of any ganbench discriminator that exposes
``features(x)`` (flattened, ``feature_dim`` wide) and computes ``head(features(x))``:

    f(x) = ⟨ω, s·φ(x)⟩ = s·⟨ω, φ(x)⟩,     ω = w/‖w‖,  s = scale,  h = s·φ

- As in the official ``SANLinear`` (sony/san), ``scale`` is a learnable scalar initialised to
  the norm of the replaced layer's weight and ``weight`` starts as that weight divided by
  its norm, so the initial output equals the old head's output without its bias.
- ``normalize_()`` projects ``weight`` back to unit norm; it runs at construction and the
  SAN methods call it after every D optimiser step (StyleSAN-XL ``normalize_weight``).
  ``forward`` also divides by the norm, so the output is ⟨unit ω, h⟩ at every moment.
- D step (``split``), the detach pattern of sony/san after commit b50c34d (§2.2):
  ``fun = s·⟨ω⁻, φ(x)⟩`` (gradient to the features and the scale, none to ω) and
  ``dir = s⁻·⟨ω, φ(x)⁻⟩`` (gradient to ω only; the scale is detached too, as in SANLinear).
- G step and inference (``forward``): the plain s·⟨ω, φ(x)⟩, shape N×1 like ``nn.Linear``.

Departures: no bias (the output stays a pure inner product, as in simple-san ``fc_w`` and the
StyleSAN last layer with ``bias=False``); the ganbench nets' heads have one, which is
dropped. One output row only (no class-conditional projection). A spectrally normalised
head (``d_norm: spectral``) has effective weight norm 1, so its SAN scale starts at 1; the
scale is still learnable, as the official SAN last layer is not spectrally normalised.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.registry import NETS


@NETS.register("san_head")
class SANHead(nn.Module):
    """Direction ``weight`` (1×D, unit norm) times ``scale``; ``split`` gives the D-step outputs."""

    def __init__(self, feature_dim: int, init_weight: torch.Tensor | None = None):
        super().__init__()
        w = torch.randn(1, feature_dim) if init_weight is None else init_weight.detach().reshape(1, -1).clone()
        if w.shape[1] != feature_dim:
            raise ValueError(f"SAN head: weight has {w.shape[1]} features, expected {feature_dim}")
        self.feature_dim = feature_dim
        self.weight = nn.Parameter(w)
        self.scale = nn.Parameter(w.norm().reshape(1))
        self.normalize_()

    @classmethod
    def from_linear(cls, head: nn.Module) -> "SANHead":
        """A SAN head with the direction and initial scale of a 1-output linear layer."""
        spectral = hasattr(head, "weight_orig")
        weight = head.weight_orig if spectral else head.weight
        if weight.dim() != 2 or weight.shape[0] != 1:
            raise ValueError(f"SAN head replaces a linear layer with one output, not {tuple(weight.shape)}")
        san = cls(weight.shape[1], weight.to(torch.float32))
        if spectral:  # W/σ(W) has norm 1 for a single row
            with torch.no_grad():
                san.scale.fill_(1.0)
        return san.to(weight.device)

    def direction(self) -> torch.Tensor:
        """ω = w/‖w‖ (1×D)."""
        return F.normalize(self.weight, dim=1)

    @torch.no_grad()
    def normalize_(self) -> None:
        """Project the stored direction back onto the unit sphere."""
        self.weight.copy_(F.normalize(self.weight, dim=1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Plain output s·⟨ω, φ⟩, N×1 (G step and inference)."""
        return F.linear(features, self.direction()) * self.scale

    def split(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """D-step outputs ``(fun, dir)``, each of shape N."""
        omega = self.direction()
        out_fun = F.linear(features, omega.detach()) * self.scale
        out_dir = F.linear(features.detach(), omega) * self.scale.detach()
        return out_fun.squeeze(1), out_dir.squeeze(1)


def attach_san_head(disc: nn.Module) -> SANHead:
    """Replace ``disc.head`` by a :class:`SANHead` built from it; returns the new head.

    ``disc`` must compute ``head(features(x))`` (ganbench's DCGAN and MLP discriminators do).
    Build the discriminator's optimiser after this call: the head's parameters change.
    """
    if not hasattr(disc, "features") or not isinstance(getattr(disc, "head", None), nn.Module):
        raise TypeError(f"{type(disc).__name__} has no features(x) and linear head for SAN to wrap")
    disc.head = SANHead.from_linear(disc.head)
    return disc.head
