"""MLflow tracking: a parent run per suite run, a child run per trial.

The default store is SQLite (``sqlite:///<results>/mlflow.db``; MLflow 3 refuses a plain
file store). The driver creates the database and the experiment before any trial starts,
so trials running in parallel only add runs. Trials talk to the store through an explicit
``MlflowClient`` (no global active run), which works the same in-process, in a Ray worker,
or on a remote node pointed at a tracking server.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

TRIAL_TAG = "ganbench.trial_id"
SUITE_TAG = "ganbench.suite"
STATUS_TAG = "ganbench.status"
PARENT_TAG = "mlflow.parentRunId"


def default_tracking_uri(results_root: Path) -> str:
    return f"sqlite:///{Path(results_root).resolve() / 'mlflow.db'}"


def _retry(fn, *args, attempts: int = 8, **kwargs):
    """SQLite allows one writer at a time: retry briefly when the database is locked."""
    for i in range(attempts):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # mlflow wraps sqlite's OperationalError
            if "locked" not in str(exc).lower() or i == attempts - 1:
                raise
            time.sleep(0.2 * (i + 1))


def ensure_experiment(tracking_uri: str, name: str, artifact_root: Path | None = None) -> str:
    """Create the store (if needed) and the experiment; return its id. Driver only."""
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = Path(artifact_root).resolve().as_uri() if artifact_root else None
    return client.create_experiment(name, artifact_location=location)


def start_parent_run(tracking_uri: str, experiment_id: str, suite_name: str, params: dict[str, Any]) -> str:
    client = MlflowClient(tracking_uri)
    run = client.create_run(experiment_id, run_name=suite_name, tags={SUITE_TAG: suite_name})
    client.log_batch(run.info.run_id, params=[Param(k, _short(v)) for k, v in params.items()])
    return run.info.run_id


def end_run(tracking_uri: str, run_id: str, status: str = "FINISHED") -> None:
    MlflowClient(tracking_uri).set_terminated(run_id, status)


def _short(value: Any) -> str:
    return str(value)[:6000]


class TrialRun:
    """The child run of one trial. Re-attaches to an unfinished run of the same trial."""

    def __init__(self, tracking_uri: str, experiment_id: str, parent_run_id: str | None,
                 trial_id: str, run_name: str, params: dict[str, Any]):
        self.client = MlflowClient(tracking_uri)
        self.run_id = self._find_unfinished(experiment_id, parent_run_id, trial_id)
        if self.run_id is None:
            tags = {TRIAL_TAG: trial_id}
            if parent_run_id:
                tags[PARENT_TAG] = parent_run_id
            run = _retry(self.client.create_run, experiment_id, run_name=run_name, tags=tags)
            self.run_id = run.info.run_id
            _retry(self.client.log_batch, self.run_id,
                   params=[Param(k, _short(v)) for k, v in sorted(params.items())])

    def _find_unfinished(self, experiment_id, parent_run_id, trial_id) -> str | None:
        filt = f"tags.`{TRIAL_TAG}` = '{trial_id}' and attributes.status = 'RUNNING'"
        if parent_run_id:
            filt += f" and tags.`{PARENT_TAG}` = '{parent_run_id}'"
        runs = _retry(self.client.search_runs, [experiment_id], filter_string=filt, max_results=1)
        return runs[0].info.run_id if runs else None

    def log_metrics(self, step: int, values: dict[str, float]) -> None:
        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, step) for k, v in values.items() if v is not None]
        _retry(self.client.log_batch, self.run_id, metrics=metrics)

    def log_params(self, params: dict[str, Any]) -> None:
        _retry(self.client.log_batch, self.run_id, params=[Param(k, _short(v)) for k, v in params.items()])

    def log_artifact(self, path: Path) -> None:
        _retry(self.client.log_artifact, self.run_id, str(path))

    def finish(self, status: str) -> None:
        _retry(self.client.set_tag, self.run_id, STATUS_TAG, status)
        _retry(self.client.set_terminated, self.run_id, "FINISHED" if status in ("finished", "diverged") else "FAILED")


def protocol_params(protocol: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Flatten {metric: {key: value}} into MLflow params ``protocol.<metric>.<key>``.

    Lists and mappings (per-evaluation diagnostics such as class counts) are left out:
    params are written once, and those change at every evaluation (they stay in evals.jsonl).
    """
    return {f"protocol.{m}.{k}": v for m, p in protocol.items() for k, v in p.items()
            if not isinstance(v, (list, tuple, dict))}

