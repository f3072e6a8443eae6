"""PacGAN's networks for the 2D mixtures (Lin et al. 2018, §5.1; code fjxmlzn/PacGAN
``synthetic_data_experiments/2DGrid_GAN&PacGAN/config.py``, after ALI's toy networks).

- ``pacgan_mlp_g``: z (2-d N(0, I)) -> 4 × [Linear ``width``, BatchNorm, ReLU] -> Linear 2.
  The paper's ``gen_hidden_size`` is 400: set ``width: 400``.
- ``pacgan_mlp_d``: the m packed points (2m inputs) -> 3 × [Linear to ``width/2 · 5``, maxout over
  5 pieces] -> Linear 1. The paper's ``disc_hidden_size`` is 200 with 5 maxout pieces, i.e.
  ``width: 400`` gives it too. ``norm`` (none/bn/layer/spectral) acts as in ``mlp_d``; the
  paper's D has none.
- Weights N(0, 0.02²), biases 0 (the config's ``weights_init_std`` and ``biases_init``).

Use ``net: pacgan_mlp`` with ``width: 400`` for the paper's sizes.
"""

from __future__ import annotations

import torch
from torch import nn

from ganbench.nets.layers import MinibatchStd, norm_layers, spectral
from ganbench.registry import NETS

MAXOUT_PIECES = 5
INIT_STD = 0.02


def _linear(a: int, b: int, sn: bool = False) -> nn.Module:
    """Linear a -> b initialised as the paper's code (before any spectral normalisation)."""
    layer = nn.Linear(a, b)
    nn.init.normal_(layer.weight, 0.0, INIT_STD)
    nn.init.zeros_(layer.bias)
    return spectral(layer, sn)


class Maxout(nn.Module):
    """The maximum over ``pieces`` consecutive groups of features: (N, k·p) -> (N, k)."""

    def __init__(self, pieces: int):
        super().__init__()
        self.pieces = pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], -1, self.pieces).amax(dim=2)


@NETS.register("pacgan_mlp_g")
class PacGANMLPGenerator(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, ...], width: int = 400, depth: int = 4):
        super().__init__()
        self.z_dim = z_dim
        layers: list[nn.Module] = []
        dim = z_dim
        for _ in range(depth):
            layers += [_linear(dim, width), nn.BatchNorm1d(width), nn.ReLU()]
            dim = width
        layers.append(_linear(dim, shape[0]))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


@NETS.register("pacgan_mlp_d")
class PacGANMaxoutDiscriminator(nn.Module):
    def __init__(self, shape: tuple[int, ...], width: int = 400, depth: int = 3, norm: str = "none",
                 minibatch_std: bool = False, pieces: int = MAXOUT_PIECES):
        super().__init__()
        norm_layers(norm, 1)  # rejects an unknown kind
        sn = norm == "spectral"
        hidden = max(1, width // 2)
        layers: list[nn.Module] = []
        dim = shape[0]
        for i in range(depth):
            if minibatch_std and i == depth - 1:
                layers.append(MinibatchStd())
                dim += 1
            layers.append(_linear(dim, hidden * pieces, sn))
            if i > 0:
                layers += norm_layers(norm, hidden * pieces)
            layers.append(Maxout(pieces))
            dim = hidden
        self.body = nn.Sequential(*layers)
        self.feature_dim = hidden
        self.head = _linear(hidden, 1, sn)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(1)
