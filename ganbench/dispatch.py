"""Dispatch: run the expanded grid through Ray Tune (or in-process with ``--local``).

The local default starts a Ray instance owned by ganbench (``RAY_AUTH_MODE=disabled``);
``--address`` joins an existing cluster. Resources are checked against the cluster before
anything starts: a GPU request where the cluster has none is an error, not a trial pending
forever. Each Tune trial runs :func:`ganbench.trial.train_trial` on one ``TrialSpec`` and is
named by the spec's content hash.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from ganbench.errors import GanbenchError
from ganbench.spec import TrialSpec
from ganbench.suite import Resources
from ganbench.trial import TrialContext, env_for_workers, train_trial

ProgressFn = Callable[[str, dict[str, Any]], None]


def run_local(specs: list[TrialSpec], ctx: TrialContext, progress: ProgressFn | None = None) -> list[dict]:
    """Run trials one after another in this process."""
    results = []
    for spec in specs:
        if progress:
            progress("start", {"trial_id": spec.trial_id, "label": spec.display})
        record = train_trial(spec, ctx)
        results.append(record)
        if progress:
            progress("done", {"label": spec.display, **record})
    return results


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect to Ray (start a local instance when no address is given).

    Returns True when this call started it (so the caller shuts it down).
    """
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: no Tune tables over ours
    import ray

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False,
                                  configure_logging=False, runtime_env={"env_vars": env_for_workers()})
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            # "local": always a new instance owned by ganbench; without it ray.init joins the
            # cluster named in /tmp/ray/ray_current_cluster (left by any `ray start`, even a dead one)
            ray.init(address="local", num_cpus=num_cpus, **kwargs)
    except ConnectionError as exc:
        raise GanbenchError(f"--address {address}: cannot connect to a Ray cluster ({exc})") from None
    return True


def resolve_resources(res: Resources, cluster: dict[str, float], source: str) -> dict[str, float]:
    """Per-trial Ray resources, checked against what the cluster has."""
    cpus_total = cluster.get("CPU", 0.0)
    gpus_total = cluster.get("GPU", 0.0)
    if res.cpus_per_trial > cpus_total:
        raise GanbenchError(f"{source}: resources.cpus_per_trial: {res.cpus_per_trial:g} CPUs per trial "
                            f"requested but the Ray cluster has {cpus_total:g}")
    if res.gpus_per_trial == "auto":
        gpus = 0.5 if gpus_total >= 1 else 0.0
    else:
        gpus = float(res.gpus_per_trial)
        if gpus > 0 and gpus_total == 0:
            raise GanbenchError(f"{source}: resources.gpus_per_trial: {gpus:g} GPU per trial requested "
                                "but the Ray cluster has no GPU (use 0 or auto)")
        if gpus > gpus_total:
            raise GanbenchError(f"{source}: resources.gpus_per_trial: {gpus:g} GPUs per trial requested "
                                f"but the Ray cluster has {gpus_total:g}")
    return {"cpu": res.cpus_per_trial, "gpu": gpus}


def _tune_trainable(config: dict[str, Any]) -> None:
    spec = TrialSpec.from_dict(config["spec"])
    ctx = TrialContext(**config["ctx"])
    train_trial(spec, ctx)


def cluster_resources_for(resources: Resources, source: str) -> dict[str, float]:
    """Per-trial resources checked against the connected Ray cluster (call ensure_ray first)."""
    import ray

    return resolve_resources(resources, ray.cluster_resources(), source)


def run_ray(specs: list[TrialSpec], ctx: TrialContext, resources: Resources, source: str,
            address: str | None = None, progress: ProgressFn | None = None) -> list[dict]:
    """Run the trials as one Ray Tune grid; returns one record per trial.

    Connects to Ray (or starts a local instance) unless already connected, and shuts down
    only what it started.
    """
    import ray
    from ray import tune

    started = ensure_ray(address)
    try:
        per_trial = cluster_resources_for(resources, source)
        threads = max(1, int(per_trial["cpu"]))
        ctx = TrialContext(**{**ctx.__dict__, "threads": threads, "report_to_tune": True})
        labels = {s.trial_id: s.display for s in specs}
        storage = Path(ctx.suite_dir).resolve() / "ray"
        trainable = tune.with_resources(_tune_trainable, per_trial)
        tuner = tune.Tuner(
            trainable,
            param_space={
                "spec": tune.grid_search([{**s.to_dict()} for s in specs]),
                "ctx": ctx.__dict__,
            },
            tune_config=tune.TuneConfig(
                num_samples=1,
                reuse_actors=True,  # a worker keeps torch, MLflow and the data loaded across trials
                trial_name_creator=lambda t: TrialSpec.from_dict(t.config["spec"]).trial_id,
                trial_dirname_creator=lambda t: TrialSpec.from_dict(t.config["spec"]).trial_id,
            ),
            run_config=tune.RunConfig(
                name=ctx.suite_name,
                storage_path=str(storage),
                verbose=0,
                failure_config=tune.FailureConfig(max_failures=resources.max_failures),
                callbacks=[_ProgressCallback(progress, labels)] if progress else [],
            ),
        )
        grid = tuner.fit()
        records = []
        for result in grid:
            spec = TrialSpec.from_dict(result.config["spec"])
            records.append({"trial_id": spec.trial_id, "label": spec.display,
                            "error": str(result.error) if result.error else None,
                            "metrics": dict(result.metrics or {})})
        return records
    finally:
        if started:
            ray.shutdown()


def _ProgressCallback(progress: ProgressFn, labels: dict[str, str]):
    """A Tune callback forwarding trial events to ``progress`` (rich, in the CLI).

    Tune pickles its run config (callbacks included) for ``Tuner.restore``; the progress
    function holds a live terminal display, so it is dropped from the pickle.
    """
    from ray.tune import Callback

    def _label(trial) -> str:
        return labels.get(TrialSpec.from_dict(trial.config["spec"]).trial_id, str(trial))

    class ProgressCallback(Callback):
        def __init__(self, progress_fn: ProgressFn):
            self.progress: ProgressFn | None = progress_fn

        def __getstate__(self):
            return {**self.__dict__, "progress": None}

        def _emit(self, event: str, info: dict[str, Any]) -> None:
            if self.progress is not None:
                self.progress(event, info)

        def on_trial_start(self, iteration, trials, trial, **info):
            self._emit("start", {"trial_id": trial.trial_id, "label": _label(trial)})

        def on_trial_result(self, iteration, trials, trial, result, **info):
            self._emit("result", {"label": _label(trial), **{k: v for k, v in result.items()
                                                            if isinstance(v, (int, float))}})

        def on_trial_complete(self, iteration, trials, trial, **info):
            self._emit("done", {"label": _label(trial), "status": "finished"})

        def on_trial_error(self, iteration, trials, trial, **info):
            self._emit("done", {"label": _label(trial), "status": "failed"})

    return ProgressCallback(progress)
