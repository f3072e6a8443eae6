"""The best configuration of every (method row, dataset, searcher), as YAML for a suite.

The best trial is the one with the best finite final ``objective`` (lowest for ``mode:
min``, highest for ``max``, closest to 0 for ``zero``, a direction the suite check refuses
as a tuning objective) among the trials that finished; when none of a group finished
(e.g. every trial was stopped early by ASHA) the best finite objective of any status is
used, and the comment says so. Ties go to the trial proposed first.

``best.yaml`` is a stream of YAML documents, one per dataset, each of the form::

    # dataset ring8: best of 8 trials per searcher, objective modes (max) against the val reference
    # gngan / tpe: modes = 7.0 (trial ab12cd34ef56, proposed 5th of 8)
    methods:
    - name: gngan
      label: gngan (tuned: tpe)
      params: {lr_g: 0.0002, lr_d: 0.0003}

so one document pasted under a suite's ``methods:`` key (or as the whole key) runs the tuned
configurations. ``params`` are the method hyperparameters after expanding coupled
coordinates (the record's ``config``), not the raw search coordinates; parameters that were
not searched are not repeated: keep them as in the suite's entry for that row. When
``sweep.json`` names a different best trial for a group than the records do, a comment
flags the mismatch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ganbench.metrics.base import goodness

FINISHED = "finished"


def _plain(value: Any) -> Any:
    """JSON/YAML-safe Python scalars (numpy numbers become int/float)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def best_records(records: pd.DataFrame, mode: str) -> pd.DataFrame:
    """One record per (row, dataset, searcher): its best trial, with ``finished_only`` and
    ``n_trials`` (trials of that group) added. Groups without any finite objective are left out."""
    if records.empty:
        return records.assign(finished_only=pd.Series(dtype=bool), n_trials=pd.Series(dtype=int))
    objective = pd.to_numeric(records["objective"], errors="coerce").astype(float)
    data = records.assign(_value=objective.where(np.isfinite(objective)))
    picks = []
    for _, group in data.groupby(["row", "dataset", "searcher"], sort=False):
        scored = group[group["_value"].notna()]
        finished = scored[scored["status"] == FINISHED]
        pool = finished if not finished.empty else scored
        if pool.empty:
            continue
        pool = pool.sort_values("order", kind="stable")
        index = pool["_value"].map(lambda v: goodness(v, mode)).idxmax()  # the first of equals
        pick = pool.loc[index].copy()
        pick["finished_only"] = not finished.empty
        pick["n_trials"] = len(group)
        picks.append(pick)
    if not picks:
        return data.iloc[:0].drop(columns="_value")
    return pd.DataFrame(picks).drop(columns="_value").reset_index(drop=True)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _number(value: float) -> str:
    return f"{value:.6g}" if math.isfinite(value) else str(value)


def render_best_yaml(best: pd.DataFrame, sweep: dict) -> str:
    """The text of ``best.yaml`` (see the module docstring) from :func:`best_records`."""
    objective = sweep.get("objective") or {}
    metric = objective.get("metric") or (best["metric"].iloc[0] if "metric" in best and len(best) else "objective")
    mode = objective.get("mode") or (best["mode"].iloc[0] if "mode" in best and len(best) else "?")
    reference = objective.get("reference") or (best["reference"].iloc[0] if "reference" in best and len(best) else "?")
    budget = sweep.get("budget")
    declared = sweep.get("best") or {}
    if best.empty:
        return "# no search trial has a finite objective yet: no best configuration\n"
    documents = []
    for dataset, part in best.groupby("dataset", sort=False):
        lines = [f"# dataset {dataset}: best of "
                 + (f"{budget} trials per searcher (budget)" if budget is not None else "the recorded trials")
                 + f", objective {metric} ({mode}) against the {reference} reference"]
        entries = []
        for rec in part.itertuples(index=False):
            order = int(rec.order) + 1 if pd.notna(rec.order) else None
            where = f", proposed {_ordinal(order)} of {rec.n_trials} recorded" if order else ""
            lines.append(f"# {rec.row} / {rec.searcher}: {metric} = {_number(float(rec.objective))} "
                         f"(trial {rec.trial_id}{where})")
            if rec.scheduler == "pbt":
                lines.append("#   PBT: the best member's final configuration; the schedule PBT followed "
                             "to reach it is not reproduced by fixed params")
            if not rec.finished_only:
                lines.append(f"#   no {rec.searcher} trial of {rec.row} finished: best of the early-stopped ones")
            named = ((declared.get(rec.row) or {}).get(dataset) or {}).get(rec.searcher) or {}
            if named.get("trial_id") and named["trial_id"] != rec.trial_id:
                lines.append(f"#   note: sweep.json names trial {named['trial_id']} "
                             f"({metric} = {named.get('objective')}) as the best; the tuned re-runs used that one")
            entries.append({
                "name": str(rec.method),
                "label": f"{rec.row} (tuned: {rec.searcher})",
                "params": _plain(dict(rec.config) if isinstance(rec.config, dict) else {}),
            })
        body = yaml.safe_dump({"methods": entries}, sort_keys=False, default_flow_style=None, allow_unicode=True)
        documents.append("\n".join(lines) + "\n" + body)
    return "---\n".join(documents)
