"""Two-mode MNIST of the cGML student poster (its "RÉSULTATS" section).

The poster turns MNIST into a two-mode conditional task by adding "un trait blanc à une
position fixée sur 30 % des données": for the same input the model should reach both the
plain digit and the digit with a white line. A student reproduction of cGML builds the same
dataset ("white line added to 30 % of training images"), unverified as the paper's own protocol.

Choices where the sources are silent (ours):
- condition x = the clean MNIST digit (1×28×28 in [−1, 1]); target y = the same digit,
  with the bar on exactly ``round(0.3·N)`` examples of each split, chosen by a seeded
  permutation (fixed per split, so train and test are reproducible);
- the bar is white (+1) on rows 13–14 and columns 4–23 (a 2×20 horizontal line through
  the middle of the digit box); pixels under it are set to +1, the others are unchanged;
- splits: the standard MNIST train (60 000) and test (10 000) images.

Rows are ``[x.flatten(), y.flatten()]`` (784 + 784 values; :mod:`ganbench.data.conditional`).
Mode 0 ("plain") is y = x, mode 1 ("bar") is x with the bar.
"""

from __future__ import annotations

import torch

from ganbench.data.base import DatasetInfo
from ganbench.data.conditional import CONDITIONAL, ConditionalDataset
from ganbench.data.mnist import load_mnist_uint8, uint8_to_unit
from ganbench.registry import DATASETS

BAR_ROWS = slice(13, 15)
BAR_COLS = slice(4, 24)
BAR_SHARE = 0.3
SPLIT_SEEDS = {"train": 5101, "test": 5102}
#: per-pixel RMSE within which an output counts as reaching a mode (our choice): the two
#: modes are at most sqrt(40·4/784) ≈ 0.45 apart (bar crossing no stroke), 0.38 for the
#: median test digit and 0.29 at the 5 % quantile, so 0.12 stays below half the gap for
#: almost every digit (a half-drawn bar reaches neither) and is twice the reconstruction
#: error (≈ 0.06) of a short cGML run
MODE_TOL = 0.12


def add_bar(images: torch.Tensor) -> torch.Tensor:
    """A copy of N×1×28×28 images in [−1, 1] with the white bar drawn in."""
    out = images.clone()
    out[..., BAR_ROWS, BAR_COLS] = 1.0
    return out


def bar_mask(n: int, seed: int) -> torch.Tensor:
    """Bool mask with exactly round(0.3·n) True entries at seeded positions."""
    gen = torch.Generator().manual_seed(seed)
    mask = torch.zeros(n, dtype=torch.bool)
    mask[torch.randperm(n, generator=gen)[: round(BAR_SHARE * n)]] = True
    return mask


_conditions: dict[str, torch.Tensor] = {}


def conditions(split: str) -> torch.Tensor:
    """The split's clean digits as N×1×28×28 float32 in [−1, 1] (cached per process)."""
    if split not in _conditions:
        _conditions[split] = uint8_to_unit(load_mnist_uint8()[f"{split}_x"]).unsqueeze(1)
    return _conditions[split]


@DATASETS.register("mnist_bar")
class MNISTBar(ConditionalDataset):
    info = DatasetInfo(
        "mnist_bar", CONDITIONAL, (1, 28, 28),
        extra=(("condition_shape", (1, 28, 28)), ("mode_names", ("plain", "bar")),
               ("mode_shares", (1.0 - BAR_SHARE, BAR_SHARE)), ("mode_tol", MODE_TOL),
               ("bar", {"rows": (13, 15), "cols": (4, 24)})),
    )

    def load_split(self, split: str):
        if split not in SPLIT_SEEDS:
            raise ValueError(f"mnist_bar has no split {split!r}")
        x = conditions(split)
        y = x.clone()
        mask = bar_mask(x.shape[0], SPLIT_SEEDS[split])
        y[mask] = add_bar(x[mask])
        n = x.shape[0]
        return torch.cat([x.reshape(n, -1), y.reshape(n, -1)], dim=1), None

    def eval_conditions(self, m, generator=None, device="cpu"):
        """``m`` test digits drawn uniformly with replacement by ``generator``."""
        pool = conditions("test")
        dev = generator.device if generator is not None else torch.device("cpu")
        idx = torch.randint(pool.shape[0], (m,), generator=generator, device=dev).cpu()
        return pool[idx].to(device)

    def true_modes(self, cond):
        return torch.stack([cond, add_bar(cond)], dim=1)
