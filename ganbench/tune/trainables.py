"""What one search trial runs inside a Ray Tune worker.

A *cell* (a plain dict, see :func:`ganbench.tune.sweep.cell_dict`) fixes the row, dataset,
searcher, seed and training settings; a Tune config holds only the search coordinates.

- :func:`search_trial` (``fifo``, ``asha``): the coordinates are expanded into method
  parameters and the candidate becomes an ordinary :class:`~ganbench.spec.TrialSpec` (its
  content hash names its folder ``tune/trials/<trial_id>`` and its MLflow child run), trained
  by :func:`ganbench.trial.train_trial`, which reports every evaluation to Tune. A candidate
  that already finished (a restarted sweep proposing it again) is not trained again: its
  evaluations are replayed to Tune from ``evals.jsonl``.
- :func:`pbt_trial` (``pbt``): a PBT member's config changes during training, so it is named
  by its Ray trial id (``tune/trials/<ray trial id>``), starts from a Tune checkpoint when
  PBT exploited another member, and reports a Tune checkpoint at every evaluation.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

from ganbench.paths import read_json_lines
from ganbench.spec import TrialSpec
from ganbench.tune.space import expand


def coords_of(config: dict[str, Any], cell: dict[str, Any]) -> dict[str, Any]:
    return {k: config[k] for k in cell["space"]}


def cell_spec(cell: dict[str, Any], config: dict[str, Any]) -> TrialSpec:
    """The TrialSpec of a candidate: the row's overrides, then the expanded coordinates."""
    from ganbench.data.base import get_dataset
    from ganbench.registry import METHODS

    info = get_dataset(cell["dataset"]).info
    params = METHODS.get(cell["method"]).resolve_params({**cell["overrides"], **config}, info)
    return TrialSpec(method=cell["method"], dataset=cell["dataset"], seed=cell["seed"],
                     params=tuple(sorted(params.items())), iterations=cell["iterations"],
                     batch_size=cell["batch_size"], eval_every=cell["eval_every"],
                     metrics=(cell["metric_name"],), num_samples=cell["num_samples"],
                     reference=cell["reference"], label=f"{cell['row']} [{cell['searcher']}]")


def search_trial(config: dict[str, Any], cell: dict[str, Any]) -> None:
    from ray import tune

    from ganbench.trial import TrialContext, read_status, train_trial, trial_dir

    spec = cell_spec(cell, expand(coords_of(config, cell), cell["coupled"]))
    ctx = TrialContext(**{**cell["ctx"], "report_to_tune": True})
    record = train_trial(spec, ctx)
    if record.get("skipped"):
        folder = trial_dir(ctx, spec)
        values: dict[str, Any] = {}
        for line in read_json_lines(folder / "evals.jsonl"):
            values = line.get("values", {})
            tune.report({"step": line["step"], "elapsed_s": line.get("elapsed_s", 0.0), **values})
        status = (read_status(folder) or {}).get("status")
        if status != "finished":
            tune.report({"status": status, **values})


def pbt_trial(config: dict[str, Any], cell: dict[str, Any]) -> None:
    """One PBT member, from scratch or from the checkpoint PBT handed it."""
    import torch
    from ray import tune

    from ganbench.checkpoint import load_checkpoint, save_checkpoint, set_rng_state
    from ganbench.data.base import get_dataset, load_dataset
    from ganbench.metrics.evaluate import evaluate
    from ganbench.paths import atomic_write_text
    from ganbench.registry import METHODS
    from ganbench.tracking import TrialRun
    from ganbench.train import Trainer

    coords = coords_of(config, cell)
    spec = cell_spec(cell, expand(coords, cell["coupled"]))
    ray_id = tune.get_context().get_trial_id()
    folder = Path(cell["ctx"]["suite_dir"]) / "trials" / ray_id
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "spec.json", json.dumps(
        {"trial_id": ray_id, "suite": cell["ctx"]["suite_name"], "coords": coords, **spec.to_dict()}, indent=2))
    torch.set_num_threads(max(1, cell["ctx"]["threads"]))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    info = get_dataset(spec.dataset, spec.dataset_param_dict).info  # info.name: the instance's name
    data, labels = load_dataset(info.name, "train", device)
    method_cls = METHODS.get(spec.method)
    method = method_cls(method_cls.Params(**spec.param_dict), info, device)
    elapsed_before = 0.0
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        torch.manual_seed(spec.seed + int(ray_id.rsplit("_", 1)[-1]))
    else:
        # the weights, optimiser moments and RNG of the member PBT copied; the learning rates
        # of *this* config (Adam's saved param groups would bring the old ones back)
        fresh_lrs = {k: [g["lr"] for g in o.param_groups] for k, o in method.optimizers().items()}
        with checkpoint.as_directory() as where:
            state = load_checkpoint(Path(where) / "checkpoint.pt", device)
        method.load_state_dict(state["method"])
        set_rng_state(state["rng"])
        elapsed_before = float(state["extra"].get("elapsed_s", 0.0))
        for name, opt in method.optimizers().items():
            for group, lr in zip(opt.param_groups, fresh_lrs[name]):
                group["lr"] = lr
    run = None
    if cell["ctx"].get("tracking_uri"):
        run = TrialRun(cell["ctx"]["tracking_uri"], cell["ctx"]["experiment_id"], cell["ctx"]["parent_run_id"],
                       ray_id, f"{cell['row']}/{spec.dataset}/pbt {ray_id}",
                       {**{f"coord.{k}": v for k, v in coords.items()}, **spec.flat(), "trial_id": ray_id})

    def run_eval(m):
        return evaluate(m.sample, info.name, spec.metrics_at(m.iteration), spec.num_samples, spec.reference,
                        device, spec.seed, resize=spec.resize, num_reference=spec.num_reference, method=m)

    def on_eval(step: int, elapsed: float, values: dict, protocol: dict, losses: dict) -> None:
        with open(folder / "evals.jsonl", "a") as fh:
            fh.write(json.dumps({"step": step, "elapsed_s": round(elapsed, 3), "values": values,
                                 "losses": losses, "coords": coords}) + "\n")
        if run is not None:
            run.log_metrics(step, {**values, **{f"coord.{k}": v for k, v in coords.items()
                                                if isinstance(v, (int, float))}})
        with tempfile.TemporaryDirectory() as tmp:
            save_checkpoint(Path(tmp) / "checkpoint.pt", method.state_dict(), {"elapsed_s": elapsed})
            tune.report({"step": step, "elapsed_s": elapsed, **values},
                        checkpoint=tune.Checkpoint.from_directory(tmp))

    trainer = Trainer(method, data, spec.batch_size, spec.iterations, spec.eval_every, run_eval, on_eval, None,
                      labels=labels if method.conditional else None)
    trainer.elapsed_before = elapsed_before
    result = trainer.run()
    atomic_write_text(folder / "status.json", json.dumps(
        {"status": result.status, "error": result.error, "last_step": result.last_step}))
    if run is not None:
        run.finish(result.status)
    if result.status != "finished":
        last = read_json_lines(folder / "evals.jsonl")
        values = {k: v for k, v in (last[-1]["values"] if last else {}).items()
                  if isinstance(v, (int, float)) and math.isfinite(v)}
        tune.report({"status": result.status, **values})
