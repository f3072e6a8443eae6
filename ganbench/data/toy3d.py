"""The cGML toy task: a two-branch 3-D output for a scalar condition.

The toy experiment as a third-party student reimplementation of cGML runs it (the cGML student
poster states the same task): x ~ U(0, 1), y = s·(4x, 4x², 4x³) with s = ±1,
each with probability ½, independently of x. Train 20 000 pairs, test 2 000, drawn with
fixed seeds (different for each split). No noise is added (the sources mention none).

Rows are ``[x, y1, y2, y3]`` (the conditional contract of :mod:`ganbench.data.conditional`).
Mode 0 ("plus") is s = +1, mode 1 ("minus") is s = −1.
"""

from __future__ import annotations

import torch

from ganbench.data.base import DatasetInfo
from ganbench.data.conditional import CONDITIONAL, ConditionalDataset
from ganbench.registry import DATASETS

SPLIT_SIZES = {"train": 20_000, "test": 2_000}
SPLIT_SEEDS = {"train": 3101, "test": 3102}
#: per-element RMSE within which an output counts as reaching a branch (our choice; the
#: branches are 8x·sqrt(1+x²+x⁴) apart, so below x ≈ 0.05 they are closer than this)
MODE_TOL = 0.25


def branch(x: torch.Tensor) -> torch.Tensor:
    """The + branch (4x, 4x², 4x³) for conditions x of shape N×1."""
    return 4.0 * torch.cat([x, x**2, x**3], dim=1)


@DATASETS.register("toy3d")
class Toy3D(ConditionalDataset):
    info = DatasetInfo(
        "toy3d", CONDITIONAL, (3,),
        extra=(("condition_shape", (1,)), ("mode_names", ("plus", "minus")),
               ("mode_shares", (0.5, 0.5)), ("mode_tol", MODE_TOL)),
    )

    def load_split(self, split: str):
        if split not in SPLIT_SIZES:
            raise ValueError(f"toy3d has no split {split!r}")
        gen = torch.Generator().manual_seed(SPLIT_SEEDS[split])
        n = SPLIT_SIZES[split]
        x = torch.rand(n, 1, generator=gen)
        sign = torch.where(torch.rand(n, 1, generator=gen) < 0.5, 1.0, -1.0)
        return torch.cat([x, sign * branch(x)], dim=1), None

    def eval_conditions(self, m, generator=None, device="cpu"):
        """x ~ U(0, 1), the training distribution of the condition."""
        dev = generator.device if generator is not None else torch.device(device)
        return torch.rand(m, 1, generator=generator, device=dev).to(device)

    def true_modes(self, cond):
        plus = branch(cond.reshape(-1, 1))
        return torch.stack([plus, -plus], dim=1)
