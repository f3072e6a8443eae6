"""The trainer loop shared by all methods.

``Trainer.run`` performs ``spec.iterations`` calls of ``method.step``, draws real batches by
indexing the data tensor on the trial's device, evaluates at every ``eval_every`` iterations
and at the end, checkpoints at each evaluation (networks, optimisers, RNG states), and stops
the trial as ``diverged`` on a non-finite loss, keeping the last good metrics. Each
evaluation's values also carry the method's own progress signals (:func:`merge_progress`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from ganbench.checkpoint import load_checkpoint, save_checkpoint, set_rng_state
from ganbench.errors import GanbenchError
from ganbench.methods.base import Method

#: evaluate(method) -> (metric values, protocol per metric)
EvalFn = Callable[[Method], tuple[dict, dict]]
#: on_eval(step, elapsed_s, values, protocol, losses)
OnEval = Callable[[int, float, dict, dict, dict], None]
#: on_step(step, elapsed_s): called after every training iteration (progress displays)
OnStep = Callable[[int, float], None]


@dataclass
class TrainResult:
    status: str  # "finished" | "diverged"
    last_step: int
    error: str | None = None
    last_losses: dict[str, float] = field(default_factory=dict)


def merge_progress(method: Method, values: dict, protocol: dict) -> tuple[dict, dict]:
    """Add ``method.progress_values()`` (a method's own progress signals, e.g. BEGAN's ``began_m``)
    to an evaluation's values, each with a protocol entry ``{"source": "method", "method": name,
    ...}`` (extended by the method's optional ``progress_protocol`` mapping: its direction,
    averaging window, definition), so they reach evals.jsonl, results.csv and MLflow like a metric.
    A progress key that repeats a metric's value key is an error."""
    progress = method.progress_values()
    if not progress:
        return values, protocol
    clash = set(progress) & set(values)
    if clash:
        raise GanbenchError(f"method {method.name!r}: progress values {sorted(clash)} repeat metric value keys")
    described = getattr(method, "progress_protocol", {}) or {}
    extra = {key: {"source": "method", "method": method.name, **described.get(key, {})} for key in progress}
    return {**values, **{k: float(v) for k, v in progress.items()}}, {**protocol, **extra}


class Trainer:
    def __init__(self, method: Method, data: torch.Tensor, batch_size: int, iterations: int,
                 eval_every: int, evaluate: EvalFn, on_eval: OnEval,
                 checkpoint_path: Path | None = None, labels: torch.Tensor | None = None,
                 on_step: OnStep | None = None):
        if method.conditional and labels is None:
            raise GanbenchError(f"method {method.name!r} is conditional and needs a dataset with labels")
        if labels is not None and len(labels) != len(data):
            raise GanbenchError(f"{len(labels)} labels for {len(data)} training samples")
        self.method = method
        method.total_iterations = iterations
        self.data = data
        self.batch_size = batch_size
        self.iterations = iterations
        self.eval_every = eval_every
        self.evaluate = evaluate
        self.on_eval = on_eval
        self.checkpoint_path = checkpoint_path
        self.elapsed_before = 0.0
        self.labels = labels.to(data.device) if labels is not None else None
        self.on_step = on_step

    def next_real(self):
        """A real mini-batch drawn with replacement; ``(x, y)`` for a conditional method."""
        idx = torch.randint(self.data.shape[0], (self.batch_size,), device=self.data.device)
        if self.method.conditional:
            return self.data[idx], self.labels[idx]
        return self.data[idx]

    def resume(self) -> bool:
        """Continue from the checkpoint if one exists: same weights, optimisers and RNG."""
        if self.checkpoint_path is None or not Path(self.checkpoint_path).exists():
            return False
        state = load_checkpoint(self.checkpoint_path, self.method.device)
        self.method.load_state_dict(state["method"])
        set_rng_state(state["rng"])
        self.elapsed_before = float(state["extra"].get("elapsed_s", 0.0))
        return True

    def _checkpoint(self, elapsed: float) -> None:
        if self.checkpoint_path is not None:
            save_checkpoint(self.checkpoint_path, self.method.state_dict(), {"elapsed_s": elapsed})

    def run(self) -> TrainResult:
        start = time.perf_counter() - self.elapsed_before
        losses: dict[str, float] = {}
        while self.method.iteration < self.iterations:
            losses = self.method.step(self.next_real)
            step = self.method.iteration
            bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
            if bad:
                return TrainResult("diverged", step, f"non-finite loss at iteration {step}: {bad}", losses)
            if self.on_step is not None:
                self.on_step(step, time.perf_counter() - start)
            if step % self.eval_every == 0 or step == self.iterations:
                values, protocol = self.evaluate(self.method)
                values, protocol = merge_progress(self.method, values, protocol)
                elapsed = time.perf_counter() - start
                self.on_eval(step, elapsed, values, protocol, losses)
                self._checkpoint(elapsed)
        return TrainResult("finished", self.method.iteration, None, losses)
