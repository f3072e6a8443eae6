"""Time and iterations to reach a threshold (``eval.time_to: {metric: fid, below: 20}``).

Claims such as "reaches its best FID 4x sooner" compare *when* a value is first reached,
not where training ends. For every trial, :func:`first_crossings` finds the first eval
step whose value is at or past the threshold (``<= below`` or ``>= above``) and the
wall-clock seconds since the trial started at that step (``elapsed_s``: training and the
evaluations before it, summed across resumes). Evaluations happen only at the eval
schedule, so a crossing is known to within ``eval_every`` iterations: the table says so.

:func:`render_time_to_markdown` aggregates per method x dataset: mean ± std over the seeds
that reached it, and ``reached k/n``; a seed that never reached it does not enter the mean
(it would need a value it never had), which is why ``k/n`` is always shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ganbench.report.tables import format_mean_std


def _label(threshold: dict[str, Any]) -> str:
    if threshold.get("below") is not None:
        return f"{threshold['metric']} ≤ {threshold['below']:g}"
    return f"{threshold['metric']} ≥ {threshold['above']:g}"


def first_crossings(df: pd.DataFrame, threshold: dict[str, Any]) -> pd.DataFrame:
    """One row per trial: ``trial_id, method, dataset, seed, reached, step, elapsed_s``.

    ``df`` is a results frame (one row per trial x eval step, see
    :func:`ganbench.report.collect.collect`); ``threshold`` is ``{metric, below|above}``.
    """
    key = threshold["metric"]
    rows = []
    for trial_id, group in df.groupby("trial_id", sort=False):
        first = group.iloc[0]
        row = {"trial_id": trial_id, "method": first["method"], "dataset": first["dataset"],
               "seed": first["seed"], "reached": False, "step": math.nan, "elapsed_s": math.nan}
        if key in group.columns:
            values = pd.to_numeric(group[key], errors="coerce")
            if threshold.get("below") is not None:
                hit = values <= float(threshold["below"])
            else:
                hit = values >= float(threshold["above"])
            hit = hit & group["step"].notna()
            if hit.any():
                at = group[hit].sort_values("step").iloc[0]
                row.update(reached=True, step=float(at["step"]), elapsed_s=float(at["elapsed_s"]))
        rows.append(row)
    return pd.DataFrame(rows, columns=["trial_id", "method", "dataset", "seed", "reached", "step", "elapsed_s"])


def time_to_frame(df: pd.DataFrame, thresholds: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """All thresholds' crossings stacked, with a ``threshold`` column (for ``time_to.csv``)."""
    frames = []
    for threshold in thresholds:
        crossings = first_crossings(df, threshold)
        crossings.insert(0, "threshold", _label(threshold))
        frames.append(crossings)
    if not frames:
        return pd.DataFrame(columns=["threshold", "trial_id", "method", "dataset", "seed", "reached", "step",
                                     "elapsed_s"])
    return pd.concat(frames, ignore_index=True)


def _cell(values: pd.Series) -> str:
    values = values.dropna().astype(float)
    return format_mean_std(float(values.mean()), float(values.std()), len(values)) if len(values) else "—"


def render_time_to_markdown(df: pd.DataFrame, thresholds: Sequence[dict[str, Any]],
                            methods: Sequence[str] | None = None) -> str:
    """A Markdown section with one table per threshold (empty string when none)."""
    if not thresholds or df.empty:
        return ""
    eval_every = _eval_spacing(df)
    out = ["## Time to threshold", ""]
    for threshold in thresholds:
        crossings = first_crossings(df, threshold)
        seen = list(dict.fromkeys(crossings["method"]))
        order = [m for m in (methods or []) if m in seen] + [m for m in seen if m not in (methods or [])]
        out += [f"**{_label(threshold)}**", "",
                "| method | dataset | iterations | seconds | reached |", "|---|---|---|---|---|"]
        for method in order:
            for dataset, group in crossings[crossings["method"] == method].groupby("dataset", sort=False):
                reached = group[group["reached"]]
                out.append(f"| {method} | {dataset} | {_cell(reached['step'])} | {_cell(reached['elapsed_s'])} "
                           f"| {len(reached)}/{len(group)} |")
        out.append("")
    out.append(f"First eval step at or past the threshold, mean ± std over the seeds that reached it "
               f"(known to within the eval spacing{eval_every}); seconds: wall clock since the trial "
               "started, evaluations included.")
    return "\n".join(out) + "\n"


def _eval_spacing(df: pd.DataFrame) -> str:
    steps = sorted(set(int(s) for s in df["step"].dropna()))
    gaps = {b - a for a, b in zip(steps, steps[1:])}
    return f" of {min(gaps)} iterations" if gaps else ""
