"""What every dataset provides: a description and whole splits as tensors.

Data sit on the trial's device as one tensor; training draws mini-batches by indexing it,
with no per-step DataLoader.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

import torch

from ganbench.registry import DATASETS


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a dataset.

    ``kind`` is ``"image"`` (tensors N×C×H×W in [-1, 1]), ``"points"`` (N×d), or
    ``"conditional"`` (one N×(C+T) tensor of condition and flattened target side by side;
    ``shape`` is the target's, ``extras["condition_shape"]`` the condition's; see
    :mod:`ganbench.data.conditional`).
    ``extra`` carries family-specific facts (mode centres and std for 2D mixtures).
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    num_classes: int = 0
    splits: tuple[str, ...] = ("train", "test")
    extra: tuple[tuple[str, Any], ...] = ()

    @property
    def extras(self) -> dict[str, Any]:
        return dict(self.extra)


class Dataset(abc.ABC):
    """A dataset family member. Subclasses set :attr:`info` and implement :meth:`load_split`."""

    info: DatasetInfo

    @abc.abstractmethod
    def load_split(self, split: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(x, y)`` for the split: float32 data in [-1, 1] and int64 labels or None."""

    def prepare(self) -> None:
        """Make sure the data are available offline (download or convert into the cache)."""
        for split in self.info.splits:
            self.load_split(split)


_cache: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor | None]] = {}


def get_dataset(name: str) -> Dataset:
    return DATASETS.get(name)()


def load_dataset(name: str, split: str, device: str | torch.device = "cpu"):
    """Load a split of a dataset once per process and return it on ``device``."""
    key = (name, split)
    if key not in _cache:
        _cache[key] = get_dataset(name).load_split(split)
    x, y = _cache[key]
    return x.to(device), (y.to(device) if y is not None else None)
