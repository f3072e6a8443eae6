"""Expected best objective against search budget, per searcher (Dodge et al., 2019).

Estimator. Dodge, Gururangan, Card, Schwartz and Smith, "Show Your Work: Improved Reporting
of Experimental Results", EMNLP 2019, Sec. 3: the *expected maximum validation performance*
of ``k`` hyperparameter trials is computed from the ``n`` trials that were actually run, as
the expectation of the maximum of ``k`` i.i.d. draws *with replacement* from their empirical
distribution. With the observed values sorted ascending, v(1) <= ... <= v(n),

    P(max of k draws = v(i)) = (i / n)^k - ((i - 1) / n)^k           (Dodge et al., Eq. 2)
    E[max_k]  = sum_i v(i) P(max_k = v(i))
    Var[max_k] = sum_i v(i)^2 P(max_k = v(i)) - E[max_k]^2.

Ties need no special care (the probabilities of equal values add up). For an objective
that is minimised (``mode: min``) the same holds for the minimum: the values are sorted
descending (from worst to best) and the estimate is the expected *minimum* of k draws.
The "spread" reported next to it is the standard deviation sqrt(Var[best_k]); the band in
the plots is E ± spread, clipped to the observed range of values, as in Dodge et al.'s
figures. This is the right estimator for random search; for an adaptive searcher (TPE,
coordinate search) the trials are not i.i.d., so the estimate answers "what would k draws
from the distribution of configurations this searcher visited give", and the plot also
shows the searcher's *actual* best-so-far in the order it proposed its trials.

Failed and diverged trials (and any trial without a finite objective) count as the worst
value: they are replaced by the worst finite objective observed for that method row and
dataset over all searchers, so every searcher pays the same penalty for a failed trial.
A trial stopped early by a scheduler (ASHA) keeps the objective it reported when it stopped.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ganbench.report.plots import _save, _slug

#: columns of ``budget.csv``
BUDGET_COLUMNS = ("row", "dataset", "searcher", "k", "expected_best", "spread", "best_so_far", "n_trials",
                  "worst_value")


def expected_best(values, k: int, mode: str = "max") -> tuple[float, float]:
    """Expected best of ``k`` i.i.d. draws (with replacement) from ``values``, and its std.

    ``mode="max"``: expected maximum (Dodge et al. 2019, Eq. 2); ``mode="min"``: expected
    minimum. Returns ``(expectation, standard deviation)``.
    """
    curve = expected_best_curve(values, mode, ks=[k])
    return float(curve["expected_best"].iloc[0]), float(curve["spread"].iloc[0])


def expected_best_curve(values, mode: str = "max", ks=None) -> pd.DataFrame:
    """``k, expected_best, spread`` for every k in ``ks`` (default 1..n) from ``n`` finite values."""
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0 or not np.isfinite(v).all():
        raise ValueError("expected_best_curve needs at least one value, all finite")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    n = v.size
    ordered = np.sort(v) if mode == "max" else np.sort(v)[::-1]  # worst first, best last
    ks = np.arange(1, n + 1) if ks is None else np.asarray(list(ks), dtype=int)
    if (ks < 1).any():
        raise ValueError("k must be >= 1")
    i = np.arange(1, n + 1, dtype=float)
    # P(best of k = ordered[i-1]) for every k (rows) and rank i (columns)
    probs = (i[None, :] / n) ** ks[:, None] - ((i[None, :] - 1) / n) ** ks[:, None]
    mean = probs @ ordered
    second = probs @ (ordered**2)
    var = np.clip(second - mean**2, 0.0, None)
    return pd.DataFrame({"k": ks, "expected_best": mean, "spread": np.sqrt(var)})


def best_so_far(values_in_order, mode: str = "max") -> np.ndarray:
    """The best value among the first k trials, for k = 1..n (running max or min)."""
    v = np.asarray(values_in_order, dtype=float)
    return np.maximum.accumulate(v) if mode == "max" else np.minimum.accumulate(v)


def penalised_objectives(records: pd.DataFrame, mode: str) -> pd.Series:
    """Each record's objective, with non-finite ones (failed, diverged) set to the worst
    finite objective of the same (row, dataset); NaN where that group has no finite value."""
    objective = pd.to_numeric(records["objective"], errors="coerce").astype(float)
    objective = objective.where(np.isfinite(objective))
    group = objective.groupby([records["row"], records["dataset"]])
    worst = group.transform("max" if mode == "min" else "min")
    return objective.fillna(worst)


def budget_table(records: pd.DataFrame, mode: str) -> pd.DataFrame:
    """The rows of ``budget.csv``: per (row, dataset, searcher) and k = 1..n the expected best
    (Dodge et al.), its spread (std) and the actual best-so-far in proposal order."""
    if records.empty:
        return pd.DataFrame(columns=BUDGET_COLUMNS)
    data = records.assign(value=penalised_objectives(records, mode))
    parts = []
    for (row, dataset, searcher), group in data.groupby(["row", "dataset", "searcher"], sort=False):
        group = group.sort_values("order", kind="stable")
        values = group["value"].to_numpy(dtype=float)
        if not np.isfinite(values).all():
            continue  # no finite objective for this row x dataset at all
        curve = expected_best_curve(values, mode)
        curve["best_so_far"] = best_so_far(values, mode)
        curve.insert(0, "searcher", searcher)
        curve.insert(0, "dataset", dataset)
        curve.insert(0, "row", row)
        curve["n_trials"] = len(values)
        curve["worst_value"] = values.max() if mode == "min" else values.min()
        parts.append(curve)
    if not parts:
        return pd.DataFrame(columns=BUDGET_COLUMNS)
    return pd.concat(parts, ignore_index=True)[list(BUDGET_COLUMNS)]


def plot_budget(table: pd.DataFrame, out_dir: str | os.PathLike, metric: str, mode: str) -> list[Path]:
    """``budget_<dataset>.png``: expected best against k, one facet per method row.

    Per searcher a solid line (expected best, Dodge et al.) with a band ± one spread,
    clipped to the range of the values that searcher observed, and a dashed step line
    (its actual best-so-far in proposal order). ``worst_value`` in the table is the worst
    (penalised) value the searcher observed: with its best, the clipping range of the band.
    """
    out_dir = Path(out_dir)
    written = []
    if table.empty:
        return written
    searchers = list(dict.fromkeys(table["searcher"]))
    colours = dict(zip(searchers, sns.color_palette(n_colors=len(searchers))))
    for dataset, part in table.groupby("dataset", sort=False):
        rows = list(dict.fromkeys(part["row"]))
        fig = Figure(figsize=(6.2 * len(rows), 3.6), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(rows), squeeze=False)[0])
        for ax, row in zip(axes, rows):
            facet = part[part["row"] == row]
            sns.lineplot(data=facet, x="k", y="expected_best", hue="searcher", hue_order=searchers,
                         palette=colours, marker="o", markersize=3, ax=ax)
            for searcher, curve in facet.groupby("searcher", sort=False):
                ends = (curve["best_so_far"].iloc[-1], curve["worst_value"].iloc[-1])  # observed range
                lo_obs, hi_obs = min(ends), max(ends)
                low = np.clip(curve["expected_best"] - curve["spread"], lo_obs, hi_obs)
                high = np.clip(curve["expected_best"] + curve["spread"], lo_obs, hi_obs)
                ax.fill_between(curve["k"], low, high, color=colours[searcher], alpha=0.2, linewidth=0)
                ax.step(curve["k"], curve["best_so_far"], where="post", linestyle="--",
                        color=colours[searcher], linewidth=1, label=f"{searcher}: best so far")
            ax.set_title(f"{row} on {dataset}", fontsize=9)
            ax.set_xlabel("budget k (trials)")
            ax.set_ylabel(f"expected best {metric} ({'lower' if mode == 'min' else 'higher'} is better)")
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend(fontsize="x-small", title="solid: E[best of k] ± sd\ndashed: actual best so far",
                      title_fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.suptitle(f"{dataset}: expected best {metric} against budget (Dodge et al. 2019)", fontsize=10)
        written.append(_save(fig, out_dir / f"budget_{_slug(dataset)}.png"))
    return written
