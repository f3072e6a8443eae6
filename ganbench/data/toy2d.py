"""2D Gaussian mixtures of the VEEGAN/PacGAN mode-collapse protocol.

As in Lin et al. 2018 (PacGAN, §5.1; code fjxmlzn/PacGAN ``synthetic_data_experiments/
2DRing_GAN&PacGAN/config.py`` and ``2DGrid_GAN&PacGAN/config.py``, after Srivastava et al. 2017,
VEEGAN, §5.1): ``ring8`` has 8 modes on the unit circle with std 0.01; ``grid25`` has 25 modes
at {-4,-2,0,2,4}² with std 0.05; equal weights. The PacGAN code trains on 100,000 points.
Training sets hold 100k points; a test set of 10k is drawn from another seed.
The points are used in their original units (no rescaling), so the mode metric's 3σ
threshold is the paper's.
"""

from __future__ import annotations

import math

import torch

from ganbench.data.base import Dataset, DatasetInfo
from ganbench.registry import DATASETS

_SPLIT_SIZES = {"train": 100_000, "test": 10_000}
_SPLIT_SEEDS = {"train": 1234, "test": 4321}


def ring8_centres() -> torch.Tensor:
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return torch.stack([torch.cos(angles), torch.sin(angles)], dim=1).float()


def grid25_centres() -> torch.Tensor:
    coords = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    gx, gy = torch.meshgrid(coords, coords, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


class GaussianMixture2D(Dataset):
    centres: torch.Tensor
    std: float

    def load_split(self, split: str):
        if split not in _SPLIT_SIZES:
            raise ValueError(f"{self.info.name} has no split {split!r}")
        gen = torch.Generator().manual_seed(_SPLIT_SEEDS[split])
        n = _SPLIT_SIZES[split]
        labels = torch.randint(len(self.centres), (n,), generator=gen)
        noise = torch.randn(n, 2, generator=gen) * self.std
        return self.centres[labels] + noise, labels


@DATASETS.register("ring8")
class Ring8(GaussianMixture2D):
    std = 0.01
    centres = ring8_centres()
    info = DatasetInfo(
        "ring8", "points", (2,), num_classes=8,
        extra=(("centres", ring8_centres().tolist()), ("std", 0.01)),
    )


@DATASETS.register("grid25")
class Grid25(GaussianMixture2D):
    std = 0.05
    centres = grid25_centres()
    info = DatasetInfo(
        "grid25", "points", (2,), num_classes=25,
        extra=(("centres", grid25_centres().tolist()), ("std", 0.05)),
    )
