"""MLflow tracking: a parent run per suite run, a child run per trial.

Resuming never duplicates runs: a suite run that was killed left its parent run
``RUNNING`` (or ``FAILED``); the next ``ganbench run`` of the same grid reuses that parent
(:func:`start_parent_run`), and a trial that was interrupted or failed re-attaches to its
own child run, found by its ``ganbench.trial_id`` tag whatever its parent, and is
re-parented (:class:`TrialRun`). So each trial has exactly one child run.

The default store is SQLite (``sqlite:///<results>/mlflow.db``; MLflow 3 refuses a plain
file store). The driver creates the database and the experiment before any trial starts,
so trials running in parallel only add runs. Trials talk to the store through an explicit
``MlflowClient`` (no global active run), which works the same in-process, in a Ray worker,
or on a remote node pointed at a tracking server.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

TRIAL_TAG = "ganbench.trial_id"
SUITE_TAG = "ganbench.suite"
STATUS_TAG = "ganbench.status"
PARENT_TAG = "mlflow.parentRunId"
#: the identity of a suite run's grid (suite file, profile, trials...): a resumed run reuses the parent
RUN_KEY_TAG = "ganbench.run_key"


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
    """Create the store (if needed) and the experiment; return its id. Driver only.

    With a tracking server (``http(s)://``) the server decides where artifacts go (it
    proxies them, so remote nodes need no shared folder); ``artifact_root`` is ignored.
    """
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    remote = tracking_uri.startswith(("http://", "https://"))
    location = Path(artifact_root).resolve().as_uri() if artifact_root and not remote else None
    return client.create_experiment(name, artifact_location=location)


def run_key(params: dict[str, Any]) -> str:
    """A short hash of a suite run's defining parameters (its grid)."""
    canonical = json.dumps({k: str(v) for k, v in params.items()}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def start_parent_run(tracking_uri: str, experiment_id: str, suite_name: str, params: dict[str, Any]) -> str:
    """The suite run's parent run: the unfinished one of the same grid if a killed run left it."""
    client = MlflowClient(tracking_uri)
    key = run_key(params)
    previous = _retry(client.search_runs, [experiment_id],
                      filter_string=f"tags.`{SUITE_TAG}` = '{suite_name}' and tags.`{RUN_KEY_TAG}` = '{key}'",
                      order_by=["attributes.start_time DESC"], max_results=20)
    for run in previous:
        if run.info.status != "FINISHED" and PARENT_TAG not in run.data.tags:
            _retry(client.update_run, run.info.run_id, status="RUNNING")
            return run.info.run_id
    run = client.create_run(experiment_id, run_name=suite_name, tags={SUITE_TAG: suite_name, RUN_KEY_TAG: key})
    client.log_batch(run.info.run_id, params=[Param(k, _short(v)) for k, v in params.items()])
    return run.info.run_id


def end_run(tracking_uri: str, run_id: str, status: str = "FINISHED") -> None:
    MlflowClient(tracking_uri).set_terminated(run_id, status)


def _short(value: Any) -> str:
    return str(value)[:6000]


class TrialRun:
    """The child run of one trial.

    Re-attaches to the trial's unfinished (``RUNNING``, ``FAILED``, ``KILLED``) run, found by
    its trial tag whatever its parent (a killed driver's parent, or this one's), and
    re-parents it under ``parent_run_id``; a new run is created only when there is none.
    """

    def __init__(self, tracking_uri: str, experiment_id: str, parent_run_id: str | None,
                 trial_id: str, run_name: str, params: dict[str, Any]):
        self.client = MlflowClient(tracking_uri)
        self.run_id = self._find_unfinished(experiment_id, trial_id)
        if self.run_id is not None:
            _retry(self.client.update_run, self.run_id, status="RUNNING")
            if parent_run_id:
                _retry(self.client.set_tag, self.run_id, PARENT_TAG, parent_run_id)
            return
        tags = {TRIAL_TAG: trial_id}
        if parent_run_id:
            tags[PARENT_TAG] = parent_run_id
        run = _retry(self.client.create_run, experiment_id, run_name=run_name, tags=tags)
        self.run_id = run.info.run_id
        _retry(self.client.log_batch, self.run_id,
               params=[Param(k, _short(v)) for k, v in sorted(params.items())])

    def _find_unfinished(self, experiment_id: str, trial_id: str) -> str | None:
        runs = _retry(self.client.search_runs, [experiment_id], filter_string=f"tags.`{TRIAL_TAG}` = '{trial_id}'",
                      order_by=["attributes.start_time DESC"], max_results=50)
        unfinished = [r for r in runs if r.info.status != "FINISHED"]
        return unfinished[0].info.run_id if unfinished else None

    def log_metrics(self, step: int, values: dict[str, float]) -> None:
        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, step) for k, v in values.items() if v is not None]
        _retry(self.client.log_batch, self.run_id, metrics=metrics)

    def set_tags(self, tags: dict[str, Any]) -> None:
        if tags:
            _retry(self.client.log_batch, self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

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

