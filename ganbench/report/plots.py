"""Seaborn figures of a suite: metric curves over training and 2D sample scatters.

Figures are drawn on :class:`matplotlib.figure.Figure` objects (Agg canvas), never through
pyplot's global state, and written atomically as PNG (for a screen) and PDF (vector, for a
paper) side by side. Every function returns the paths it wrote and skips, without raising,
what has nothing to draw.

Paper-ready rules, the same in every figure of a suite:

- **names** are the tables' display names (:mod:`ganbench.report.names`);
- **colours** are fixed per method across all figures (:func:`method_colours`, from the suite's
  row order), so WGAN-GP is the same colour on every curve and in every legend;
- **legends** sit outside the axes (right of the plot), never over the data;
- **limits** are per panel and robust: one diverged run must not squash the others. A curve
  panel's y-range covers the values within :data:`FENCE` inter-quartile ranges of the
  quartiles; values beyond are clipped and the panel says so. A sample panel shows the
  region of the true mode centres (or, without centres, the median extent of all panels);
  points outside are drawn on the border as grey crosses and the title gives their share.

``plots/<dataset>_samples.{png,pdf}`` is the method x seed grid; ``plots/samples/
<dataset>_<method>_seed<k>.{png,pdf}`` is one figure per trial, with the true mode centres.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ganbench.report.collect import FINISHED, value_keys
from ganbench.report.names import dataset_display, key_display, method_display

ARROW_TEXT = {"min": "lower is better", "max": "higher is better", "zero": "closest to 0 is best"}
MAX_SEED_PANELS = 6
#: a curve value further than FENCE inter-quartile ranges beyond the quartiles is clipped
FENCE = 5.0
FORMATS = ("png", "pdf")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(text)).strip("-") or "x"


def _save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` to ``path`` atomically, in the format its suffix names (.png, .pdf)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=120, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_figure(fig: Figure, stem: Path) -> list[Path]:
    """``stem.png`` and ``stem.pdf``."""
    return [_save(fig, stem.with_name(f"{stem.name}.{ext}")) for ext in FORMATS]


def method_colours(methods: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """One fixed colour per method, in the given order (tab10, then tab20, then husl)."""
    methods = list(dict.fromkeys(methods))
    n = len(methods)
    palette = sns.color_palette("tab10" if n <= 10 else "tab20" if n <= 20 else "husl", max(n, 1))
    return {m: tuple(palette[i]) for i, m in enumerate(methods)}


def robust_limits(values: np.ndarray, fence: float = FENCE) -> tuple[float, float, int]:
    """``(low, high, clipped)``: the range of the values within the fences, padded by 5 %, and
    how many values lie beyond it."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0, 0
    q1, q3 = np.percentile(values, [25, 75])
    iqr = q3 - q1
    if iqr == 0:
        iqr = max(abs(q1), abs(q3), 1e-12) * 0.1
    inside = values[(values >= q1 - fence * iqr) & (values <= q3 + fence * iqr)]
    lo, hi = float(inside.min()), float(inside.max())
    pad = 0.05 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.05
    return lo - pad, hi + pad, int(values.size - inside.size)


def _counts(df: pd.DataFrame) -> dict[tuple[str, str], int]:
    from ganbench.report.tables import _counts as counts

    return counts(df) if "protocol" in df else {}


def plot_curves(
    df: pd.DataFrame,
    directions: dict[str, str],
    out_dir: str | os.PathLike,
    keys: Sequence[str] | None = None,
    colours: dict[str, tuple] | None = None,
) -> list[Path]:
    """``<dataset>_<key>.{png,pdf}``: each value key over iterations, one line per method.

    The line is the mean over seeds at each eval step, the band ± one standard deviation.
    A (dataset, key) pair without finite values is skipped.
    """
    out_dir = Path(out_dir)
    keys = [k for k in (keys if keys is not None else value_keys(df)) if k in df.columns]
    data = df[df["step"].notna()].copy()
    data["step"] = data["step"].astype(float)
    colours = colours or method_colours(list(df["method"]))
    counts = _counts(df)
    written = []
    for dataset, part in data.groupby("dataset", sort=False):
        methods = list(dict.fromkeys(part["method"]))
        for key in keys:
            rows = part[np.isfinite(part[key].to_numpy(dtype=float, na_value=np.nan))].copy()
            if rows.empty:
                continue
            rows["Method"] = rows["method"].map(method_display)
            order = [method_display(m) for m in methods if m in set(rows["method"])]
            palette = {method_display(m): colours.get(m, (0.3, 0.3, 0.3)) for m in methods}
            fig = Figure(figsize=(6.4, 3.6), layout="constrained")
            ax = fig.subplots()
            sns.lineplot(data=rows, x="step", y=key, hue="Method", hue_order=order, palette=palette,
                         errorbar="sd", marker="o", markersize=4, ax=ax, legend=True)
            lo, hi, clipped = robust_limits(rows[key].to_numpy(dtype=float))
            if clipped:
                ax.set_ylim(lo, hi)
                beyond = rows[(rows[key] < lo) | (rows[key] > hi)].groupby("Method", sort=False).size()
                text = ", ".join(f"{m} ({n})" for m, n in beyond.items())
                ax.text(0.01, 0.99, f"clipped, values beyond the axis: {text}", transform=ax.transAxes,
                        ha="left", va="top", fontsize=7, color="0.35")
            hint = ARROW_TEXT.get(directions.get(key, ""))
            name = key_display(key, counts.get((dataset, key)))
            ax.set_title(f"{dataset_display(dataset)}: {name}" + (f" ({hint})" if hint else ""))
            ax.set_xlabel("iteration")
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
            if ax.get_legend() is not None:
                handles, labels = ax.get_legend_handles_labels()
                ax.get_legend().remove()
                fig.legend(handles, labels, loc="outside right upper", title="mean ± sd over seeds",
                           fontsize="small", title_fontsize="small", frameon=False)
            written += save_figure(fig, out_dir / f"{_slug(dataset)}_{_slug(key)}")
    return written


def _load_points(path: Path) -> np.ndarray | None:
    try:
        points = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        warnings.warn(f"cannot read {path}: {err}", stacklevel=3)
        return None
    if points.ndim != 2 or points.shape[1] != 2:
        warnings.warn(f"{path}: expected an N x 2 array, got shape {points.shape}", stacklevel=3)
        return None
    points = points.astype(float)
    return points[np.isfinite(points).all(axis=1)]


def sample_limits(panels: Sequence[np.ndarray], centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(low, high)`` (each x, y) of a sample panel: the mode centres' box padded by a quarter of
    its size, or without centres the median over panels of each panel's 1–99 % box."""
    if len(centre):
        lo, hi = centre.min(axis=0), centre.max(axis=0)
        pad = 0.25 * (hi - lo) + 0.5
        return lo - pad, hi + pad
    boxes = [np.percentile(p, [1, 99], axis=0) for p in panels if len(p)]
    if not boxes:
        return -np.ones(2), np.ones(2)
    lo, hi = np.median([b[0] for b in boxes], axis=0), np.median([b[1] for b in boxes], axis=0)
    pad = 0.1 * (hi - lo) + 1e-6
    return lo - pad, hi + pad


def _draw_points(ax, points: np.ndarray, centre: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                 colour) -> float:
    """Scatter ``points`` within the limits, the ones outside as grey crosses on the border;
    draw the centres; return the share of points outside."""
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.tick_params(labelsize=6)
    outside = ~((points >= lo) & (points <= hi)).all(axis=1)
    inside = points[~outside]
    ax.scatter(inside[:, 0], inside[:, 1], s=4, alpha=0.4, linewidths=0, color=colour)
    if outside.any():
        edge = np.clip(points[outside], lo, hi)
        ax.scatter(edge[:, 0], edge[:, 1], s=10, marker="x", linewidths=0.6, color="0.5")
    if len(centre):
        ax.scatter(centre[:, 0], centre[:, 1], marker="o", s=70, facecolors="none", edgecolors="red", linewidths=1)
    return float(outside.mean()) if len(points) else 0.0


def _outside_text(share: float) -> str:
    return f", {100 * share:.0f}% outside" if share > 0 else ""


def plot_samples(
    df: pd.DataFrame,
    suite_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    centres: dict[str, Sequence[Sequence[float]]] | None = None,
    colours: dict[str, tuple] | None = None,
    per_trial: bool = True,
) -> list[Path]:
    """``<dataset>_samples.{png,pdf}``: a method x seed grid of the final 2D samples, and (with
    ``per_trial``) ``samples/<dataset>_<method>_seed<k>.{png,pdf}`` for each trial.

    Only datasets whose trials left ``samples.npy`` are drawn (at most
    :data:`MAX_SEED_PANELS` seeds per method in the grid). ``centres`` maps a dataset to its
    mode centres, drawn as red circles in every panel.
    """
    trials_dir, out_dir = Path(suite_dir) / "trials", Path(out_dir)
    trials = df.drop_duplicates("trial_id")
    colours = colours or method_colours(list(df["method"]))
    written = []
    for dataset, part in trials.groupby("dataset", sort=False):
        found: dict[tuple[str, int], tuple[np.ndarray, str]] = {}
        for row in part.itertuples():
            path = trials_dir / str(row.trial_id) / "samples.npy"
            if path.is_file() and (points := _load_points(path)) is not None:
                seed = int(row.seed) if pd.notna(row.seed) else -1
                found[(row.method, seed)] = (points, row.status)
        if not found:
            continue
        methods = list(dict.fromkeys(m for m, _ in found))
        seeds = sorted(dict.fromkeys(s for _, s in found))[:MAX_SEED_PANELS]
        centre = np.asarray((centres or {}).get(dataset, []), dtype=float).reshape(-1, 2)
        lo, hi = sample_limits([p for p, _ in found.values()], centre)
        name = dataset_display(dataset)
        fig = Figure(figsize=(2.6 * len(seeds), 2.6 * len(methods) + 0.4), layout="constrained")
        axes = np.atleast_2d(fig.subplots(len(methods), len(seeds), squeeze=False))
        for i, method in enumerate(methods):
            for j, seed in enumerate(seeds):
                ax = axes[i, j]
                if (method, seed) not in found:
                    ax.set_xlim(lo[0], hi[0])
                    ax.set_ylim(lo[1], hi[1])
                    ax.set_aspect("equal")
                    ax.tick_params(labelsize=6)
                    ax.set_title(f"{method_display(method)} seed {seed}: no samples", fontsize=8)
                    continue
                points, status = found[(method, seed)]
                share = _draw_points(ax, points, centre, lo, hi, colours.get(method))
                flag = "" if status == FINISHED else f" [{status}]"
                ax.set_title(f"{method_display(method)} seed {seed}{flag}{_outside_text(share)}", fontsize=8)
        legend = " (red circles: mode centres; grey crosses: samples outside the panel, on its border)"
        fig.suptitle(f"{name}: final samples" + (legend if len(centre) else ""), fontsize=9)
        written += save_figure(fig, out_dir / f"{_slug(dataset)}_samples")
        if per_trial:
            for (method, seed), (points, status) in found.items():
                fig = Figure(figsize=(3.6, 3.8), layout="constrained")
                ax = fig.subplots()
                share = _draw_points(ax, points, centre, lo, hi, colours.get(method))
                flag = "" if status == FINISHED else f" [{status}]"
                ax.set_title(f"{name}: {method_display(method)}, seed {seed}{flag}{_outside_text(share)}",
                             fontsize=8)
                written += save_figure(fig, out_dir / "samples" / f"{_slug(dataset)}_{_slug(method)}_seed{seed}")
    return written


def make_plots(
    df: pd.DataFrame,
    suite_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    directions: dict[str, str],
    centres: dict[str, Sequence[Sequence[float]]] | None = None,
    keys: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
) -> list[Path]:
    """All figures of a suite (curves, then sample scatters) into ``out_dir``; ``methods``
    fixes the colour order (default: the frame's order), so a method keeps its colour."""
    seen = list(dict.fromkeys(df["method"])) if "method" in df else []
    order = [m for m in (methods or []) if m in seen] + [m for m in seen if m not in (methods or [])]
    colours = method_colours(order)
    return (plot_curves(df, directions, out_dir, keys, colours)
            + plot_samples(df, suite_dir, out_dir, centres, colours))
