"""The sweep driver: search per (row, dataset, searcher) cell, then re-run the best with every seed.

``run_sweep`` is called by :func:`ganbench.runner.run_suite` when a suite has a ``tune``
block (:mod:`ganbench.tune.settings`). It follows Lucic et al. 2018 ("Are GANs Created
Equal?", §4): the search trains with one seed (``tune.seed``, default the suite's first) and
measures the objective on ``tune.objective.reference``; afterwards the best configuration of
every (row, dataset, searcher) and the untouched defaults are re-run with *every* seed of the
suite as ordinary trials, labelled ``"<row> (default)"`` and ``"<row> (tuned: <searcher>)"``,
and the usual report (evaluated on ``eval.reference``) covers them.

Ganbench loops over the cells itself (Optuna refuses ``grid_search``, and a PBT population
must not mix methods, datasets or seeds): one :class:`ray.tune.Tuner` per cell with the cell's
searcher (:mod:`ganbench.tune.searchers`), scheduler (:mod:`ganbench.tune.schedulers`),
``num_samples = budget`` and the objective as metric and mode.

Layout under ``results/<suite>/tune/``::

    trials/<trial_id>/          one search trial (spec.json, evals.jsonl, status.json, ...)
    ray/<cell>/                 Tune's experiment folder of a cell (what Tuner.restore reads)
    cells/<cell>.json           a finished cell: its trial records and its best (done marker)
    trials.jsonl                one line per search trial (records.md §2)
    sweep.json                  spaces, defaults and the best per cell (records.md §3)
    state.json                  the id of the sweep's MLflow parent run

Resume: a cell with a done marker is skipped; an unfinished cell is restored with
``Tuner.restore(resume_unfinished=True, resume_errored=True)`` when Tune saved its state, or
started again otherwise (the seeded searchers then propose the same candidates, whose
finished folders are replayed, not retrained). MLflow: one parent run per sweep, reused on
resume; one child run per search trial, re-attached when its trial resumes.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.paths import atomic_write_text
from ganbench.spec import TrialSpec
from ganbench.suite import MethodEntry, Suite
from ganbench.tune.settings import objective_key, objective_metric, objective_mode


@dataclass(frozen=True)
class Cell:
    entry: MethodEntry
    dataset: str
    searcher: str
    scheduler: str

    @property
    def row(self) -> str:
        return self.entry.row

    @property
    def name(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{self.row}-{self.dataset}-{self.searcher}")


@dataclass
class SweepResult:
    """What the runner needs after the search: the re-run grid, its row order, the caption note."""

    specs: list[TrialSpec]
    rows: list[str]
    note: str
    tune_dir: Path


def cells_of(suite: Suite) -> list[Cell]:
    tune = suite.tune
    out = []
    for dataset in suite.datasets:
        for entry in suite.methods:
            if entry.row not in tune.space:
                continue
            for s in tune.searchers:
                out.append(Cell(entry, dataset, s.name, tune.scheduler_of(s)))
    return out


def search_seed(suite: Suite) -> int:
    return suite.tune.seed if suite.tune.seed is not None else suite.seeds[0]


def defaults_of(suite: Suite, entry: MethodEntry, dataset: str) -> dict[str, Any]:
    from ganbench.data.base import get_dataset
    from ganbench.registry import METHODS

    return METHODS.get(entry.name).resolve_params(suite.method_overrides(entry), get_dataset(dataset).info)


def cell_dict(suite: Suite, cell: Cell, ctx: dict[str, Any]) -> dict[str, Any]:
    """The plain, picklable description of a cell that its trials receive."""
    tune = suite.tune
    return {
        "row": cell.row, "method": cell.entry.name, "dataset": cell.dataset, "searcher": cell.searcher,
        "scheduler": cell.scheduler, "space": tune.space[cell.row], "coupled": tune.coupled.get(cell.row),
        "overrides": suite.method_overrides(cell.entry), "seed": search_seed(suite),
        "iterations": suite.train.iterations, "batch_size": suite.train.batch_size,
        "eval_every": suite.train.eval_every, "metric_name": objective_metric(tune.objective.metric)[0],
        "num_samples": suite.eval.num_samples, "reference": tune.objective.reference, "ctx": ctx,
    }


# ---------------------------------------------------------------------------------------
# MLflow parent run of the sweep (one per sweep, reused on resume)

def _parent_run(suite: Suite, tune_dir: Path, uri: str, experiment_id: str, source: str) -> str:
    from mlflow.tracking import MlflowClient

    from ganbench.tracking import start_parent_run

    state_path = tune_dir / "state.json"
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError):
        state = {}
    client = MlflowClient(uri)
    run_id = state.get("parent_run_id")
    if run_id and state.get("tracking_uri") == uri:
        try:
            client.get_run(run_id)
            client.update_run(run_id, status="RUNNING")
            return run_id
        except Exception:  # the store was replaced: start a new parent
            pass
    tune = suite.tune
    run_id = start_parent_run(uri, experiment_id, f"{suite.name} sweep", {
        "suite_file": source, "kind": "sweep", "budget": tune.budget,
        "searchers": ",".join(s.name for s in tune.searchers),
        "schedulers": ",".join(tune.scheduler_of(s) for s in tune.searchers),
        "objective": f"{tune.objective.metric} ({objective_mode(tune)}) on {tune.objective.reference}",
        "search_seed": search_seed(suite), "rows": ",".join(tune.space)})
    client.set_tag(run_id, "ganbench.kind", "sweep")
    atomic_write_text(state_path, json.dumps({"parent_run_id": run_id, "tracking_uri": uri}))
    return run_id


# ---------------------------------------------------------------------------------------
# One cell through Ray Tune

def _progress_callback(progress, cell: Cell):
    from ray.tune import Callback

    prefix = f"{cell.row}/{cell.dataset}/{cell.searcher}"

    class SweepProgress(Callback):
        def __init__(self, fn):
            self.fn = fn

        def __getstate__(self):  # Tune pickles callbacks with the experiment; a live display is not
            return {"fn": None}

        def _emit(self, event, trial, **info):
            if self.fn is not None:
                self.fn(event, {"label": f"{prefix} {trial.trial_id}", **info})

        def on_trial_start(self, iteration, trials, trial, **info):
            self._emit("start", trial)

        def on_trial_result(self, iteration, trials, trial, result, **info):
            self._emit("result", trial, **{k: v for k, v in result.items() if isinstance(v, (int, float))})

        def on_trial_complete(self, iteration, trials, trial, **info):
            self._emit("done", trial, status="finished")

        def on_trial_error(self, iteration, trials, trial, **info):
            self._emit("done", trial, status="failed")

    return SweepProgress(progress)


def _run_cell(suite: Suite, cell: Cell, ctx: dict[str, Any], per_trial: dict[str, float], tune_dir: Path,
              progress) -> Any:
    from ray import tune

    from ganbench.tune.schedulers import make_scheduler
    from ganbench.tune.searchers import make_searcher
    from ganbench.tune.space import default_coords, ray_domains
    from ganbench.tune.trainables import pbt_trial, search_trial

    settings = suite.tune
    info = cell_dict(suite, cell, ctx)
    fn = pbt_trial if cell.scheduler == "pbt" else search_trial
    trainable = tune.with_resources(tune.with_parameters(fn, cell=info), per_trial)
    storage = tune_dir / "ray"
    path = storage / cell.name
    if path.exists() and tune.Tuner.can_restore(str(path)):
        tuner = tune.Tuner.restore(str(path), trainable=trainable, resume_unfinished=True,
                                   resume_errored=True)
        return tuner.fit()
    shutil.rmtree(path, ignore_errors=True)  # a cell killed before Tune saved any state
    key = objective_key(settings.objective.metric)
    mode = objective_mode(settings)
    space = settings.space[cell.row]
    coupled = settings.coupled.get(cell.row)
    seed = search_seed(suite)
    start = default_coords(space, coupled, defaults_of(suite, cell.entry, cell.dataset))
    searcher = make_searcher("random" if cell.searcher == "pbt" else cell.searcher, space, start,
                             settings.budget, key, mode, seed)
    scheduler = make_scheduler(cell.scheduler, settings, suite.train.iterations,
                               suite.train.eval_every, space, coupled, seed)
    param_space = ray_domains(space) if cell.searcher in ("random", "pbt") else {}
    tuner = tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric=key, mode=mode, num_samples=settings.budget, search_alg=searcher, scheduler=scheduler,
            reuse_actors=True,  # a worker keeps torch and the data loaded (PBT: reset_config)
            trial_name_creator=lambda t: t.trial_id, trial_dirname_creator=lambda t: t.trial_id),
        run_config=tune.RunConfig(
            name=cell.name, storage_path=str(storage), verbose=0,
            failure_config=tune.FailureConfig(max_failures=suite.resources.max_failures),
            checkpoint_config=tune.CheckpointConfig(),  # num_to_keep forces a state snapshot per checkpoint
            callbacks=[_progress_callback(progress, cell)] if progress else []),
    )
    return tuner.fit()


# ---------------------------------------------------------------------------------------
# Trial records (records.md §2)

def _records(suite: Suite, cell: Cell, grid, ctx: dict[str, Any], tune_dir: Path) -> list[dict[str, Any]]:
    """One record per Tune trial, read from the trial's own folder (evals.jsonl, status.json).

    The folder, not Tune's result frame, is the source of truth: a PBT member restarts from
    other members' checkpoints (its frame mixes them), and a trial ASHA stopped never wrote
    its status. Tune's result contributes the trial's order, its error and its coordinates.
    """
    from ganbench.trial import read_status
    from ganbench.tune.space import expand
    from ganbench.tune.trainables import cell_spec

    settings = suite.tune
    key = objective_key(settings.objective.metric)
    mode = objective_mode(settings)
    info = cell_dict(suite, cell, ctx)
    space = settings.space[cell.row]
    coupled = settings.coupled.get(cell.row)
    records = []
    for order, result in enumerate(grid):  # Tune keeps its trials in the order they were created
        ray_id = Path(result.path).name if result.path else str((result.metrics or {}).get("trial_id"))
        coords = {k: _plain(result.config[k]) for k in space if k in result.config}
        if cell.scheduler == "pbt":
            trial_id = ray_id
        else:
            trial_id = cell_spec(info, expand(coords, coupled)).trial_id
        folder = tune_dir / "trials" / trial_id
        lines = _read_jsonl(folder / "evals.jsonl")
        if cell.scheduler == "pbt" and lines and lines[-1].get("coords"):
            coords = lines[-1]["coords"]  # the config PBT left it with
        values = [line["values"][key] for line in lines if _finite((line.get("values") or {}).get(key))]
        last_step = int(lines[-1]["step"]) if lines else 0
        on_disk = (read_status(folder) or {}).get("status")
        if on_disk in ("finished", "diverged", "failed"):
            status = on_disk
        elif result.error is not None:
            status = "failed"
        else:
            status = "finished" if last_step >= suite.train.iterations else "stopped"
        best = (min(values) if mode == "min" else max(values)) if values else None
        records.append({
            "method": cell.entry.name, "row": cell.row, "dataset": cell.dataset, "searcher": cell.searcher,
            "scheduler": cell.scheduler, "order": order, "trial_id": trial_id,
            "coords": coords, "config": expand(coords, coupled),
            "objective": values[-1] if values and status in ("finished", "stopped") else None,
            "best_objective": best, "metric": key, "mode": mode, "reference": settings.objective.reference,
            "iterations": last_step, "status": status,
            "elapsed_s": round(float(lines[-1].get("elapsed_s", 0.0)), 3) if lines else None,
        })
        if status == "stopped" and on_disk != "stopped" and cell.scheduler != "pbt":
            _close_stopped(folder, trial_id, ctx, last_step)
    return records


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The evaluation lines of a trial folder's evals.jsonl (a half-written line is skipped)."""
    from ganbench.paths import read_json_lines

    return [line for line in read_json_lines(path) if "step" in line]


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _close_stopped(folder: Path, trial_id: str, ctx: dict[str, Any], last_step: int) -> None:
    """A trial the scheduler stopped: status ``stopped`` on disk, its MLflow run KILLED."""
    from mlflow.tracking import MlflowClient

    from ganbench.tracking import PARENT_TAG, STATUS_TAG, TRIAL_TAG

    if folder.is_dir():
        atomic_write_text(folder / "status.json",
                          json.dumps({"status": "stopped", "error": None, "last_step": last_step}))
    if not ctx.get("tracking_uri"):
        return
    client = MlflowClient(ctx["tracking_uri"])
    runs = client.search_runs([ctx["experiment_id"]], filter_string=(
        f"tags.`{TRIAL_TAG}` = '{trial_id}' and tags.`{PARENT_TAG}` = '{ctx['parent_run_id']}' "
        "and attributes.status = 'RUNNING'"))
    for run in runs:
        client.set_tag(run.info.run_id, STATUS_TAG, "stopped")
        client.set_terminated(run.info.run_id, "KILLED")


def best_of(records: list[dict[str, Any]], mode: str) -> dict[str, Any] | None:
    """The best finished trial (a trial stopped early only when none finished)."""
    for allowed in (("finished",), ("finished", "stopped")):
        pool = [r for r in records if r["status"] in allowed and r["objective"] is not None]
        if pool:
            pick = (min if mode == "min" else max)(pool, key=lambda r: r["objective"])
            return {k: pick[k] for k in ("coords", "config", "objective", "trial_id")}
    return None


# ---------------------------------------------------------------------------------------
# The sweep

def run_sweep(suite: Suite, source: str, suite_dir: Path, uri: str, experiment_id: str,
              per_trial: dict[str, float], progress=None) -> SweepResult:
    """Search every cell (resuming what a killed run left), write trials.jsonl and sweep.json,
    and return the Lucic et al. re-run grid."""
    from ganbench.tracking import end_run

    settings = suite.tune
    tune_dir = suite_dir / "tune"
    (tune_dir / "cells").mkdir(parents=True, exist_ok=True)
    # a trial that fails or diverges before its first evaluation reports its status without the
    # objective; Tune's strict check would turn that one trial's fault into an error of the sweep
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    _prepare_objective(suite, progress)
    parent = _parent_run(suite, tune_dir, uri, experiment_id, source)
    from ganbench.trial import trial_threads

    ctx = {"suite_name": suite.name, "suite_dir": str(tune_dir), "tracking_uri": uri,
           "experiment_id": experiment_id, "parent_run_id": parent,
           "threads": trial_threads(per_trial["cpu"]), "report_to_tune": True}
    status = "FAILED"
    try:
        all_records: list[dict[str, Any]] = []
        best: dict[str, dict[str, dict[str, Any]]] = {}
        for cell in cells_of(suite):
            done = tune_dir / "cells" / f"{cell.name}.json"
            try:
                finished = json.loads(done.read_text())
            except (OSError, ValueError):
                finished = None
            if finished is None:
                if progress:
                    progress("prepare", {"what": f"search {cell.row}/{cell.dataset} with {cell.searcher} "
                                                 f"({cell.scheduler})"})
                grid = _run_cell(suite, cell, ctx, per_trial, tune_dir, progress)
                records = _records(suite, cell, grid, ctx, tune_dir)
                finished = {"records": records, "best": best_of(records, objective_mode(settings))}
                atomic_write_text(done, json.dumps(finished, indent=1))
            all_records.extend(finished["records"])
            if finished["best"] is not None:
                best.setdefault(cell.row, {}).setdefault(cell.dataset, {})[cell.searcher] = finished["best"]
            _write_trials(tune_dir, all_records)
        _write_sweep_json(suite, tune_dir, best)
        status = "FINISHED"
    finally:
        end_run(uri, parent, status)
    specs, rows = rerun_specs(suite, best)
    return SweepResult(specs, rows, protocol_note(suite), tune_dir)


def _prepare_objective(suite: Suite, progress) -> None:
    """The objective's metric assets on its reference split (prepared once, on the driver)."""
    from ganbench.data.base import get_dataset
    from ganbench.metrics.base import EvalContext
    from ganbench.registry import METRICS

    metric = objective_metric(suite.tune.objective.metric)[0]
    for dataset in suite.datasets:
        if progress:
            progress("prepare", {"what": f"objective {metric} on {dataset} ({suite.tune.objective.reference})"})
        get_dataset(dataset).prepare()
        ctx = EvalContext(get_dataset(dataset).info, suite.tune.objective.reference, suite.eval.num_samples)
        METRICS.get(metric)().prepare(ctx)


def _write_trials(tune_dir: Path, records: list[dict[str, Any]]) -> None:
    atomic_write_text(tune_dir / "trials.jsonl", "".join(json.dumps(r) + "\n" for r in records))


def _write_sweep_json(suite: Suite, tune_dir: Path, best: dict[str, Any]) -> None:
    settings = suite.tune
    entries = {e.row: e for e in suite.methods}
    defaults = {row: defaults_of(suite, entries[row], suite.datasets[0]) for row in settings.space}
    atomic_write_text(tune_dir / "sweep.json", json.dumps({
        "suite": suite.name,
        "objective": {"metric": objective_key(settings.objective.metric), "mode": objective_mode(settings),
                      "reference": settings.objective.reference},
        "budget": settings.budget,
        "searchers": [s.name for s in settings.searchers],
        "scheduler": settings.scheduler,
        "schedulers": {s.name: settings.scheduler_of(s) for s in settings.searchers},
        "seed": search_seed(suite),
        "spaces": dict(settings.space),
        "coupled": {row: settings.coupled.get(row) for row in settings.space},
        "defaults": defaults,
        "best": best,
    }, indent=2))


def rerun_specs(suite: Suite, best: dict[str, Any]) -> tuple[list[TrialSpec], list[str]]:
    """Defaults and each cell's best, with every seed of the suite, on ``eval.reference``."""
    from ganbench.data.base import get_dataset
    from ganbench.registry import METHODS

    settings = suite.tune
    specs: list[TrialSpec] = []
    rows: list[str] = []

    def add_row(label: str) -> None:
        if label not in rows:
            rows.append(label)

    for dataset in suite.datasets:
        info = get_dataset(dataset).info
        for entry in suite.methods:
            overrides = suite.method_overrides(entry)
            variants: list[tuple[str, dict[str, Any]]]
            if entry.row in settings.space:
                variants = [(f"{entry.row} (default)", {})]
                for s in settings.searchers:
                    found = best.get(entry.row, {}).get(dataset, {}).get(s.name)
                    if found is not None:
                        variants.append((f"{entry.row} (tuned: {s.name})", found["config"]))
            else:
                variants = [(entry.label or "", {})]
            for label, config in variants:
                add_row(label or entry.name)
                params = METHODS.get(entry.name).resolve_params({**overrides, **config}, info)
                for seed in suite.seeds:
                    specs.append(TrialSpec(
                        method=entry.name, dataset=dataset, seed=seed, params=tuple(sorted(params.items())),
                        iterations=suite.train.iterations, batch_size=suite.train.batch_size,
                        eval_every=suite.train.eval_every, metrics=tuple(suite.eval.metrics),
                        num_samples=suite.eval.num_samples, reference=suite.eval.reference, label=label,
                        resize=suite.eval.resize, num_reference=suite.eval.num_reference))
    return specs, rows


def _note(n_seeds: int, budget: Any, searchers: str, seed: Any, metric: Any, mode: Any, reference: Any,
          table_reference: Any) -> str:
    return (f"Rows '(tuned: <searcher>)' are re-runs with {n_seeds} seeds of the best of {budget} trials found "
            f"by each searcher ({searchers}) with seed {seed} on {metric} ({mode}) against the {reference} "
            f"split; rows '(default)' re-run the untuned parameters; the table reports the {table_reference} "
            "split (Lucic et al. 2018 protocol).")


def protocol_note(suite: Suite) -> str:
    """The sentence the tables carry: which rows are re-runs of what."""
    settings = suite.tune
    searchers = ", ".join(f"{s.name} ({settings.scheduler_of(s)})" for s in settings.searchers)
    return _note(len(suite.seeds), settings.budget, searchers, search_seed(suite),
                 objective_key(settings.objective.metric), objective_mode(settings),
                 settings.objective.reference, suite.eval.reference)


def note_from_sweep_json(suite_dir: Path) -> str | None:
    """The same note rebuilt from ``tune/sweep.json`` and ``suite.json`` (``ganbench report DIR``)."""
    try:
        meta = json.loads((Path(suite_dir) / "tune" / "sweep.json").read_text())
        suite_meta = json.loads((Path(suite_dir) / "suite.json").read_text()).get("suite", {})
    except (OSError, ValueError):
        return None
    obj = meta.get("objective", {})
    schedulers = meta.get("schedulers", {})
    searchers = ", ".join(f"{s} ({schedulers.get(s, meta.get('scheduler'))})" for s in meta.get("searchers", []))
    return _note(len(suite_meta.get("seeds", [])), meta.get("budget"), searchers, meta.get("seed"),
                 obj.get("metric"), obj.get("mode"), obj.get("reference"),
                 suite_meta.get("eval", {}).get("reference", "?"))


def report_rows(suite_dir: Path) -> list[str] | None:
    """The table rows of a sweep's report, in order, from ``suite.json`` and ``tune/sweep.json``."""
    try:
        meta = json.loads((Path(suite_dir) / "tune" / "sweep.json").read_text())
        methods = json.loads((Path(suite_dir) / "suite.json").read_text()).get("suite", {}).get("methods", [])
    except (OSError, ValueError):
        return None
    rows = []
    for m in methods:
        row = m.get("label") or m["name"]
        if row in meta.get("spaces", {}):
            rows += [f"{row} (default)"] + [f"{row} (tuned: {s})" for s in meta.get("searchers", [])]
        else:
            rows.append(row)
    return rows


def log_sweep_artifacts(suite_dir: Path) -> None:
    """Attach the sweep's files (trials.jsonl, sweep.json, best.yaml, tables, plots) to its parent run."""
    from mlflow.tracking import MlflowClient

    tune_dir = Path(suite_dir) / "tune"
    try:
        state = json.loads((tune_dir / "state.json").read_text())
    except (OSError, ValueError):
        return
    client = MlflowClient(state["tracking_uri"])
    for path in sorted(tune_dir.iterdir()):
        if path.is_file() and path.suffix in (".jsonl", ".json", ".yaml", ".md", ".tex", ".csv") \
                and path.name != "state.json":
            client.log_artifact(state["parent_run_id"], str(path), "tune")
    if (tune_dir / "plots").is_dir():
        client.log_artifacts(state["parent_run_id"], str(tune_dir / "plots"), "tune/plots")
