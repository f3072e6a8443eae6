"""Seaborn figures of a suite: metric curves over training and 2D sample scatters.

Figures are drawn on :class:`matplotlib.figure.Figure` objects (Agg canvas), never through
pyplot's global state, and written atomically as PNG. Every function returns the paths it
wrote and skips, without raising, what has nothing to draw.
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

ARROW_TEXT = {"min": "lower is better", "max": "higher is better"}
MAX_SEED_PANELS = 6


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(text)).strip("-") or "x"


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def plot_curves(
    df: pd.DataFrame,
    directions: dict[str, str],
    out_dir: str | os.PathLike,
    keys: Sequence[str] | None = None,
) -> list[Path]:
    """``<dataset>_<key>.png``: each value key over iterations, one line per method.

    The line is the mean over seeds at each eval step, the band ± one standard deviation.
    A (dataset, key) pair without finite values is skipped.
    """
    out_dir = Path(out_dir)
    keys = [k for k in (keys if keys is not None else value_keys(df)) if k in df.columns]
    data = df[df["step"].notna()].copy()
    data["step"] = data["step"].astype(float)
    written = []
    for dataset, part in data.groupby("dataset", sort=False):
        methods = list(dict.fromkeys(part["method"]))
        for key in keys:
            rows = part[np.isfinite(part[key].to_numpy(dtype=float, na_value=np.nan))]
            if rows.empty:
                continue
            fig = Figure(figsize=(5.5, 3.6), layout="constrained")
            ax = fig.subplots()
            sns.lineplot(
                data=rows, x="step", y=key, hue="method", hue_order=methods,
                errorbar="sd", marker="o", markersize=4, ax=ax,
            )
            hint = ARROW_TEXT.get(directions.get(key, ""))
            ax.set_title(f"{dataset}: {key}" + (f" ({hint})" if hint else ""))
            ax.set_xlabel("iteration")
            ax.grid(alpha=0.3)
            if ax.get_legend() is not None:
                ax.legend(title="method (mean ± sd over seeds)", fontsize="small", title_fontsize="small")
            written.append(_save(fig, out_dir / f"{_slug(dataset)}_{_slug(key)}.png"))
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


def plot_samples(
    df: pd.DataFrame,
    suite_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    centres: dict[str, Sequence[Sequence[float]]] | None = None,
) -> list[Path]:
    """``<dataset>_samples.png``: a method x seed grid of the final 2D samples.

    Only datasets whose trials left ``samples.npy`` are drawn (at most
    :data:`MAX_SEED_PANELS` seeds per method). ``centres`` maps a dataset to its mode
    centres, drawn as red circles in every panel.
    """
    trials_dir, out_dir = Path(suite_dir) / "trials", Path(out_dir)
    trials = df.drop_duplicates("trial_id")
    written = []
    for dataset, part in trials.groupby("dataset", sort=False):
        found: dict[tuple[str, object], tuple[np.ndarray, str]] = {}
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
        every = np.concatenate([p for p, _ in found.values()] + [centre])
        lo, hi = np.percentile(every, [0.5, 99.5], axis=0) if len(every) else (np.zeros(2) - 1, np.ones(2))
        pad = 0.1 * (hi - lo) + 1e-6
        fig = Figure(figsize=(2.6 * len(seeds), 2.6 * len(methods) + 0.4), layout="constrained")
        axes = np.atleast_2d(fig.subplots(len(methods), len(seeds), squeeze=False))
        for i, method in enumerate(methods):
            for j, seed in enumerate(seeds):
                ax = axes[i, j]
                ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
                ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
                ax.set_aspect("equal")
                ax.tick_params(labelsize=6)
                if (method, seed) not in found:
                    ax.set_title(f"{method} seed {seed}: no samples", fontsize=8)
                    continue
                points, status = found[(method, seed)]
                sns.scatterplot(x=points[:, 0], y=points[:, 1], s=4, alpha=0.4, linewidth=0, ax=ax)
                if len(centre):
                    ax.scatter(centre[:, 0], centre[:, 1], marker="o", s=70, facecolors="none", edgecolors="red", linewidths=1)
                flag = "" if status == FINISHED else f" [{status}]"
                ax.set_title(f"{method} seed {seed}{flag}", fontsize=8)
        fig.suptitle(f"{dataset}: final samples" + (" (red circles: mode centres)" if len(centre) else ""))
        written.append(_save(fig, out_dir / f"{_slug(dataset)}_samples.png"))
    return written


def make_plots(
    df: pd.DataFrame,
    suite_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    directions: dict[str, str],
    centres: dict[str, Sequence[Sequence[float]]] | None = None,
    keys: Sequence[str] | None = None,
) -> list[Path]:
    """All figures of a suite (curves, then sample scatters) into ``out_dir``."""
    return plot_curves(df, directions, out_dir, keys) + plot_samples(df, suite_dir, out_dir, centres)
