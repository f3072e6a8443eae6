"""The metric contract shared by every metric and by the evaluator.

A metric is registered under the name a suite uses (``fid``, ``fcd``, ``modes``...). It
declares the values it produces and which way is better (lower, higher, or closest to zero for
a signed statistic such as the data-copying test C_T), the dataset kinds it
applies to, and computes its values from a tensor of generated samples. Every value carries
its protocol (n generated, n reference, split, extractor, resize mode).
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, ClassVar

import torch

from ganbench.data.base import DatasetInfo

LOWER = "min"
HIGHER = "max"
#: closest to zero is best (a signed statistic whose sign says which way it fails: C_T)
ZERO = "zero"
DIRECTIONS = (LOWER, HIGHER, ZERO)
#: the mark tables, captions and ``ganbench list metrics`` print after a value key
ARROWS = {LOWER: "↓", HIGHER: "↑", ZERO: "→0"}
DIRECTION_TEXT = {LOWER: "lower is better", HIGHER: "higher is better", ZERO: "closest to 0 is best"}


def goodness(value: float, direction: str) -> float:
    """``value`` mapped so that larger is better under ``direction`` (v, −v or −|v|)."""
    if direction == HIGHER:
        return float(value)
    if direction == LOWER:
        return -float(value)
    if direction == ZERO:
        return -abs(float(value))
    raise ValueError(f"unknown direction {direction!r}; expected one of {DIRECTIONS}")


def best_of(values: dict[Any, float], direction: str):
    """The key of ``values`` whose value is best under ``direction`` (the first one on a tie)."""
    return max(values, key=lambda k: goodness(values[k], direction))


@dataclasses.dataclass(frozen=True)
class EvalContext:
    """What a metric needs to know besides the generated samples."""

    dataset: DatasetInfo
    reference: str  # split of the dataset used as the reference: "train" | "test"
    num_samples: int  # n generated (and the n of reference samples unless num_reference is set)
    device: torch.device = torch.device("cpu")
    seed: int = 0  # seed of the reference-subset draw
    #: the Inception metrics' resize mode (eval.resize): "clean" | "legacy_tensorflow"
    resize: str = "clean"
    #: n of reference samples (eval.num_reference); None: num_samples. Capped at the split size.
    num_reference: int | None = None
    #: the class label of each generated sample (conditional methods; see
    #: :func:`ganbench.methods.base.balanced_labels`), None for unconditional samples
    labels: torch.Tensor | None = None
    #: the method being evaluated (translation metrics call its ``translate``), None for
    #: samples evaluated without a method (``ganbench eval`` on files, floors)
    method: Any = None

    @property
    def reference_size(self) -> int:
        """How many real images of ``reference`` the reference features are computed on."""
        return self.num_samples if self.num_reference is None else self.num_reference


class Metric(abc.ABC):
    """One metric. Subclasses set the class attributes and implement :meth:`compute`."""

    name: ClassVar[str]
    #: value key -> LOWER, HIGHER or ZERO; keys are the column names in results.csv and tables.
    outputs: ClassVar[dict[str, str]]
    #: dataset kinds the metric applies to ("image", "points"); ``datasets`` narrows further.
    kinds: ClassVar[frozenset[str]] = frozenset({"image"})
    datasets: ClassVar[frozenset[str] | None] = None
    #: a short description for ``ganbench list metrics``.
    summary: ClassVar[str] = ""
    #: value key -> the column header tables and figures print ("Modes (/8)"); missing keys:
    #: the report's own table, else the raw key
    display: ClassVar[dict[str, str]] = {}
    #: the metric reads the class label of each generated sample (``ctx.labels``), so only a
    #: conditional method can be evaluated with it (checked when a suite is validated)
    needs_labels: ClassVar[bool] = False

    @classmethod
    def applies_to(cls, info: DatasetInfo) -> bool:
        if info.kind not in cls.kinds:
            return False
        return cls.datasets is None or info.name in cls.datasets

    def prepare(self, ctx: EvalContext) -> None:
        """Make the metric's assets ready (weights, reference statistics) before trials start.

        Called once in the driver, so that parallel trials never build the same cache twice.
        """
        del ctx

    @abc.abstractmethod
    def compute(self, fake: torch.Tensor, ctx: EvalContext) -> tuple[dict[str, float], dict[str, Any]]:
        """Return ``(values, protocol)`` for ``fake`` (images in [-1, 1] N×C×H×W, or points N×d)."""
