"""Published values set beside measured ones: the ``published:`` block of a suite.

A suite may list the numbers a paper reports for its rows::

    published:
      - {method: gan, dataset: ring8, metric: modes_covered, value: 6.3, spread: 0.5, runs: 10,
         source: "Lin et al. 2018, PacGAN, Table 2", note: "2,500 samples, 3 sigma rule"}

``method`` is a row label of the suite (a method's ``label`` or its name), ``dataset`` one of
its datasets and ``metric`` a value key of its metrics (a results column such as
``modes_covered``, not the metric's name). ``spread`` is the published ± (optional, as the
paper gives it: usually a standard deviation over ``runs``); ``note`` says how the paper's
protocol differs from the suite's, if it does.

The suite copy the run writes (``suite.json``) carries the block, so ``ganbench report DIR``
renders it from the results folder alone (:func:`published_from_folder`).

The reproduction verdict (:func:`reproduction_rows`): the difference Δ = measured mean −
published value lies *within* the combined spread when |Δ| ≤ sqrt(s_m² + s_p²), s_m being the
measured std over seeds and s_p the published spread (a missing one counts as 0); *outside*
otherwise. With one seed (s_m unknown) and no published spread there is no spread to compare
with, so the verdict is "no spread".
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

#: the rule the Reproduction section states
RULE = "|Δ| ≤ √(s_m² + s_p²)"
RULE_TEXT = ("within: |Δ| ≤ √(s_m² + s_p²), with Δ = measured mean − published value, s_m the measured std "
             "over seeds and s_p the published spread (0 if the paper gives none)")


class PublishedValue(BaseModel):
    """One published number for a (row, dataset, value key) of a suite."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str = Field(min_length=1)
    dataset: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    value: float
    spread: float | None = Field(None, ge=0)
    runs: int | None = Field(None, gt=0)
    source: str = Field(min_length=1)
    note: str | None = None

    @field_validator("value", "spread")
    @classmethod
    def _finite(cls, v):
        if v is not None and not math.isfinite(v):
            raise ValueError("expected a finite number")
        return v

    @property
    def key(self) -> tuple[str, str, str]:
        return self.method, self.dataset, self.metric


def check_published(entries: Sequence[PublishedValue], rows: Sequence[str], datasets: Sequence[str],
                    value_keys: Sequence[str], fail: Callable[[str, str], None]) -> None:
    """Each entry names a row, a dataset and a value key of the suite, and no key twice.

    ``fail(path, what)`` raises the suite's one-line error (``published[2].method: ...``).
    """
    seen: dict[tuple[str, str, str], int] = {}
    for i, entry in enumerate(entries):
        if entry.method not in rows:
            fail(f"published[{i}].method", f"{entry.method!r} is not a row of the suite "
                 f"(rows: {', '.join(rows)})")
        if entry.dataset not in datasets:
            fail(f"published[{i}].dataset", f"{entry.dataset!r} is not a dataset of the suite "
                 f"(datasets: {', '.join(datasets)})")
        if entry.metric not in value_keys:
            fail(f"published[{i}].metric", f"{entry.metric!r} is not a value of the suite's metrics "
                 f"(values: {', '.join(value_keys) or 'none'})")
        if entry.key in seen:
            fail(f"published[{i}]", f"{'/'.join(entry.key)} is already given by published[{seen[entry.key]}]")
        seen[entry.key] = i


def published_from_folder(suite_dir: str | os.PathLike) -> list[PublishedValue]:
    """The ``published`` block saved in a results folder's ``suite.json`` (``[]`` if none).

    The block was validated when the suite was loaded; an entry that no longer validates (a
    hand-edited file) is dropped with a warning rather than stopping the report.
    """
    import warnings

    path = Path(suite_dir) / "suite.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    raw = ((meta or {}).get("suite") or {}).get("published") or []
    out = []
    for i, entry in enumerate(raw if isinstance(raw, list) else []):
        try:
            out.append(PublishedValue.model_validate(entry))
        except ValidationError as err:
            warnings.warn(f"{path}: suite.published[{i}] ignored: {err.errors()[0]['msg']}", stacklevel=2)
    return out


def as_lookup(entries: Sequence[PublishedValue | dict[str, Any]]) -> dict[tuple[str, str, str], PublishedValue]:
    """``{(row, dataset, value key): entry}`` from entries or their dicts."""
    out = {}
    for entry in entries:
        entry = entry if isinstance(entry, PublishedValue) else PublishedValue.model_validate(entry)
        out[entry.key] = entry
    return out


def verdict(delta: float, measured_std: float, published_spread: float | None) -> str:
    """``"within"`` / ``"outside"`` by the rule of the module docstring, or ``"no spread"``."""
    s_m = measured_std if math.isfinite(measured_std) else None
    if s_m is None and published_spread is None:
        return "no spread"
    combined = math.hypot(s_m or 0.0, published_spread or 0.0)
    return "within" if abs(delta) <= combined else "outside"


def reproduction_rows(final_df, entries: Sequence[PublishedValue]):
    """One row per published entry (a DataFrame): the measured mean, std and n (over the seeds
    with a value), the published value, spread and runs, Δ, the combined spread and the verdict."""
    import pandas as pd

    rows = []
    for entry in entries:
        part = final_df[(final_df["method"] == entry.method) & (final_df["dataset"] == entry.dataset)]
        values = part[entry.metric].dropna().astype(float) if entry.metric in part else pd.Series(dtype=float)
        n = len(values)
        mean = float(values.mean()) if n else math.nan
        std = float(values.std(ddof=1)) if n >= 2 else math.nan
        delta = mean - entry.value if n else math.nan
        combined = math.hypot(std if math.isfinite(std) else 0.0, entry.spread or 0.0)
        rows.append({
            "method": entry.method, "dataset": entry.dataset, "metric": entry.metric,
            "measured_mean": mean, "measured_std": std, "seeds": n,
            "published": entry.value, "published_spread": entry.spread, "published_runs": entry.runs,
            "delta": delta, "combined_spread": combined if n else math.nan,
            "verdict": verdict(delta, std, entry.spread) if n else "not measured",
            "source": entry.source, "note": entry.note or "",
        })
    return pd.DataFrame(rows, columns=[
        "method", "dataset", "metric", "measured_mean", "measured_std", "seeds", "published", "published_spread",
        "published_runs", "delta", "combined_spread", "verdict", "source", "note"])
