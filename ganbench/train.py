"""The trainer loop shared by all methods.

``Trainer.run`` performs ``spec.iterations`` calls of ``method.step``, draws real batches by
indexing the data tensor on the trial's device, evaluates at every ``eval_every`` iterations
and at the end, checkpoints at each evaluation (networks, optimisers, RNG states), and stops
the trial as ``diverged`` on a non-finite loss, keeping the last good metrics. Each
evaluation's values also carry the method's own progress signals (:func:`merge_progress`).

No host sync per step (issue 16 item 1). A method's ``step`` may return its losses as detached
0-d device tensors (:class:`~ganbench.methods.adversarial.AdversarialMethod` does) or as Python
floats (other methods). The trainer sums them on the device over a logging window of
``log_every`` iterations (``train.log_every``; default ``min(50, eval_every)``) and turns the
window means into floats only at the window's end (every iteration that is a multiple of
``log_every``) and at every evaluation: that is where a GPU waits for the host, where
``on_log`` and the divergence check see them. A non-finite loss anywhere in a window makes its
sum non-finite, so the trial still stops as ``diverged``, with its iteration known to within the
window (the error names the window, e.g. "non-finite loss in iterations 51-100").
Windows end at multiples of ``log_every`` and every evaluation ends one, so a checkpoint never
holds a half-summed window and resuming after a kill is exact as before.

``compile`` (``train.compile``: ``none`` | ``default`` | ``reduce-overhead``) asks the method
to ``torch.compile`` its networks (``compile_nets(mode)``; ``reduce-overhead`` uses CUDA graphs
on a GPU). A method without that hook, or whose compiled first step fails, says so in one line
on stderr and runs eagerly: the failed first step is undone (weights, optimisers, RNG) and
repeated eagerly, so the run is the eager run.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from ganbench.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from ganbench.errors import GanbenchError
from ganbench.methods.base import Method

#: evaluate(method) -> (metric values, protocol per metric)
EvalFn = Callable[[Method], tuple[dict, dict]]
#: on_eval(step, elapsed_s, values, protocol, losses)
OnEval = Callable[[int, float, dict, dict, dict], None]
#: on_step(step, elapsed_s): called after every training iteration (progress displays)
OnStep = Callable[[int, float], None]
#: on_log(step, window_mean_losses): called at the end of every logging window (floats)
OnLog = Callable[[int, dict], None]

#: the logging window when ``train.log_every`` is not set (capped at eval_every)
DEFAULT_LOG_EVERY = 50
COMPILE_MODES = ("none", "default", "reduce-overhead")


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
                 on_step: OnStep | None = None, log_every: int | None = None,
                 compile: str = "none", on_log: OnLog | None = None):
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
        self.on_log = on_log
        if log_every is not None and log_every < 1:
            raise GanbenchError(f"train.log_every must be >= 1, got {log_every}")
        self.log_every = int(log_every) if log_every else min(DEFAULT_LOG_EVERY, eval_every)
        if compile not in COMPILE_MODES:
            raise GanbenchError(f"train.compile must be one of {', '.join(COMPILE_MODES)}, got {compile!r}")
        self.compile = compile
        self.compiled = False
        self._sums: dict[str, torch.Tensor | float] = {}
        self._counts: dict[str, int] = {}
        self._window_start = 0

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

    # -- loss windows ---------------------------------------------------------------------
    def _accumulate(self, losses: dict) -> None:
        """Add one step's losses to the window's sums, on the device (no host sync), in float64 as
        Python floats would be summed (a float64 statistic such as BEGAN's k_t keeps its bits)."""
        for key, value in losses.items():
            if isinstance(value, torch.Tensor):
                value = value.detach().to(torch.float64).reshape(())
            previous = self._sums.get(key)
            self._sums[key] = value if previous is None else previous + value
            self._counts[key] = self._counts.get(key, 0) + 1

    def _flush(self) -> dict[str, float]:
        """The window's mean losses as floats (the one host sync of a window); a new window."""
        keys = list(self._sums)
        tensors = [k for k in keys if isinstance(self._sums[k], torch.Tensor)]
        values: dict[str, float] = {k: float(self._sums[k]) for k in keys if k not in tensors}
        if tensors:  # one transfer for all of them
            stacked = torch.stack([self._sums[k].to(self._sums[tensors[0]].device) for k in tensors])
            values.update(zip(tensors, stacked.cpu().tolist()))
        means = {k: values[k] / self._counts[k] for k in keys}
        self._sums, self._counts = {}, {}
        return means

    # -- compilation ----------------------------------------------------------------------
    def _compile(self) -> None:
        if self.compile == "none":
            return
        hook = getattr(self.method, "compile_nets", None)
        if hook is None:
            print(f"ganbench: train.compile={self.compile}: method {self.method.name!r} cannot be compiled "
                  "(no compile_nets hook); running eagerly", file=sys.stderr, flush=True)
            return
        try:
            hook(self.compile)
            self.compiled = True
        except Exception as exc:  # noqa: BLE001 - any compiler fault means: run eagerly
            self._uncompile(exc)

    def _uncompile(self, exc: BaseException) -> None:
        undo = getattr(self.method, "uncompile_nets", None)
        if undo is not None:
            undo()
        self.compiled = False
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"ganbench: train.compile={self.compile}: method {self.method.name!r} cannot be compiled "
              f"({type(exc).__name__}: {first[:200]}); running eagerly", file=sys.stderr, flush=True)

    def _first_compiled_step(self) -> dict:
        """The first step with compiled nets; on a compiler fault, undo it and step eagerly."""
        saved = _clone(self.method.state_dict())
        rng = _clone(rng_state())
        try:
            return self.method.step(self.next_real)
        except Exception as exc:  # noqa: BLE001
            if not _is_compiler_fault(exc):
                raise
            self._uncompile(exc)
            self.method.load_state_dict(saved)
            set_rng_state(rng)
            return self.method.step(self.next_real)

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> TrainResult:
        start = time.perf_counter() - self.elapsed_before
        self._compile()
        losses: dict[str, float] = {}
        self._sums, self._counts = {}, {}
        self._window_start = self.method.iteration + 1
        first = True
        while self.method.iteration < self.iterations:
            if first and self.compiled:
                step_losses = self._first_compiled_step()
            else:
                step_losses = self.method.step(self.next_real)
            first = False
            self._accumulate(step_losses)
            step = self.method.iteration
            if self.on_step is not None:
                self.on_step(step, time.perf_counter() - start)
            evaluating = step % self.eval_every == 0 or step == self.iterations
            if evaluating or step % self.log_every == 0:
                window = self._flush()
                bad = {k: v for k, v in window.items() if not math.isfinite(v)}
                if bad:
                    where = (f"iteration {step}" if self._window_start >= step
                             else f"iterations {self._window_start}-{step}")
                    return TrainResult("diverged", step,
                                       f"non-finite loss in {where} (losses are checked every "
                                       f"{self.log_every} iterations): {bad}", window)
                losses = window
                self._window_start = step + 1
                if self.on_log is not None:
                    self.on_log(step, losses)
            if evaluating:
                values, protocol = self.evaluate(self.method)
                values, protocol = merge_progress(self.method, values, protocol)
                elapsed = time.perf_counter() - start
                self.on_eval(step, elapsed, values, protocol, losses)
                self._checkpoint(elapsed)
        return TrainResult("finished", self.method.iteration, None, losses)


def _clone(obj):
    """A deep copy of a state dict's tensors (nested dicts and lists)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: _clone(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_clone(v) for v in obj)
    return obj


def _is_compiler_fault(exc: BaseException) -> bool:
    """An error raised by torch.compile's machinery (dynamo, inductor, a C++ compiler)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        module = type(exc).__module__ or ""
        if module.startswith(("torch._dynamo", "torch._inductor", "torch.fx", "torch._subclasses")):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
