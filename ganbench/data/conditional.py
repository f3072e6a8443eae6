"""Conditional (one-to-many) datasets: condition x and target y stored side by side.

Contract (shared by the cGML datasets, method and metrics):

- ``DatasetInfo.kind == "conditional"``; ``info.shape`` is the target's shape and
  ``info.extras["condition_shape"]`` the condition's.
- ``load_split(split)`` returns ``(pairs, None)``: ONE float32 tensor N×(C+T), each row the
  flattened condition followed by the flattened target (C = prod(condition_shape),
  T = prod(shape)), so the trainer keeps drawing batches by indexing one tensor.
  :func:`split_pair` undoes it, :func:`join_pair` builds it.
- Generated samples use the same row layout (condition first, then the generated target),
  so a metric knows the condition of every output without knowing how the evaluator
  batched the calls (see :meth:`ganbench.methods.cgml.CGML.sample`).
- A conditional dataset also knows its output modes analytically:
  :meth:`ConditionalDataset.true_modes` gives, for a batch of conditions, every true target
  (m × K × *shape), ``extras["mode_names"]`` names the K modes, ``extras["mode_shares"]``
  their probabilities in the data and ``extras["mode_tol"]`` the per-element RMSE within
  which an output counts as reaching a mode (used by :mod:`ganbench.metrics.cgml_modes`).
- :meth:`ConditionalDataset.eval_conditions` draws the conditions used at evaluation time
  from a generator, so that evaluation is deterministic given the seed.
"""

from __future__ import annotations

import abc
import math

import torch

from ganbench.data.base import Dataset, DatasetInfo, get_dataset

CONDITIONAL = "conditional"


def condition_shape(info: DatasetInfo) -> tuple[int, ...]:
    return tuple(info.extras["condition_shape"])


def pair_dims(info: DatasetInfo) -> tuple[int, int]:
    """(C, T): flattened sizes of the condition and of the target."""
    return math.prod(condition_shape(info)), math.prod(info.shape)


def split_pair(batch: torch.Tensor, info: DatasetInfo) -> tuple[torch.Tensor, torch.Tensor]:
    """N×(C+T) rows -> (conditions N×condition_shape, targets N×shape)."""
    c, t = pair_dims(info)
    if batch.ndim != 2 or batch.shape[1] != c + t:
        raise ValueError(f"{info.name}: expected rows of {c}+{t} values, got shape {tuple(batch.shape)}")
    n = batch.shape[0]
    return batch[:, :c].reshape(n, *condition_shape(info)), batch[:, c:].reshape(n, *info.shape)


def join_pair(cond: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(conditions, targets) with the same first dimension -> N×(C+T) rows."""
    n = cond.shape[0]
    return torch.cat([cond.reshape(n, -1), target.reshape(n, -1)], dim=1)


class ConditionalDataset(Dataset):
    """A dataset of (condition, target) pairs with analytically known target modes."""

    @abc.abstractmethod
    def eval_conditions(self, m: int, generator: torch.Generator | None = None,
                        device: torch.device | str = "cpu") -> torch.Tensor:
        """``m`` evaluation conditions (m × condition_shape), drawn with ``generator``."""

    @abc.abstractmethod
    def true_modes(self, cond: torch.Tensor) -> torch.Tensor:
        """Every true target of each condition: m × K × *shape, K = len(mode_names)."""


def get_conditional(name: str) -> ConditionalDataset:
    dataset = get_dataset(name)
    if not isinstance(dataset, ConditionalDataset):
        raise TypeError(f"dataset {name!r} is not a conditional dataset")
    return dataset
