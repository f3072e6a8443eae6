"""Optuna's hyperparameter importances of the search objective, per (method row, dataset).

The search trials of every searcher are put into one in-memory Optuna study
(``optuna.trial.create_trial`` with the space's distributions, ``study.add_trial``), then
``optuna.importance.get_param_importances`` scores each search coordinate. The evaluator is
fANOVA (Hutter, Hoos and Leyton-Brown, "An Efficient Approach for Assessing Hyperparameter
Importance", ICML 2014: the share of the objective's variance, over a random-forest fit,
explained by each coordinate's marginal), Optuna's default, which needs scikit-learn. When
scikit-learn is not installed, PED-ANOVA (Watanabe, Bansal and Hutter, "PED-ANOVA: Efficiently
Quantifying Hyperparameter Importance in Arbitrary Subspaces", IJCAI 2023) is used instead;
the ``evaluator`` column names the one that ran.

Only trials with status ``finished`` and a finite objective enter the study (a trial
stopped early or failed says nothing about the final objective). Coordinate values outside
the declared range (PBT may perturb past it) widen the distribution rather than being
dropped. With fewer than two such trials, a constant objective, or no coordinate that
varies, the output has one row for that row x dataset with ``importance`` empty and a
``note`` saying why; it never raises.
"""

from __future__ import annotations

import importlib.util
import math
import warnings

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

FINISHED = "finished"
IMPORTANCE_COLUMNS = ("row", "dataset", "parameter", "importance", "evaluator", "n_trials", "note")


def _local_distributions(space: dict) -> dict[str, BaseDistribution]:
    """Optuna distributions of a space dict (the interface's YAML form)."""
    out: dict[str, BaseDistribution] = {}
    for name, spec in (space or {}).items():
        if name == "coupled" or not isinstance(spec, dict):
            continue
        if "loguniform" in spec:
            lo, hi = spec["loguniform"]
            out[name] = FloatDistribution(float(lo), float(hi), log=True)
        elif "uniform" in spec:
            lo, hi = spec["uniform"]
            out[name] = FloatDistribution(float(lo), float(hi))
        elif "int" in spec:
            lo, hi = spec["int"]
            out[name] = IntDistribution(int(lo), int(hi))
        elif "choice" in spec:
            out[name] = CategoricalDistribution(list(spec["choice"]))
    return out


def space_distributions(space: dict) -> dict[str, BaseDistribution]:
    """The sweep engine's ``optuna_distributions`` when it exists, else a local converter."""
    coordinates = {k: v for k, v in (space or {}).items() if k != "coupled" and isinstance(v, dict)}
    try:
        from ganbench.tune.space import optuna_distributions
    except ImportError:
        return _local_distributions(coordinates)
    return optuna_distributions(coordinates)


def _widened(dist: BaseDistribution, values: list) -> BaseDistribution:
    """``dist`` stretched to contain every observed value of a numeric coordinate."""
    if isinstance(dist, (FloatDistribution, IntDistribution)):
        finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
        if not finite:
            return dist
        low, high = min([dist.low] + finite), max([dist.high] + finite)
        if isinstance(dist, IntDistribution):
            return IntDistribution(int(math.floor(low)), int(math.ceil(high)), log=dist.log, step=dist.step)
        return FloatDistribution(float(low), float(high), log=dist.log and low > 0)
    if isinstance(dist, CategoricalDistribution):
        extra = [v for v in values if v not in dist.choices]
        return CategoricalDistribution(list(dist.choices) + list(dict.fromkeys(extra))) if extra else dist
    return dist


def pick_evaluator() -> tuple[optuna.importance.BaseImportanceEvaluator, str]:
    """fANOVA when scikit-learn is importable, else PED-ANOVA; with a name for the output."""
    if importlib.util.find_spec("sklearn") is None:  # fANOVA fits scikit-learn's random forest
        return optuna.importance.PedAnovaImportanceEvaluator(), "ped-anova (scikit-learn not installed)"
    return optuna.importance.FanovaImportanceEvaluator(seed=0), "fanova"


def _study(part: pd.DataFrame, dists: dict[str, BaseDistribution], mode: str) -> optuna.Study:
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "new study created" line per group
    try:
        study = optuna.create_study(direction="minimize" if mode == "min" else "maximize")
    finally:
        optuna.logging.set_verbosity(verbosity)
    for rec in part.itertuples(index=False):
        params = {k: v for k, v in rec.coords.items() if k in dists}
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions={k: dists[k] for k in params}, value=float(rec.objective)))
    return study


def _note_row(row: str, dataset: str, evaluator: str, n: int, note: str) -> dict:
    return {"row": row, "dataset": dataset, "parameter": "", "importance": math.nan,
            "evaluator": evaluator, "n_trials": n, "note": note}


def param_importances(records: pd.DataFrame, spaces: dict[str, dict], mode: str) -> pd.DataFrame:
    """The rows of ``importances.csv``: per row x dataset, each coordinate's importance
    (normalised to sum to 1), most important first; or one row with a note."""
    evaluator, name = pick_evaluator()
    rows: list[dict] = []
    if records.empty:
        return pd.DataFrame(columns=IMPORTANCE_COLUMNS)
    for (row, dataset), part in records.groupby(["row", "dataset"], sort=False):
        objective = pd.to_numeric(part["objective"], errors="coerce").astype(float)
        part = part[(part["status"] == FINISHED) & np.isfinite(objective)]
        part = part[[isinstance(c, dict) for c in part["coords"]]]
        n = len(part)
        if n < 2:
            rows.append(_note_row(row, dataset, name, n, f"too few finished trials ({n} < 2)"))
            continue
        if pd.to_numeric(part["objective"]).nunique() < 2:
            rows.append(_note_row(row, dataset, name, n, "constant objective: nothing to attribute"))
            continue
        dists = space_distributions(spaces.get(row) or {})
        dists = {k: _widened(d, [c.get(k) for c in part["coords"]]) for k, d in dists.items()
                 if all(k in c for c in part["coords"])}
        varying = [k for k in dists if len({repr(c[k]) for c in part["coords"]}) > 1]
        if not varying:
            rows.append(_note_row(row, dataset, name, n, "no search coordinate varies across the trials"))
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                scores = optuna.importance.get_param_importances(
                    _study(part, dists, mode), evaluator=evaluator, params=varying)
        except (ValueError, RuntimeError) as err:  # e.g. a degenerate fit; say so, do not crash
            rows.append(_note_row(row, dataset, name, n, f"importance failed: {err}"))
            continue
        for parameter, score in scores.items():
            rows.append({"row": row, "dataset": dataset, "parameter": parameter, "importance": float(score),
                         "evaluator": name, "n_trials": n, "note": ""})
    return pd.DataFrame(rows, columns=IMPORTANCE_COLUMNS)


def render_importances_markdown(table: pd.DataFrame) -> str:
    """``importances.md``: one small table per row x dataset, with the evaluator and trial count."""
    if table.empty:
        return "No search trials: no parameter importances.\n"
    lines = ["# Hyperparameter importances", "",
             "Share of the objective's variation attributed to each search coordinate "
             "(normalised to sum to 1) over the finished search trials of all searchers.", ""]
    for (row, dataset), part in table.groupby(["row", "dataset"], sort=False):
        head = part.iloc[0]
        lines.append(f"## {row} on {dataset} ({head['evaluator']}, {int(head['n_trials'])} finished trials)")
        lines.append("")
        if part["parameter"].eq("").all():
            lines += [f"Not computed: {head['note']}.", ""]
            continue
        lines += ["| parameter | importance |", "| --- | ---: |"]
        lines += [f"| {r.parameter} | {r.importance:.3f} |" for r in part.itertuples(index=False)]
        lines.append("")
    return "\n".join(lines)
