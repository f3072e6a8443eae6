"""Stacked MNIST: three MNIST digits as the R, G, B channels of one 28×28 image (1000 modes).

The mode-collapse benchmark of Metz et al. 2017 (unrolled GAN, §3.3.2) and Srivastava et al.
2017 (VEEGAN), used at 28×28×3 by PacGAN (Lin et al. 2018, §5.2) and later work: each image
stacks three independently drawn MNIST digits along the colour channels, so there are
10³ = 1000 modes, labelled ``100·c0 + 10·c1 + c2`` for the digit classes of channels 0, 1, 2.

Construction (ours where the papers are silent): the ``train`` split holds 60 000 images whose
three digits are drawn uniformly with replacement from the MNIST train split, ``test`` 10 000
images drawn from the MNIST test split, with ``torch.Generator`` seeds :data:`SPLIT_SEEDS` (one
``randint`` of shape N×3 per split), so both are the same on every machine. Images are float32
in [-1, 1], N×3×28×28 (``u8/127.5 − 1`` per channel, as :mod:`ganbench.data.mnist`).

The train split takes 60 000·3·784·4 B ≈ 564 MB as float32 in memory (the test split 94 MB).
Evaluate with ``stacked_modes`` (:mod:`ganbench.metrics.stacked_modes`).
"""

from __future__ import annotations

import torch

from ganbench.data.base import Dataset, DatasetInfo
from ganbench.data.mnist import load_mnist_uint8, uint8_to_unit
from ganbench.registry import DATASETS

SPLIT_SIZES = {"train": 60000, "test": 10000}
SPLIT_SEEDS = {"train": 3001, "test": 3002}
NUM_MODES = 1000


def stack_digits(images_u8: torch.Tensor, labels: torch.Tensor, idx: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``idx`` N×3 indices into uint8 N×28×28 digits -> (N×3×28×28 in [-1, 1], stacked labels)."""
    x = uint8_to_unit(images_u8[idx])  # N×3×28×28, channel c = digit idx[:, c]
    y = labels[idx]
    return x, 100 * y[:, 0] + 10 * y[:, 1] + y[:, 2]


def stacked_indices(split: str) -> torch.Tensor:
    """The seeded N×3 MNIST indices of a split."""
    source = 60000 if split == "train" else 10000
    gen = torch.Generator().manual_seed(SPLIT_SEEDS[split])
    return torch.randint(source, (SPLIT_SIZES[split], 3), generator=gen)


@DATASETS.register("stacked_mnist")
class StackedMNIST(Dataset):
    info = DatasetInfo("stacked_mnist", "image", (3, 28, 28), num_classes=NUM_MODES)

    def prepare(self) -> None:
        """Only MNIST itself must be on disk; the stacks are rebuilt from it in a second."""
        load_mnist_uint8()

    def load_split(self, split: str):
        if split not in SPLIT_SIZES:
            raise ValueError(f"stacked_mnist has no split {split!r}")
        tensors = load_mnist_uint8()
        return stack_digits(tensors[f"{split}_x"], tensors[f"{split}_y"], stacked_indices(split))
