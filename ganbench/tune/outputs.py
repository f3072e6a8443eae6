"""Everything a hyperparameter sweep reports, rebuilt from its files alone.

:func:`write_tune_outputs` reads ``<suite_dir>/tune/trials.jsonl`` (one JSON line per search
trial), ``<suite_dir>/tune/sweep.json`` (objective, budget, spaces, coupled groups, the
declared best) and, when present, ``<suite_dir>/results.csv`` (the default and tuned
re-runs; the suite's ``eval.reference`` comes from the runner's ``suite.json`` when the
metrics' protocol names no split), and writes under ``<suite_dir>/tune/``:

- ``best.yaml``: the best configuration per row x dataset x searcher (:mod:`.best_config`);
- ``tuned_vs_default.md`` / ``.tex``: the re-runs over seeds (:mod:`.tuned_table`), only
  when ``results.csv`` exists;
- ``budget.csv`` and ``plots/budget_<dataset>.png``: expected best against budget
  (Dodge et al. 2019, :mod:`.budget`);
- ``plots/heatmap_<row>_<dataset>.png``: pairwise interaction heatmaps (:mod:`.heatmaps`);
- ``importances.csv`` / ``importances.md``: Optuna's parameter importances (:mod:`.importance`).

Missing pieces are skipped, not fatal: without ``sweep.json`` the objective comes from the
records and no spaces are known (heatmaps and importances then have nothing to draw on);
a line of ``trials.jsonl`` that does not parse (a half-written last line) is ignored, and a
trial written twice (same row, dataset, searcher and order) keeps its last line.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from ganbench.paths import read_json_lines
from ganbench.report.build import _write_text
from ganbench.report.collect import final_rows, read_csv, write_csv
from ganbench.tune.best_config import best_records, render_best_yaml
from ganbench.tune.budget import budget_table, plot_budget
from ganbench.tune.heatmaps import plot_heatmaps
from ganbench.tune.importance import param_importances, render_importances_markdown
from ganbench.tune import tuned_table

RECORD_COLUMNS = ("method", "row", "dataset", "searcher", "scheduler", "order", "trial_id", "coords", "config",
                  "objective", "best_objective", "metric", "mode", "reference", "iterations", "status", "elapsed_s")


def _record_key(record: dict, number: int) -> tuple:
    """What makes a line one trial: (row, dataset, searcher, order) when the order is known
    (a searcher may propose the same coordinates twice: same trial_id, two proposals), else
    the trial id, else the line itself."""
    group = (record.get("row") or record.get("method"), record.get("dataset"), record.get("searcher"))
    order = record.get("order")
    if isinstance(order, int) and not isinstance(order, bool) and order >= 0:
        return group + ("order", order)
    if record.get("trial_id"):
        return group + ("trial", record["trial_id"])
    return ("line", number)


def read_records(path: str | os.PathLike) -> pd.DataFrame:
    """``trials.jsonl`` as a DataFrame with :data:`RECORD_COLUMNS` (one row per trial)."""
    records: dict[Any, dict] = {}
    for number, record in enumerate(read_json_lines(path)):
        records[_record_key(record, number)] = record
    df = pd.DataFrame(list(records.values()), columns=list(RECORD_COLUMNS))
    df["row"] = df["row"].fillna(df["method"])
    for column in ("coords", "config"):
        df[column] = [c if isinstance(c, dict) else {} for c in df[column]]
    df["order"] = pd.to_numeric(df["order"], errors="coerce")
    df.loc[df["order"] < 0, "order"] = float("nan")  # unknown proposal order: file order is kept
    for column in ("objective", "best_objective", "elapsed_s"):
        df[column] = pd.to_numeric(df[column], errors="coerce").astype(float)
    df["status"] = df["status"].fillna("unknown")
    return df


def read_sweep(path: str | os.PathLike) -> dict:
    """A JSON object file (``sweep.json``, ``suite.json``) as a dict; ``{}`` when missing or unreadable."""
    try:
        sweep = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return sweep if isinstance(sweep, dict) else {}


def _objective(sweep: dict, records: pd.DataFrame) -> tuple[str, str]:
    objective = sweep.get("objective") or {}
    metric = objective.get("metric") or next(iter(records["metric"].dropna()), "objective")
    mode = objective.get("mode") or next(iter(records["mode"].dropna()), "min")
    if mode not in ("min", "max"):
        warnings.warn(f"sweep objective mode {mode!r} is neither min nor max; using min", stacklevel=3)
        mode = "min"
    return str(metric), str(mode)


def _directions(metric: str, mode: str) -> dict[str, str]:
    try:
        from ganbench.metrics.evaluate import value_directions

        directions = dict(value_directions())
    except ImportError:
        directions = {}
    directions[metric] = mode
    return directions


def _eval_reference(suite_dir: Path) -> str | None:
    """The suite's ``eval.reference`` from the runner's ``suite.json`` (None when unknown)."""
    meta = read_sweep(suite_dir / "suite.json")
    reference = ((meta.get("suite") or {}).get("eval") or {}).get("reference")
    return str(reference) if reference else None


def write_tune_outputs(suite_dir: str | os.PathLike) -> dict[str, Path]:
    """Write the sweep outputs of ``suite_dir`` (see the module docstring).

    Returns ``{path relative to suite_dir: path}`` of every file written.
    """
    suite_dir = Path(suite_dir)
    tune_dir = suite_dir / "tune"
    records = read_records(tune_dir / "trials.jsonl")
    sweep = read_sweep(tune_dir / "sweep.json")
    metric, mode = _objective(sweep, records)
    spaces = sweep.get("spaces") or {}
    coupled = sweep.get("coupled") or {}
    paths: list[Path] = []
    tune_dir.mkdir(parents=True, exist_ok=True)

    if not records.empty:
        paths.append(_write_text(tune_dir / "best.yaml", render_best_yaml(best_records(records, mode), sweep)))
        budget = budget_table(records, mode)
        paths.append(write_csv(budget, tune_dir / "budget.csv"))
        paths += plot_budget(budget, tune_dir / "plots", metric, mode)
        scored = records.assign(value=records["objective"])
        paths += plot_heatmaps(scored, spaces, coupled, metric, mode, tune_dir / "plots")
        importances = param_importances(records, spaces, mode)
        paths.append(write_csv(importances, tune_dir / "importances.csv"))
        paths.append(_write_text(tune_dir / "importances.md", render_importances_markdown(importances)))

    results = suite_dir / "results.csv"
    if results.is_file():
        final = final_rows(read_csv(results))
        rows = list(spaces) or list(dict.fromkeys(records["row"].dropna()))
        searchers = list(sweep.get("searchers") or dict.fromkeys(records["searcher"].dropna()))
        directions = _directions(metric, mode)
        reference = _eval_reference(suite_dir)
        paths.append(_write_text(tune_dir / "tuned_vs_default.md",
                                 tuned_table.render_markdown(final, rows, searchers, sweep, directions, reference)))
        paths.append(_write_text(tune_dir / "tuned_vs_default.tex",
                                 tuned_table.render_latex(final, rows, searchers, sweep, directions, reference)))
    return {p.relative_to(suite_dir).as_posix(): p for p in paths}
