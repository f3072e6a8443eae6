"""Pairwise interaction heatmaps of the search objective (one figure per row x dataset).

Why: hyperparameters that interact (the GN-GAN report's learning rates and penalty
weights, which "taken alone" did not help) show up as a diagonal ridge or valley in the
objective over a *pair* of coordinates, which one-at-a-time plots cannot show.

Which pairs: every pair of the coupled group's search coordinates (its base and the
targets that name a coordinate, e.g. ``lr`` and ``log_ratio_d``) when the row has a coupled
group with at least two searched coordinates; otherwise every pair of the searched numeric
coordinates (``loguniform``, ``uniform``, ``int``; ``choice`` coordinates are not binned).

Each panel is a seaborn heatmap of the *mean* objective of the trials in each cell of a
grid binned on both axes (bins equally spaced in log scale for ``loguniform``
coordinates, linear otherwise; edges span the search range, widened to the observed values),
all searchers of that row x dataset pooled. Over it every trial is drawn as a point at its
exact coordinates (mapped into the heatmap's cell units, log-scaled where the bins are):
circles for trials with a finite objective, red crosses for failed or diverged ones, which
are left out of the cell means. A trial stopped early by ASHA enters with the objective it
had when it was stopped (what the scheduler judged it by). Cells without a trial stay blank. All panels of a figure
share one colour scale (the range of the trials' objectives), so they can be compared.
"""

from __future__ import annotations

import itertools
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ganbench.report.plots import _save, _slug

KINDS = ("loguniform", "uniform", "int", "choice")
NUMERIC = ("loguniform", "uniform", "int")
MAX_BINS = 8


def coordinate_kinds(space: dict) -> dict[str, tuple[str, list]]:
    """``{coordinate: (kind, bounds or choices)}`` of a space dict (entries that are not a
    coordinate, such as an inline ``coupled`` block, are skipped)."""
    out = {}
    for name, spec in (space or {}).items():
        if name == "coupled" or not isinstance(spec, dict):
            continue
        kinds = [k for k in KINDS if k in spec]
        if len(kinds) == 1:
            out[name] = (kinds[0], list(spec[kinds[0]]))
    return out


def coupled_coordinates(coupled: dict | None, kinds: dict[str, tuple[str, list]]) -> list[str]:
    """The searched coordinates of a coupled group: its base and the targets that name one."""
    if not isinstance(coupled, dict):
        return []
    names = [coupled.get("base")] + [t for t in (coupled.get("targets") or {}).values() if isinstance(t, str)]
    return [n for n in dict.fromkeys(names) if n in kinds and kinds[n][0] in NUMERIC]


def heatmap_pairs(space: dict, coupled: dict | None) -> list[tuple[str, str]]:
    """The coordinate pairs to draw for one row (see the module docstring)."""
    kinds = coordinate_kinds(space)
    group = coupled_coordinates(coupled, kinds)
    if len(group) < 2:
        group = [n for n, (kind, _) in kinds.items() if kind in NUMERIC]
    return list(itertools.combinations(group, 2))


def _edges(values: np.ndarray, kind: str, bounds: list, n_bins: int) -> np.ndarray:
    finite = values[np.isfinite(values)]
    lo = min([float(bounds[0])] + list(finite)) if len(bounds) == 2 else finite.min()
    hi = max([float(bounds[1])] + list(finite)) if len(bounds) == 2 else finite.max()
    if kind == "loguniform" and lo > 0:
        return np.geomspace(lo, hi if hi > lo else lo * 10, n_bins + 1)
    return np.linspace(lo, hi if hi > lo else lo + 1, n_bins + 1)


def _to_cells(values: np.ndarray, edges: np.ndarray, log: bool) -> np.ndarray:
    """Positions in heatmap cell units (cell j spans [j, j + 1]) of coordinate values."""
    scale = np.log if log else (lambda x: x)
    return np.interp(scale(values), scale(edges), np.arange(len(edges), dtype=float))


def bin_means(x_pos: np.ndarray, y_pos: np.ndarray, values: np.ndarray, nx: int, ny: int) -> np.ndarray:
    """``ny x nx`` grid of the mean finite value per cell (NaN: no trial), from positions in
    cell units (see :func:`_to_cells`); a point on the upper edge belongs to the last cell."""
    ok = np.isfinite(values)
    x_bin = np.clip(np.floor(x_pos[ok]).astype(int), 0, nx - 1)
    y_bin = np.clip(np.floor(y_pos[ok]).astype(int), 0, ny - 1)
    sums = np.zeros((ny, nx))
    counts = np.zeros((ny, nx))
    np.add.at(sums, (y_bin, x_bin), values[ok])
    np.add.at(counts, (y_bin, x_bin), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def _label(value: float) -> str:
    return f"{value:.2g}" if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e3) else f"{value:.3g}"


def _panel(ax, trials: pd.DataFrame, x: str, y: str, kinds: dict, metric: str, mode: str,
           scale: tuple[float, float] | None = None) -> None:
    n_bins = int(min(MAX_BINS, max(2, math.ceil(math.sqrt(len(trials))))))
    xs = trials[x].to_numpy(dtype=float)
    ys = trials[y].to_numpy(dtype=float)
    x_edges = _edges(xs, kinds[x][0], kinds[x][1], n_bins)
    y_edges = _edges(ys, kinds[y][0], kinds[y][1], n_bins)
    x_log = kinds[x][0] == "loguniform" and x_edges[0] > 0
    y_log = kinds[y][0] == "loguniform" and y_edges[0] > 0
    x_pos, y_pos = _to_cells(xs, x_edges, x_log), _to_cells(ys, y_edges, y_log)
    value = trials["value"].to_numpy(dtype=float)
    ok = np.isfinite(value)
    grid = bin_means(x_pos, y_pos, value, n_bins, n_bins)
    cmap = "viridis_r" if mode == "min" else "viridis"  # bright = good in both modes
    if np.isfinite(grid).any():
        vmin, vmax = scale if scale is not None else (None, None)
        sns.heatmap(grid, ax=ax, cmap=cmap, mask=np.isnan(grid), cbar_kws={"label": f"mean {metric}"},
                    vmin=vmin, vmax=vmax, linewidths=0.3, linecolor="white", square=False)
    else:
        ax.text(n_bins / 2, n_bins / 2, "no finite objective", ha="center", va="center", fontsize=8)
    ax.scatter(x_pos[ok], y_pos[ok], s=14, facecolors="white", edgecolors="black", linewidths=0.6, zorder=3,
               clip_on=False)
    if (~ok).any():
        ax.scatter(x_pos[~ok], y_pos[~ok], s=22, marker="x", color="red", linewidths=1, zorder=3, clip_on=False,
                   label="failed/diverged")
        ax.legend(fontsize="x-small", loc="upper right")
    ticks = np.arange(n_bins + 1)
    ax.set_xticks(ticks, [_label(e) for e in x_edges], rotation=45, fontsize=6)
    ax.set_yticks(ticks, [_label(e) for e in y_edges], rotation=0, fontsize=6)
    ax.set_xlim(0, n_bins)
    ax.set_ylim(0, n_bins)  # low values at the bottom
    ax.set_xlabel(x + (" (log)" if x_log else ""))
    ax.set_ylabel(y + (" (log)" if y_log else ""))


def plot_heatmaps(
    records: pd.DataFrame,
    spaces: dict[str, dict],
    coupled: dict[str, dict | None],
    metric: str,
    mode: str,
    out_dir: str | os.PathLike,
) -> list[Path]:
    """``heatmap_<row>_<dataset>.png`` for every row x dataset with at least one pair to draw.

    ``records`` needs ``row, dataset, coords`` and ``value`` (the objective, NaN for
    failed trials); ``spaces`` and ``coupled`` are ``sweep.json``'s per-row entries.
    """
    out_dir = Path(out_dir)
    written = []
    for (row, dataset), part in records.groupby(["row", "dataset"], sort=False):
        space = spaces.get(row) or {}
        kinds = coordinate_kinds(space)
        pairs = heatmap_pairs(space, (coupled or {}).get(row) or space.get("coupled"))
        coords = pd.DataFrame([c if isinstance(c, dict) else {} for c in part["coords"]], index=part.index)
        pairs = [(a, b) for a, b in pairs if a in coords and b in coords]
        if not pairs:
            continue
        fig = Figure(figsize=(4.4 * min(3, len(pairs)), 3.8 * math.ceil(len(pairs) / 3)), layout="constrained")
        axes = np.atleast_1d(fig.subplots(math.ceil(len(pairs) / 3), min(3, len(pairs)), squeeze=False).ravel())
        finite = part["value"].to_numpy(dtype=float)
        finite = finite[np.isfinite(finite)]
        scale = (float(finite.min()), float(finite.max())) if len(finite) else None  # one scale for all panels
        for ax, (x, y) in zip(axes, pairs):
            trials = pd.DataFrame({x: pd.to_numeric(coords[x], errors="coerce"),
                                   y: pd.to_numeric(coords[y], errors="coerce"),
                                   "value": part["value"].to_numpy(dtype=float)}, index=part.index)
            trials = trials[trials[x].notna() & trials[y].notna()]
            if trials.empty:
                ax.set_axis_off()
                continue
            _panel(ax, trials, x, y, kinds, metric, mode, scale)
        for ax in axes[len(pairs):]:
            ax.set_axis_off()
        best = "lower" if mode == "min" else "higher"
        fig.suptitle(f"{row} on {dataset}: mean {metric} per cell ({best} is better), "
                     f"{len(part)} trials of all searchers", fontsize=10)
        written.append(_save(fig, out_dir / f"heatmap_{_slug(row)}_{_slug(dataset)}.png"))
    return written
