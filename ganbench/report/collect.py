"""Read a suite's results folder into one tidy pandas DataFrame.

The trainer writes, per trial, ``trials/<trial_id>/{spec.json, evals.jsonl, status.json}``.
:func:`collect` turns them into one row per trial x eval step::

    trial_id, method, dataset, seed, iterations, step, elapsed_s, status, error,
    <one column per value key>, protocol

``protocol`` is the JSON string of that eval's ``{metric: {n_gen, n_ref, split, extractor,
...}}``. A trial without any eval still gets one row (``step`` is NA) so that failed and
diverged trials never vanish from the report. A line of ``evals.jsonl`` that does not parse
(a half-written last line) is ignored; a missing or unreadable ``status.json`` reads as
status ``"unknown"``.

Records that do not match the trial's status are never reported silently: a trial whose
``status.json`` says finished at ``last_step`` but whose ``evals.jsonl`` ends before that step
(a lost last line), or holds one step more than once (two drivers, a bad copy), gets status
``"incomplete"`` and an ``error`` saying what is wrong, so the tables annotate its cell and list
it among the trials that did not finish (:func:`check_records`). A step given twice keeps its
last line. The next ``ganbench run`` of the suite re-evaluates a lost last step from the trial's
checkpoint (:func:`ganbench.runner.repair_records`); until then, or when that cannot be done, the
report flags it.
"""

from __future__ import annotations

from collections.abc import Sequence

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ganbench.paths import read_json_lines

#: The columns every results frame has, in order; every other column is a value key.
BASE_COLUMNS = (
    "trial_id",
    "method",
    "dataset",
    "seed",
    "iterations",
    "step",
    "elapsed_s",
    "status",
    "error",
    "protocol",
)

FINISHED = "finished"
#: a finished trial whose records do not reach its last step or repeat a step
INCOMPLETE = "incomplete"


def value_keys(df: pd.DataFrame) -> list[str]:
    """The value-key columns of a results frame, in column order."""
    return [c for c in df.columns if c not in BASE_COLUMNS]


def _read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _trial_rows(trial_dir: Path) -> list[dict[str, Any]]:
    spec = _read_json(trial_dir / "spec.json")
    if not isinstance(spec, dict):
        warnings.warn(f"skipping {trial_dir}: no readable spec.json", stacklevel=3)
        return []
    status = _read_json(trial_dir / "status.json")
    status = status if isinstance(status, dict) else {}
    base = {
        "trial_id": str(spec.get("trial_id") or trial_dir.name),
        "method": str(spec.get("label") or spec.get("method", "?")),
        "dataset": str(spec.get("dataset", "?")),
        "seed": spec.get("seed"),
        "iterations": spec.get("iterations"),
        "status": str(status.get("status") or "unknown"),
        "error": status.get("error"),
    }
    records = read_json_lines(trial_dir / "evals.jsonl")
    problem = check_records(records, status)
    if problem:
        base["status"], base["error"] = INCOMPLETE, problem
        warnings.warn(f"{trial_dir}: {problem}", stacklevel=3)
        by_step = {record.get("step"): record for record in records}  # a repeated step: its last line
        records = list(by_step.values())
    rows = []
    for record in records:
        values = record.get("values") or {}
        row = dict(base, step=record.get("step"), elapsed_s=_as_float(record.get("elapsed_s")))
        row["protocol"] = json.dumps(record.get("protocol") or {}, sort_keys=True)
        for key, value in values.items():
            if key in BASE_COLUMNS:
                warnings.warn(f"value key {key!r} clashes with a results column; ignored", stacklevel=3)
                continue
            row[key] = _as_float(value)
        rows.append(row)
    if not rows:
        rows.append(dict(base, step=None, elapsed_s=math.nan, protocol="{}"))
    return rows


def check_records(records: list[dict[str, Any]], status: dict[str, Any]) -> str | None:
    """What is wrong with a finished trial's evaluation records, or None."""
    steps = [r.get("step") for r in records]
    repeated = sorted({s for s in steps if isinstance(s, int) and steps.count(s) > 1})
    if repeated:
        return (f"evals.jsonl holds step {repeated[0]} {steps.count(repeated[0])} times"
                + (f" (and {len(repeated) - 1} more steps)" if len(repeated) > 1 else "") + "; the last line kept")
    last = status.get("last_step")
    if status.get("status") == FINISHED and isinstance(last, int) and last > 0:
        done = max((s for s in steps if isinstance(s, int)), default=None)
        if done is None or done < last:
            where = "has no evaluation" if done is None else f"ends at step {done}"
            return f"evals.jsonl {where} but the trial finished at step {last} (records lost)"
    return None


def collect(suite_dir: str | os.PathLike, trial_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per trial x eval step of the suite in ``suite_dir`` (see the module docstring).

    ``trial_ids`` keeps only those trials (a suite run's own grid: a folder may also hold
    the trials of another profile of the same suite, e.g. ``--quick`` and full).

    Rows are sorted by method, dataset, seed, trial_id and step, so the frame (and
    ``results.csv``) is the same whatever order the trial folders are listed in. Value
    columns appear in the order they are first met; non-finite values (inf) become NaN.
    """
    trials_dir = Path(suite_dir) / "trials"
    rows: list[dict[str, Any]] = []
    if trials_dir.is_dir():
        keep = set(trial_ids) if trial_ids is not None else None
        for trial_dir in sorted(p for p in trials_dir.iterdir() if p.is_dir()):
            if keep is not None and trial_dir.name not in keep:
                continue
            rows.extend(_trial_rows(trial_dir))
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in BASE_COLUMNS and k not in keys)
    columns = [c for c in BASE_COLUMNS if c != "protocol"] + keys + ["protocol"]
    df = pd.DataFrame(rows, columns=columns)
    df["seed"] = pd.to_numeric(df["seed"], errors="coerce").astype("Int64")
    df["iterations"] = pd.to_numeric(df["iterations"], errors="coerce").astype("Int64")
    df["step"] = pd.to_numeric(df["step"], errors="coerce").astype("Int64")
    df["elapsed_s"] = pd.to_numeric(df["elapsed_s"], errors="coerce").astype(float)
    for key in keys:
        df[key] = pd.to_numeric(df[key], errors="coerce").astype(float).replace([np.inf, -np.inf], np.nan)
    df = df.sort_values(["method", "dataset", "seed", "trial_id", "step"], na_position="first", kind="stable")
    return df.reset_index(drop=True)


def final_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The last eval row of every trial, carrying each value's last *finite* number.

    For a trial that diverged at its last eval (NaN values), each value column keeps the
    last finite value that trial reported ("last good numbers"); ``step`` stays the last
    eval step. Trials without evals keep their single row of NaNs.
    """
    if df.empty:
        return df.copy()
    keys = value_keys(df)
    ordered = df.sort_values(["trial_id", "step"], na_position="first", kind="stable").copy()
    if keys:
        ordered[keys] = ordered.groupby("trial_id", sort=False)[keys].ffill()
    last = ordered.groupby("trial_id", sort=False).tail(1)
    last = last.sort_values(["method", "dataset", "seed", "trial_id"], kind="stable")
    return last.reset_index(drop=True)


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``df`` to ``path`` as CSV atomically (temporary file + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        df.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a ``results.csv`` written by :func:`write_csv` back with the same dtypes."""
    df = pd.read_csv(path, keep_default_na=True)
    for col in ("seed", "iterations", "step"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    df["protocol"] = df["protocol"].fillna("{}")
    return df
