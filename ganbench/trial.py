"""``train_trial(spec, ctx)``: one trial from data to metrics, anywhere.

The same plain function runs in-process (tests, ``--local``), in a Ray worker on this
machine, or on a node of a Ray cluster; nothing in it knows which, except that inside a
Ray Tune session it also reports each evaluation to Tune.
Outputs, under ``<suite_dir>/trials/<trial_id>/``: ``spec.json``, ``evals.jsonl`` (one line
per evaluation), ``status.json``, ``checkpoint.pt``, ``samples.png`` (and ``samples.npy``
for point data); the same numbers go to the trial's MLflow child run. ``status.json`` holds
``status`` (running, finished, diverged, failed, oom, interrupted), ``error``, ``last_step``,
``attempt``, ``notes`` (retries, a corrupt checkpoint set aside), ``host``, ``pid``,
``torch_threads`` (the CPU threads torch trains and evaluates with: ``resources.cpus_per_trial``
rounded down, at least 1) and, under Ray, ``node_id``. ``progress.json`` holds the live
iteration, training it/s and the last metrics and losses, rewritten at most every
:data:`PROGRESS_EVERY_S` seconds from the trainer's ``on_step`` (the driver's display reads it:
the same file works in-process, in local Ray workers and on the nodes of a cluster, which write
their trial folders into the shared results folder anyway).
A stop asked for by the driver (Ctrl-C, SIGTERM: :mod:`ganbench.interrupt`) is seen after the
current iteration: the trial is marked ``interrupted`` (``last_step``: its last checkpoint's step)
and resumes from that checkpoint at the next run.
Every file is written through a temporary file and a rename (the conditional sample figures
of :mod:`ganbench.metrics.cgml_plots` aside), except ``evals.jsonl``, which
is appended to and cut back to the checkpoint's step (half-written line included) on resume.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import socket
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.data.base import get_dataset, load_dataset
from ganbench.errors import GanbenchError, environment_fault
from ganbench.faults import ENV_VAR as FAULT_ENV, fault_for, inject, parse_plan
from ganbench.interrupt import TrialInterrupted, Watch
from ganbench.paths import atomic_write_bytes, atomic_write_text
from ganbench.registry import METHODS
from ganbench.spec import TrialSpec
from ganbench.tracking import TrialRun, protocol_metrics, protocol_params
from ganbench.train import Trainer


@dataclasses.dataclass(frozen=True)
class TrialContext:
    """Where a trial writes: picklable, so it travels to Ray workers."""

    suite_name: str
    suite_dir: str
    tracking_uri: str | None = None
    experiment_id: str | None = None
    parent_run_id: str | None = None
    threads: int = 1
    report_to_tune: bool = False
    #: in-process retries of a trial that raised or ran out of memory (``resources.max_failures``)
    max_failures: int = 0
    #: the test-only fault plan (:mod:`ganbench.faults`), read on the driver
    fault_inject: str | None = dataclasses.field(default_factory=lambda: os.environ.get(FAULT_ENV) or None)

    def __post_init__(self):
        parse_plan(self.fault_inject)  # a malformed plan fails on the driver, before any trial


def trial_dir(ctx: TrialContext, spec: TrialSpec) -> Path:
    return Path(ctx.suite_dir) / "trials" / spec.trial_id


def read_status(folder: Path) -> dict[str, Any] | None:
    try:
        status = json.loads((Path(folder) / "status.json").read_text())
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) else None


#: statuses a re-run of the suite does not train again (divergence is deterministic)
DONE_STATUSES = ("finished", "diverged")
#: statuses worth another attempt from the checkpoint (the fault may be transient)
RETRY_STATUSES = ("failed", "oom")


def _write_status(folder: Path, status: str, last_step: int, error: str | None, **extra: Any) -> None:
    atomic_write_text(folder / "status.json",
                      json.dumps({"status": status, "error": error, "last_step": last_step, **extra}))


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _where() -> dict[str, Any]:
    """The host and, under Ray, the node id this trial runs on."""
    where: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid()}
    try:
        import ray

        if ray.is_initialized():
            where["node_id"] = ray.get_runtime_context().get_node_id()
    except Exception:  # Ray missing or not in a worker: the host is enough
        pass
    return where


def _save_samples(folder: Path, samples: torch.Tensor, kind: str) -> list[Path]:
    """A sample grid PNG (images) or a scatter PNG plus ``samples.npy`` (points), written atomically."""
    png = folder / "samples.png"
    buf = io.BytesIO()
    if kind == "image":
        from torchvision.utils import save_image

        save_image(samples[:64].float().cpu(), buf, format="png", nrow=8, normalize=True, value_range=(-1, 1))
        atomic_write_bytes(png, buf.getvalue())
        return [png]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = samples.float().cpu().numpy()
    npy = io.BytesIO()
    np.save(npy, points.astype(np.float32))
    atomic_write_bytes(folder / "samples.npy", npy.getvalue())
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.5)
    ax.set_aspect("equal")
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(png, buf.getvalue())
    return [png, folder / "samples.npy"]


def train_trial(spec: TrialSpec, ctx: TrialContext) -> dict[str, Any]:
    """Train and evaluate one trial with ``ctx.threads`` torch threads (the driver's
    ``resources.cpus_per_trial`` rounded down, at least 1: :func:`trial_threads`); the calling
    process's thread count is restored afterwards (``--local`` runs trials in the driver).
    See :func:`_train_trial`."""
    before = torch.get_num_threads()
    torch.set_num_threads(trial_threads(ctx.threads))
    try:
        return _train_trial(spec, ctx)
    finally:
        torch.set_num_threads(before)


def trial_threads(cpus_per_trial: float) -> int:
    """torch's intra-op threads for a trial given ``cpus_per_trial`` CPUs: rounded down, at least 1
    (Ray reserves the fraction asked for; torch runs whole threads)."""
    return max(1, int(cpus_per_trial))


def _train_trial(spec: TrialSpec, ctx: TrialContext) -> dict[str, Any]:
    """Train and evaluate one trial; return its final record (never raises for a trial fault).

    A trial whose ``status.json`` says finished or diverged is skipped. Otherwise it
    continues from its checkpoint (same weights, optimisers, RNG), if any. A trial that
    raises (``failed``) or runs out of memory (``oom``) is retried up to
    ``ctx.max_failures`` times, each attempt resuming from the last checkpoint; a
    divergence is deterministic and is not retried.
    """
    folder = trial_dir(ctx, spec)
    previous = read_status(folder)
    if previous and previous.get("status") in DONE_STATUSES:
        return {"trial_id": spec.trial_id, **previous, "skipped": True}
    watch = Watch(ctx.suite_dir)
    if watch():  # the driver asked to stop before this trial started: leave it untouched
        return {"trial_id": spec.trial_id, "status": "not started", "skipped": True}
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(".*.tmp*"):  # temporary files of a writer that was killed mid-write
        stale.unlink(missing_ok=True)
    atomic_write_text(folder / "spec.json",
                      json.dumps({"trial_id": spec.trial_id, "suite": ctx.suite_name, **spec.to_dict()}, indent=2))
    where = {**_where(), "torch_threads": torch.get_num_threads()}  # set by train_trial
    run = None
    if ctx.tracking_uri:
        run = TrialRun(ctx.tracking_uri, ctx.experiment_id, ctx.parent_run_id, spec.trial_id,
                       spec.display, spec.flat())
        run.set_tags({f"ganbench.{k}": v for k, v in where.items()})
    last_values: dict[str, float] = {}
    notes: list[str] = []
    attempts = 1 + max(0, ctx.max_failures)
    progress = TrialProgress(folder, spec, watch)
    attempt = 1
    try:
        for attempt in range(1, attempts + 1):
            _write_status(folder, "running", 0, None, attempt=attempt, **where)
            status, error, last_step = _attempt(spec, ctx, folder, run, last_values, notes, progress)
            if status not in RETRY_STATUSES or attempt == attempts:
                break
            notes.append(f"attempt {attempt}: {error}; retrying from the checkpoint")
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    except KeyboardInterrupt as exc:  # a stop asked for (TrialInterrupted) or a second Ctrl-C (--local)
        error = (f"interrupted at iteration {progress.step} (last checkpoint at step "
                 f"{progress.checkpoint_step}); run the same command to resume")
        _write_status(folder, "interrupted", progress.checkpoint_step, error, attempt=attempt,
                      notes=notes, **where)
        if run is not None:
            run.finish("interrupted")
        if not isinstance(exc, TrialInterrupted):
            raise
        return {"trial_id": spec.trial_id, "status": "interrupted", "error": error,
                "last_step": progress.checkpoint_step, "values": last_values, "attempts": attempt}
    _write_status(folder, status, last_step, error, attempt=attempt, notes=notes, **where)
    if run is not None:
        run.finish(status)
    if ctx.report_to_tune and status != "finished":
        from ray import tune

        tune.report({"status": status, **last_values})
    return {"trial_id": spec.trial_id, "status": status, "error": error, "last_step": last_step,
            "values": last_values, "attempts": attempt}


def _attempt(spec: TrialSpec, ctx: TrialContext, folder: Path, run: TrialRun | None,
             last_values: dict[str, float], notes: list[str],
             progress: TrialProgress | None = None) -> tuple[str, str | None, int]:
    """One attempt at a trial: build, resume if possible, train, save samples."""
    from ganbench.metrics.evaluate import evaluate

    torch.manual_seed(spec.seed)
    np.random.seed(spec.seed)
    device = _device()
    try:
        info = get_dataset(spec.dataset, spec.dataset_param_dict).info  # info.name: the instance's name
        data, labels = load_dataset(info.name, "train", device)
        method_cls = METHODS.get(spec.method)
        method = method_cls(method_cls.Params(**spec.param_dict), info, device)
        fault = fault_for(ctx.fault_inject, spec)
        if fault is not None:
            method.step = inject(method.step, fault, lambda: method.iteration, folder)

        def run_eval(m):
            return evaluate(m.sample, info.name, spec.metrics_at(m.iteration), spec.num_samples,
                            spec.reference, device, spec.seed, resize=spec.resize,
                            num_reference=spec.num_reference, method=m)

        logged_protocol: dict | bool = False  # the protocol settings logged as params, once

        def on_eval(step: int, elapsed: float, values: dict, protocol: dict, losses: dict) -> None:
            nonlocal logged_protocol
            last_values.clear()
            last_values.update(values)
            record = {"step": step, "elapsed_s": round(elapsed, 3), "values": values,
                      "losses": losses, "protocol": protocol}
            with open(folder / "evals.jsonl", "a") as fh:
                fh.write(json.dumps(record) + "\n")
            if run is not None:
                finite_losses = {k if k.startswith("loss") else f"loss_{k}": v
                                 for k, v in losses.items() if math.isfinite(v)}
                run.log_metrics(step, {**values, **finite_losses, **protocol_metrics(protocol),
                                       "elapsed_s": elapsed})
                settings = protocol_params(protocol)
                if not logged_protocol:
                    run.log_params(settings)
                    logged_protocol = settings
                else:  # a setting that changed after all (an integer count): a metric from now on
                    changed = {k: float(v) for k, v in settings.items() if logged_protocol.get(k) != v
                               and isinstance(v, int) and not isinstance(v, bool)}
                    if changed:
                        run.log_metrics(step, changed)
            if progress is not None:
                progress.evaluated(step, values, losses)
            # once a stop was asked for, Tune takes no more results: a report would block until the
            # worker is killed, before the checkpoint of this evaluation is written
            if ctx.report_to_tune and not (progress is not None and progress.watch(force=True)):
                from ray import tune

                tune.report({"step": step, "elapsed_s": elapsed, **values})

        trainer = Trainer(method, data, spec.batch_size, spec.iterations, spec.eval_every,
                          run_eval, on_eval, folder / "checkpoint.pt",
                          labels=labels if method.conditional else None,
                          log_every=spec.log_every, compile=spec.compile, on_step=progress)
        if _resume(trainer, folder, notes):
            _truncate_evals(folder / "evals.jsonl", method.iteration)
        else:  # a fresh start: lines of an attempt killed before its first checkpoint go
            (folder / "evals.jsonl").unlink(missing_ok=True)
        if progress is not None:
            progress.started(method.iteration, trainer.elapsed_before)
        result = trainer.run()
        gen = torch.Generator(device).manual_seed(spec.seed)
        own = method.sample_figure(folder, gen)
        if own is not None:
            artifacts = list(own)
        elif info.kind == "conditional":
            from ganbench.metrics.cgml_plots import save_conditional_samples

            artifacts = save_conditional_samples(
                folder, method.sample(80 if len(info.shape) == 3 else 2500, gen), info)
        else:
            artifacts = _save_samples(folder, method.sample(64 if info.kind == "image" else 2500, gen),
                                      info.kind)
        if run is not None:
            for path in [*artifacts, folder / "checkpoint.pt"]:
                if path.exists():
                    run.log_artifact(path)
        return result.status, result.error, result.last_step
    except (torch.cuda.OutOfMemoryError, MemoryError) as exc:
        return _fault(folder, "oom", exc)
    except Exception as exc:  # a fault in one trial must never stop the suite...
        fault = environment_fault(exc, folder)
        if fault is not None:  # ...but a full or read-only disk is not the trial's: it ends the run
            raise fault from exc
        return _fault(folder, "failed", exc)


#: ``progress.json`` is rewritten at most this often (seconds)
PROGRESS_EVERY_S = 1.0


class TrialProgress:
    """The trainer's ``on_step`` hook: stops the trial at a safe point once the driver asked
    (:class:`ganbench.interrupt.Watch`) and keeps ``progress.json`` current (throttled).

    ``it_s`` counts training only: an interval that held an evaluation is left out of the rate.
    """

    def __init__(self, folder: Path, spec: TrialSpec, watch: Watch):
        self.path = Path(folder) / "progress.json"
        self.spec = spec
        self.watch = watch
        self.step = 0
        self.checkpoint_step = 0
        self.elapsed = 0.0
        self.values: dict[str, float] = {}
        self.losses: dict[str, float] = {}
        self.it_s: float | None = None
        self._last: float | None = None  # perf_counter at the previous step
        self._skip = False  # the interval since the previous step held an evaluation
        self._steps = 0
        self._train_s = 0.0
        self._written = 0.0
        self._saved: int | None = None  # an evaluation's step, checkpointed by the next on_step

    def started(self, step: int, elapsed: float) -> None:
        self.step = self.checkpoint_step = int(step)
        self.elapsed = float(elapsed)
        self._last = time.perf_counter()
        self.write()

    def __call__(self, step: int, elapsed: float) -> None:
        now = time.perf_counter()
        if self._last is not None and not self._skip:
            self._steps += 1
            self._train_s += now - self._last
        self._last, self._skip = now, False
        if self._saved is not None:  # the trainer checkpointed right after the evaluation
            self.checkpoint_step, self._saved = self._saved, None
        self.step, self.elapsed = int(step), float(elapsed)
        if self.watch():
            self.write()  # where it stopped
            raise TrialInterrupted()
        if now - self._written >= PROGRESS_EVERY_S:
            self.write()

    def evaluated(self, step: int, values: dict, losses: dict) -> None:
        self.values = {k: float(v) for k, v in values.items() if isinstance(v, (int, float))}
        self.losses = {k: float(v) for k, v in losses.items() if isinstance(v, (int, float))}
        self._saved = int(step)
        self._skip = True
        self.write()

    def write(self) -> None:
        if self._train_s > 0 and self._steps:
            self.it_s = self._steps / self._train_s
            self._steps, self._train_s = 0, 0.0

        def finite(d: dict) -> dict:  # JSON has no NaN
            return {k: v for k, v in d.items() if math.isfinite(v)}

        try:
            atomic_write_text(self.path, json.dumps({
                "trial_id": self.spec.trial_id, "step": self.step, "iterations": self.spec.iterations,
                "elapsed_s": round(self.elapsed, 3), "it_s": self.it_s, "values": finite(self.values),
                "losses": finite(self.losses), "time": time.time()}))
        except OSError as exc:  # a full disk ends the run through the trial's next real write
            if environment_fault(exc) is None:
                raise
        self._written = time.perf_counter()


def _fault(folder: Path, status: str, exc: BaseException) -> tuple[str, str, int]:
    atomic_write_text(folder / "error.txt", traceback.format_exc())
    return status, f"{type(exc).__name__}: {exc}", -1


def _resume(trainer: Trainer, folder: Path, notes: list[str]) -> bool:
    """Resume from ``checkpoint.pt``; an unreadable one is set aside and the trial restarts."""
    try:
        return trainer.resume()
    except GanbenchError as err:
        bad = folder / "checkpoint.pt"
        os.replace(bad, folder / "checkpoint.pt.corrupt")
        message = f"{err}; moved to checkpoint.pt.corrupt, restarting the trial from scratch"
        notes.append(message)
        warnings.warn(message, stacklevel=2)
        return False


def _truncate_evals(path: Path, up_to_step: int) -> None:
    """Drop evaluation lines past the checkpoint (and a half-written last line)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= up_to_step:
                keep.append(line)
        except (json.JSONDecodeError, KeyError):
            continue
    atomic_write_text(path, "".join(f"{line}\n" for line in keep))


def env_for_workers() -> dict[str, str]:
    """Environment variables a worker needs to see the same cache and settings."""
    keys = ("GANBENCH_CACHE", "GANBENCH_OFFLINE", "GANBENCH_INCEPTION_PATH", "GANBENCH_MNIST_WHEEL_DIR",
            "GANBENCH_INCEPTION_WHEEL_DIR", "GANBENCH_INCEPTION_IS_WEIGHTS", "GANBENCH_VGG16_WEIGHTS", "TORCH_HOME")
    return {k: os.environ[k] for k in keys if k in os.environ}
