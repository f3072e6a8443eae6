"""The driver of ``ganbench run``: suite -> specs -> prepared assets -> dispatch -> report.

Keeps the data path of docs/architecture.md straight: load+validate, expand, dispatch ``train_trial`` per
spec, collect ``results/<suite>/`` into tables and plots, with one MLflow parent run per
suite run and a child run per trial.

Before Ray starts, the driver checks what the environment can tell it then (``--results`` a
writable directory with room, the suite's folder name fits the file system), takes the suite
folder's driver lock, and makes the MLflow store usable (:func:`ganbench.tracking.ensure_store`).
A full or read-only disk met later ends the run with one line naming the path (exit 2), and no
trial is dispatched after it.

One driver per suite folder. A second ``ganbench run`` of the same suite into the same results
folder (a second terminal, a scheduler starting a job twice, two nodes on one NFS folder) stops
at once, naming the driver that holds the folder (host, pid, since), exit 2. Why a lock and not
cooperating drivers with per-trial claims: everything a driver owns besides the trials is
single-writer too (the MLflow parent run that a rerun re-attaches to, Ray Tune's experiment
folder ``ray/`` that a sweep is restored from, ``suite.json``, the report), so claims would have
to extend to all of those; per-trial heartbeats also need clocks that agree across NFS nodes,
and a stale claim has to be stolen safely. One lock (``filelock``: ``flock`` on
``<suite>/.driver.lock``, released by the kernel when the holder dies, so a killed driver never
leaves the folder locked) gives "each trial trained once" with none of that; several machines
share the work through a Ray cluster instead (``--address``).

Ctrl-C or SIGTERM (:mod:`ganbench.interrupt`): the running trials stop after their current
iteration, no queued trial starts, every trial still ``running`` on disk is marked ``interrupted``
(its MLflow run ``KILLED``) once its process is gone (:func:`mark_interrupted`), tables and plots
are written for what finished, and :class:`~ganbench.errors.Interrupted` carries the one line
(``interrupted: 12/44 finished; run the same command to resume``, exit 130). A ``running`` status
that a killed driver left is marked the same way when the next driver starts.
"""

from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench import interrupt
from ganbench.data.base import get_dataset, load_dataset
from ganbench.dispatch import (ProgressFn, cluster_resources_for, ensure_ray, resolve_resources, run_local,
                               run_ray, shutdown_ray)
from ganbench.errors import AssetUnavailable, GanbenchError, Interrupted, environment_fault
from ganbench.metrics.base import EvalContext
from ganbench.paths import atomic_write_text, check_name_fits, check_writable_dir
from ganbench.registry import METRICS
from ganbench.spec import TrialSpec
from ganbench.suite import Suite, load_suite
from ganbench.tracking import (close_done_trials, close_interrupted, default_tracking_uri, end_run,
                               ensure_experiment, ensure_store, follow_moved_results, log_report_artifacts,
                               start_parent_run)
from ganbench.trial import DONE_STATUSES, TrialContext, read_status, trial_dir, trial_threads


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
    for dataset, dataset_params in suite.dataset_entries():
        if progress:
            progress("prepare", {"what": f"dataset {dataset}"})
        ds = get_dataset(dataset, dataset_params)
        ds.prepare()
        info = ds.info
        ctx = EvalContext(info, suite.eval.reference, suite.eval.num_samples, device=_driver_device(),
                          resize=suite.eval.resize, num_reference=suite.eval.num_reference)
        for name in [*suite.eval.metrics, *suite.eval.final_metrics]:
            if progress:
                progress("prepare", {"what": f"metric {name} on {dataset}"})
            METRICS.get(name)().prepare(ctx)
        load_dataset(info.name, "train")


def check_datasets(suite: Suite, source: str) -> None:
    """Make every dataset of the suite available in the cache, or raise one line saying how.

    Runs before Ray starts and before any trial (or sweep) is dispatched: a dataset that no
    source can provide is an :class:`AssetUnavailable` naming the suite file, exit code 2.
    """
    for dataset, dataset_params in suite.dataset_entries():
        try:
            get_dataset(dataset, dataset_params).prepare()
        except AssetUnavailable as err:
            raise AssetUnavailable(f"{source}: datasets: {err}") from None


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
              progress: ProgressFn | None = None, sets: list[str] | tuple[str, ...] = (),
              only: str | list[str] | None = None) -> RunOutcome:
    source = str(path)
    suite = load_suite(path, quick=quick, sets=sets, only=only)  # --set overrides, --only filters
    specs = suite.expand()
    results_root = check_writable_dir(results_root, "--results")
    check_name_fits(results_root, suite.name, f"{source}: name:")
    suite_dir = results_root / suite.name
    _check_results_folder(suite_dir, suite, source)
    check_datasets(suite, source)  # a missing dataset: one line, before Ray or any trial starts
    try:
        with driver_lock(suite_dir), interrupt.catch_signals(suite_dir):
            uri = tracking_uri or default_tracking_uri(results_root)
            _announce(progress, suite.name, suite_dir, uri, specs)
            try:
                ensure_store(uri, results_root)
                follow_moved_results(uri, results_root)
                return _run_locked(suite, specs, source, suite_dir, quick, local, address, results_root,
                                   tracking_uri, progress)
            except KeyboardInterrupt:  # a signal outside the trials' dispatch (or a second one)
                mark_interrupted(suite_dir, wait_s=10.0)
                raise Interrupted(interrupted_line(suite_dir, specs)) from None
    except GanbenchError:
        raise
    except Exception as exc:  # a full or read-only disk: one line naming the path
        fault = environment_fault(exc, suite_dir)
        if fault is None:
            raise
        raise fault from None


def _announce(progress: ProgressFn | None, name: str, suite_dir: Path, uri: str, specs: list[TrialSpec]) -> None:
    """The display's header and the trials it counts (``k/N``, queued)."""
    if progress:
        progress("suite", {"suite": name, "results": str(suite_dir), "mlflow": uri,
                           "trials": [{"trial_id": s.trial_id, "label": s.display, "iterations": s.iterations}
                                      for s in specs]})


def interrupted_line(suite_dir: Path, specs: list[TrialSpec]) -> str:
    """``interrupted: 12/44 finished; run the same command to resume`` (finished: done, as a re-run
    counts it: finished or diverged)."""
    done = sum(1 for s in specs
               if (read_status(Path(suite_dir) / "trials" / s.trial_id) or {}).get("status") in DONE_STATUSES)
    return f"interrupted: {done}/{len(specs)} finished; run the same command to resume"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _checkpoint_step(path: Path) -> int:
    """The iteration a trial's checkpoint holds (where a re-run resumes), 0 without a readable one."""
    if not path.exists():
        return 0
    try:
        import torch

        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return int(state["method"]["iteration"])
    except Exception:  # a checkpoint cut short by the kill: the re-run sets it aside and restarts
        return 0


def mark_interrupted(suite_dir: Path, wait_s: float = 0.0, tracking_uri: str | None = None,
                     experiment_id: str | None = None) -> list[str]:
    """Mark every trial folder under ``suite_dir`` (``trials/`` and a sweep's ``tune/trials/``) whose
    ``status.json`` still says ``running`` as ``interrupted``; return their trial ids.

    Called by the driver, which holds the suite folder's lock, so a ``running`` status is either a
    trial of this run that was stopped before it could say so itself (a Ray worker killed by Tune
    mid-evaluation) or a killed driver's. A trial process on this host other than the driver is
    waited for first, up to ``wait_s`` seconds, so a worker that is just ending never writes after
    the mark. With ``tracking_uri``, their open MLflow runs become ``KILLED`` and ``interrupted``.
    """
    folders = [p for sub in ("trials", "tune/trials") for p in sorted((Path(suite_dir) / sub).glob("*/"))]
    running = {f: st for f in folders if (st := read_status(f)) and st.get("status") == "running"}
    deadline = time.monotonic() + wait_s
    here = socket.gethostname()
    for folder, st in running.items():
        pid = st.get("pid")
        if st.get("host") == here and isinstance(pid, int) and pid != os.getpid():
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
    marked = []
    for folder in running:
        st = read_status(folder) or {}
        if st.get("status") != "running":  # it said so itself meanwhile
            continue
        last = _checkpoint_step(folder / "checkpoint.pt")
        atomic_write_text(folder / "status.json", json.dumps({
            **st, "status": "interrupted", "last_step": last,
            "error": f"interrupted (its process was gone; last checkpoint at step {last}); "
                     "run the same command to resume"}))
        marked.append(folder.name)
    if tracking_uri and experiment_id and marked:
        close_interrupted(tracking_uri, experiment_id, marked)
    return marked


class DriverBusy(GanbenchError):
    """Another driver holds the suite folder."""


@contextmanager
def driver_lock(suite_dir: Path):
    """Hold ``<suite_dir>/.driver.lock`` for the whole run (see the module docstring)."""
    from filelock import FileLock, Timeout

    suite_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(suite_dir / ".driver.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        owner = None
        for _ in range(20):  # the holder writes driver.json just after taking the lock
            try:
                owner = json.loads((suite_dir / "driver.json").read_text())
                break
            except (OSError, ValueError):
                time.sleep(0.1)
        who = (f"host {owner.get('host')}, pid {owner.get('pid')}, since {owner.get('since')}"
               if isinstance(owner, dict) else "driver unknown")
        raise DriverBusy(f"{suite_dir}: another ganbench run is driving this suite folder ({who}); "
                         "wait for it to end, or use another --results folder") from None
    try:
        atomic_write_text(suite_dir / "driver.json", json.dumps({
            "host": socket.gethostname(), "pid": os.getpid(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S %Z")}))
        yield
    finally:
        (suite_dir / "driver.json").unlink(missing_ok=True)
        lock.release()


def _run_locked(suite, specs, source, suite_dir, quick, local, address, results_root, tracking_uri,
                progress) -> RunOutcome:
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
    close_done_trials(uri, experiment_id, _done_in(suite_dir / "tune" / "trials"))
    return run_sweep(suite, source, suite_dir, uri, experiment_id, per_trial, progress)


def _done_in(trials: Path) -> dict[str, str]:
    """``{trial_id: status}`` of the trial folders under ``trials`` that say they are done."""
    done = {}
    for folder in sorted(trials.glob("*/")) if trials.is_dir() else []:
        status = read_status(folder)
        if status and status.get("status") in DONE_STATUSES:
            done[folder.name] = status["status"]
    return done


def _this_machine() -> dict[str, float]:
    """What ``--local`` trials can use: this machine's CPUs and GPUs."""
    import torch

    return {"CPU": float(os.cpu_count() or 1), "GPU": float(torch.cuda.device_count())}


def _shutdown_ray(started: bool) -> None:
    if started:
        shutdown_ray()


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
                       threads=trial_threads(suite.resources.cpus_per_trial),
                       max_failures=suite.resources.max_failures)
    _announce(progress, suite.name, suite_dir, uri, specs)
    mark_interrupted(suite_dir, 0.0, uri, experiment_id)  # a killed driver's trials: never "running" now
    done = {}
    for spec in specs:
        repair_records(spec, trial_dir(ctx, spec))
        previous = read_status(trial_dir(ctx, spec))
        if previous and previous.get("status") in DONE_STATUSES:
            done[spec.trial_id] = previous["status"]
    close_done_trials(uri, experiment_id, done)
    status = "FAILED"
    stopped = False
    try:
        try:
            with interrupt.graceful():  # a first Ctrl-C or SIGTERM lets the trials stop at a safe point
                if local:
                    run_local(specs, ctx, progress)
                else:
                    run_ray(specs, ctx, suite.resources, source, address, progress)
        except KeyboardInterrupt:
            stopped = True
        stopped = stopped or interrupt.requested()
        if stopped:
            if not local:  # no worker writes after its trial is marked (run_suite shuts Ray down again: a no-op)
                shutdown_ray()
            mark_interrupted(suite_dir, 10.0, uri, experiment_id)
            if progress:
                progress("prepare", {"what": "interrupted: writing tables and plots for what finished"})
        statuses = {s.trial_id: read_status(trial_dir(ctx, s)) or {"status": "unknown"} for s in specs}
        centres = {d: get_dataset(d, p).info.extras.get("centres") for d, p in suite.dataset_entries()}
        report = build_report(suite_dir, value_directions(),
                              centres={d: c for d, c in centres.items() if c},
                              methods=sweep.rows if sweep else [m.row for m in suite.methods],
                              trial_ids=[s.trial_id for s in specs], note=sweep.note if sweep else None,
                              time_to=[t.model_dump(exclude_none=True) for t in suite.eval.time_to])
        log_report_artifacts(uri, parent, suite_dir)
        status = "KILLED" if stopped else "FINISHED"
    finally:
        if interrupt.requested() and status == "FAILED":
            status = "KILLED"
        try:
            end_run(uri, parent, status)
        except Exception as exc:  # a full disk also fails this write: keep the first fault's line
            if environment_fault(exc) is None or status == "FINISHED":
                raise
    if stopped:
        raise Interrupted(interrupted_line(suite_dir, specs))
    return RunOutcome(suite, suite_dir, specs, statuses, report, uri, parent)


#: what :func:`budget_warnings` assumes to estimate a run's length: a training iteration takes at
#: least this long (a tiny net's step on a fast machine; real ones are slower)
MIN_SECONDS_PER_ITERATION = 1e-4
#: past these, a budget is warned about at ``ganbench validate``
MAX_TRAIN_SECONDS = 30 * 24 * 3600
MAX_SAMPLE_BYTES = 32 * 2**30


def _human_seconds(seconds: float) -> str:
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("hours", 3600)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def budget_warnings(suite: Suite, source: str) -> list[str]:
    """Budgets that cannot finish, each with an estimate where one can be made (``validate``).

    Lower bounds only: a training iteration is taken as at least
    :data:`MIN_SECONDS_PER_ITERATION`; an evaluation holds its ``num_samples`` generated samples
    in memory at once (``float32``); a batch is drawn from the training split, so a batch larger
    than the split cannot be drawn without repeats (the split's size is read only when the batch
    is larger than the smallest shipped training split, 60,000, so validation stays fast).
    """
    from math import prod

    warnings_: list[str] = []
    train, ev = suite.train, suite.eval
    trials = len(suite.datasets) * len(suite.methods) * len(suite.seeds)
    seconds = train.iterations * MIN_SECONDS_PER_ITERATION
    if seconds > MAX_TRAIN_SECONDS:
        warnings_.append(f"{source}: train.iterations: {train.iterations:,} iterations take at least "
                         f"{_human_seconds(seconds)} per trial ({trials} trials) at "
                         f"{MIN_SECONDS_PER_ITERATION * 1e3:g} ms per iteration")
    evals = -(-train.iterations // train.eval_every)
    for dataset, dataset_params in suite.dataset_entries():
        info = get_dataset(dataset, dataset_params).info
        size = ev.num_samples * prod(info.shape) * 4
        if size > MAX_SAMPLE_BYTES:
            warnings_.append(f"{source}: eval.num_samples: {ev.num_samples:,} samples of {dataset} "
                             f"({'x'.join(map(str, info.shape))}) need about {size / 2**30:,.0f} GiB of memory "
                             f"at each of {evals:,} evaluations")
        if train.batch_size > 60000:
            try:
                n = len(load_dataset(info.name, "train")[0])
            except Exception:  # not prepared here: the size is unknown, say nothing
                continue
            if train.batch_size > n:
                warnings_.append(f"{source}: train.batch_size: {train.batch_size:,} is larger than "
                                 f"{dataset}'s training split ({n:,} samples)")
    if evals > 100_000:
        warnings_.append(f"{source}: train.eval_every: {evals:,} evaluations per trial")
    return warnings_


def repair_records(spec: TrialSpec, folder: Path) -> str | None:
    """Re-evaluate a finished trial whose ``evals.jsonl`` lost its last record, from its checkpoint.

    A finished trial's checkpoint holds the networks of its last step, so that step's evaluation
    is recomputed exactly as the trial did it (same metrics, samples, reference and noise seed:
    :func:`ganbench.metrics.eval_source.run_eval`); its losses and ``elapsed_s`` cannot be and are
    left out, and the line says ``"reevaluated": true``. A step recorded twice keeps its last line.
    Earlier lost steps cannot be recomputed (there is no checkpoint of them). Returns what was
    done (also added to the trial's status notes), or None when the records were whole or could
    not be repaired (then the report flags the trial, :func:`ganbench.report.collect.check_records`).
    """
    from ganbench.paths import read_json_lines
    from ganbench.report.collect import check_records

    status = read_status(folder)
    if not status or status.get("status") != "finished":
        return None
    records = read_json_lines(folder / "evals.jsonl")
    problem = check_records(records, status)
    if problem is None:
        return None
    last = int(status["last_step"])
    by_step = {r.get("step"): r for r in records if isinstance(r.get("step"), int) and r["step"] <= last}
    if last not in by_step:
        ckpt = folder / "checkpoint.pt"
        if not ckpt.exists():
            return None
        from ganbench.metrics.eval_source import load_trial_generator, run_eval

        try:
            method, _ = load_trial_generator(ckpt, _driver_device())
            if int(method.iteration) != last:
                return None
            result = run_eval(ckpt, spec.metrics_at(last), spec.dataset, spec.reference, spec.num_samples,
                              spec.seed, _driver_device())
        except GanbenchError:
            return None
        by_step[last] = {"step": last, "elapsed_s": None, "values": result.values, "losses": {},
                         "protocol": result.protocols, "reevaluated": True}
    lines = [json.dumps(by_step[step]) for step in sorted(by_step)]
    atomic_write_text(folder / "evals.jsonl", "".join(f"{line}\n" for line in lines))
    note = f"records repaired ({problem})"
    notes = list(status.get("notes") or []) + [note]
    atomic_write_text(folder / "status.json", json.dumps({**status, "notes": notes}))
    return note
