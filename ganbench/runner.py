"""The driver of ``ganbench run``: suite -> specs -> prepared assets -> dispatch -> report.

Keeps design.md's data path straight: load+validate, expand, dispatch ``train_trial`` per
spec, collect ``results/<suite>/`` into tables and plots, with one MLflow parent run per
suite run and a child run per trial.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.data.base import get_dataset, load_dataset
from ganbench.dispatch import (ProgressFn, cluster_resources_for, ensure_ray, resolve_resources, run_local,
                               run_ray)
from ganbench.errors import AssetUnavailable, GanbenchError
from ganbench.metrics.base import EvalContext
from ganbench.paths import atomic_write_text
from ganbench.registry import METRICS
from ganbench.spec import TrialSpec
from ganbench.suite import Suite, load_suite
from ganbench.tracking import default_tracking_uri, end_run, ensure_experiment, start_parent_run
from ganbench.trial import TrialContext, read_status, trial_dir


@dataclass
class RunOutcome:
    suite: Suite
    suite_dir: Path
    specs: list[TrialSpec]
    statuses: dict[str, dict[str, Any]]
    report: dict[str, Path]
    tracking_uri: str
    parent_run_id: str


def _driver_device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def prepare_assets(suite: Suite, progress: ProgressFn | None = None) -> None:
    """Data sets and metric assets (classifier, Inception, reference stats), once, here."""
    for dataset in suite.datasets:
        if progress:
            progress("prepare", {"what": f"dataset {dataset}"})
        get_dataset(dataset).prepare()
        info = get_dataset(dataset).info
        ctx = EvalContext(info, suite.eval.reference, suite.eval.num_samples, device=_driver_device(),
                          resize=suite.eval.resize, num_reference=suite.eval.num_reference)
        for name in suite.eval.metrics:
            if progress:
                progress("prepare", {"what": f"metric {name} on {dataset}"})
            METRICS.get(name)().prepare(ctx)
        load_dataset(dataset, "train")


def _check_results_folder(suite_dir: Path, suite: Suite, source: str) -> None:
    inner = suite_dir.parent / "suite.json"
    if inner.exists():  # --results names one suite's folder instead of the folder of all results
        raise GanbenchError(f"--results {suite_dir.parent}: is itself the results folder of a suite "
                            f"({inner} exists); pass its parent folder instead")
    marker = suite_dir / "suite.json"
    if marker.exists():
        try:
            previous = json.loads(marker.read_text()).get("name")
        except json.JSONDecodeError:
            previous = None
        if previous and previous != suite.name:
            raise GanbenchError(f"{suite_dir}: holds results of suite {previous!r}, not {suite.name!r} "
                                f"({source}); use another --results folder")


def run_suite(path: str | Path, quick: bool = False, local: bool = False, address: str | None = None,
              results_root: str | Path = "results", tracking_uri: str | None = None,
              progress: ProgressFn | None = None) -> RunOutcome:
    source = str(path)
    suite = load_suite(path, quick=quick)
    specs = suite.expand()
    results_root = Path(results_root).resolve()
    suite_dir = results_root / suite.name
    _check_results_folder(suite_dir, suite, source)
    # resources are checked against the cluster before anything is prepared or trained
    ray_started = ensure_ray(address) if not local else False
    try:
        if not local:
            per_trial = cluster_resources_for(suite.resources, source)
        else:
            resolve_resources(suite.resources, _this_machine(), source)
        sweep = None
        if suite.tune is not None:
            if local:
                raise GanbenchError(f"{source}: tune: a sweep runs through Ray Tune; drop --local")
            sweep = _search(suite, source, suite_dir, results_root, tracking_uri, per_trial, progress)
            specs = sweep.specs
        outcome = _run_prepared(suite, specs, source, suite_dir, quick, local, address, results_root,
                                tracking_uri, progress, sweep)
        if sweep is not None:
            from ganbench.tune.outputs import write_tune_outputs

            from ganbench.tune.sweep import log_sweep_artifacts

            outcome.report.update(write_tune_outputs(suite_dir))
            log_sweep_artifacts(suite_dir)
        return outcome
    finally:
        _shutdown_ray(ray_started)


def _search(suite, source, suite_dir, results_root, tracking_uri, per_trial, progress):
    """The hyperparameter search of a suite's ``tune`` block (ganbench/tune/sweep.py)."""
    from ganbench.tune.sweep import run_sweep

    suite_dir.mkdir(parents=True, exist_ok=True)
    uri = tracking_uri or default_tracking_uri(results_root)
    experiment_id = ensure_experiment(uri, suite.name, results_root / "mlartifacts")
    return run_sweep(suite, source, suite_dir, uri, experiment_id, per_trial, progress)


def _this_machine() -> dict[str, float]:
    """What ``--local`` trials can use: this machine's CPUs and GPUs."""
    import torch

    return {"CPU": float(os.cpu_count() or 1), "GPU": float(torch.cuda.device_count())}


def _shutdown_ray(started: bool) -> None:
    if started:
        import ray

        ray.shutdown()


def _run_prepared(suite, specs, source, suite_dir, quick, local, address, results_root, tracking_uri,
                  progress, sweep=None) -> RunOutcome:
    from ganbench.metrics.evaluate import value_directions
    from ganbench.report.build import build_report

    suite_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(suite_dir / "suite.json", json.dumps(
        {"name": suite.name, "source": source, "quick": quick, "suite": suite.model_dump(),
         "trials": [s.trial_id for s in specs]}, indent=2))
    try:
        prepare_assets(suite, progress)
    except AssetUnavailable as err:  # name the suite file and the key that asked for it
        raise AssetUnavailable(f"{source}: {err}") from None

    uri = tracking_uri or default_tracking_uri(results_root)
    experiment_id = ensure_experiment(uri, suite.name, results_root / "mlartifacts")
    parent = start_parent_run(uri, experiment_id, suite.name, {
        "suite_file": source, "quick": quick, "trials": len(specs),
        "datasets": ",".join(suite.datasets), "methods": ",".join(m.name for m in suite.methods),
        "seeds": ",".join(map(str, suite.seeds)), "iterations": suite.train.iterations,
        "metrics": ",".join(suite.eval.metrics), "num_samples": suite.eval.num_samples,
        "reference": suite.eval.reference})
    ctx = TrialContext(suite.name, str(suite_dir), uri, experiment_id, parent,
                       threads=max(1, int(suite.resources.cpus_per_trial)),
                       max_failures=suite.resources.max_failures)
    status = "FAILED"
    try:
        if local:
            run_local(specs, ctx, progress)
        else:
            run_ray(specs, ctx, suite.resources, source, address, progress)
        statuses = {s.trial_id: read_status(trial_dir(ctx, s)) or {"status": "unknown"} for s in specs}
        centres = {d: get_dataset(d).info.extras.get("centres") for d in suite.datasets}
        report = build_report(suite_dir, value_directions(),
                              centres={d: c for d, c in centres.items() if c},
                              methods=sweep.rows if sweep else [m.row for m in suite.methods],
                              trial_ids=[s.trial_id for s in specs], note=sweep.note if sweep else None,
                              time_to=[t.model_dump(exclude_none=True) for t in suite.eval.time_to])
        from mlflow.tracking import MlflowClient

        client = MlflowClient(uri)
        for key in ("tables.md", "tables.tex", "results.csv", "time_to.csv"):
            if (suite_dir / key).exists():
                client.log_artifact(parent, str(suite_dir / key))
        if (suite_dir / "plots").is_dir():
            client.log_artifacts(parent, str(suite_dir / "plots"), "plots")
        status = "FINISHED"
    finally:
        end_run(uri, parent, status)
    return RunOutcome(suite, suite_dir, specs, statuses, report, uri, parent)
