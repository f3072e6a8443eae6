"""``resources.gpus_per_trial: auto``: the share of a GPU a trial needs, from a probe.

Ray runs as many trials on one GPU as their ``gpu`` fractions allow. Instead of a fixed 0.5,
the driver measures what a trial of the suite needs (:func:`probe_trial_memory`): it builds
the method on the GPU with the training data there, runs :data:`PROBE_STEPS` training steps,
draws one evaluation batch of samples and, when the trial computes a TF-Inception metric,
passes one Inception batch (:data:`~ganbench.metrics.inception.DEVICE_BATCH` images) through
the network; ``torch.cuda.max_memory_allocated`` over that is the measured peak. What a full
evaluation keeps on the device besides (all ``eval.num_samples`` generated samples, the
generated and reference Inception features, the float64 covariance, its root and their
product) is added from its sizes (:func:`evaluation_resident_bytes`), not measured.

:func:`gpu_share` turns bytes into the fraction (pure arithmetic, tested with known answers):
need = peak × :data:`MARGIN` (the caching allocator's fragmentation) + :data:`CONTEXT_BYTES`
(the CUDA context and cuDNN/cuBLAS workspaces, outside ``max_memory_allocated``); the trials that
fit are k = ⌊total / need⌋, clamped to [1, :data:`MAX_TRIALS_PER_GPU`], and the fraction is
1/k rounded down to Ray's 4 decimals (so k trials fit exactly; 0.05 at least, 1 at most). A suite
of several methods or datasets gets the largest need among them (Ray takes one fraction per
grid). Probing fails (no GPU in the driver, an error in a method): 0.5 with a note saying why.
Memory is the only thing sized: k small trials on one GPU also share its compute.

On a CPU the same probe runs with the process's peak resident memory (``VmHWM``, reset through
``/proc/self/clear_refs``) as the reader, which makes the probe testable where there is no GPU;
only the CUDA figure sizes ``gpus_per_trial``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from ganbench.spec import TrialSpec

#: training steps the probe runs (the second one has the optimisers' state allocated)
PROBE_STEPS = 2
#: multiplier on the measured peak: the caching allocator's fragmentation and rounding
MARGIN = 1.25
#: the CUDA context, cuDNN/cuBLAS workspaces and the like, not counted by max_memory_allocated
CONTEXT_BYTES = 600 * 2**20
#: at most this many trials per GPU (a share of at least 1/20 = 0.05)
MAX_TRIALS_PER_GPU = 20
#: the share when probing is impossible or failed (ganbench's former fixed value)
FALLBACK_SHARE = 0.5
#: the metrics whose evaluation passes images through an Inception network (``memorization``,
#: ``vendi`` and ``pr_prob`` use the dataset's classifier; their ``_inception`` variants Inception)
INCEPTION_METRICS = frozenset({"fid", "fid_inf", "kid", "prdc", "is", "pr_prob_inception",
                               "memorization_inception", "vendi_inception"})


@dataclass(frozen=True)
class Share:
    """The fraction of a GPU per trial and how it was chosen."""

    fraction: float
    trials_per_gpu: int
    need_bytes: int
    note: str


def gpu_share(peak_bytes: float, total_bytes: float, margin: float = MARGIN,
              overhead_bytes: float = CONTEXT_BYTES, max_trials: int = MAX_TRIALS_PER_GPU) -> Share:
    """The GPU fraction for a trial whose measured peak is ``peak_bytes`` on a device of
    ``total_bytes``: k = ⌊total / (peak·margin + overhead)⌋ in [1, max_trials], fraction 1/k
    rounded down to 4 decimals (Ray's resolution), so k trials fit."""
    if total_bytes <= 0:
        raise ValueError(f"total GPU memory must be positive, got {total_bytes}")
    need = float(peak_bytes) * margin + overhead_bytes
    k = int(total_bytes // need)
    fits = k >= 1
    k = min(max(k, 1), max_trials)
    fraction = 1.0 if k == 1 else math.floor(10_000 / k) / 10_000
    gib = 2**30
    note = (f"gpus_per_trial auto = {fraction:g} ({k} trial{'s' if k > 1 else ''} per GPU): measured peak "
            f"{peak_bytes / gib:.2f} GiB x {margin:g} + {overhead_bytes / gib:.2f} GiB context = "
            f"{need / gib:.2f} GiB of {total_bytes / gib:.0f} GiB")
    if not fits:
        note += "; more than the whole GPU: one trial per GPU, and it may run out of memory"
    elif k == max_trials and total_bytes // need > max_trials:
        note += f" (capped at {max_trials} per GPU)"
    return Share(fraction, k, int(need), note)


def evaluation_resident_bytes(spec: TrialSpec, sample_numel: int, feature_dim: int = 2048) -> int:
    """What a full evaluation keeps on the device besides the probed batch: the generated
    samples (float32), and for a TF-Inception metric the generated and reference features
    (float32) plus the float64 covariance, its root and their product."""
    held = spec.num_samples * sample_numel * 4
    if INCEPTION_METRICS & {*spec.metrics, *spec.final_metrics}:
        n_ref = spec.num_reference or spec.num_samples
        held += (spec.num_samples + n_ref) * feature_dim * 4 + 3 * feature_dim * feature_dim * 8
    return held


class _CudaPeak:
    """Peak bytes allocated by torch on a CUDA device between enter and exit."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak = 0

    def __enter__(self):
        torch.cuda.synchronize(self.device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(self.device)
        self.base = torch.cuda.memory_allocated(self.device)
        return self

    def __exit__(self, *exc):
        torch.cuda.synchronize(self.device)
        self.peak = torch.cuda.max_memory_allocated(self.device) - self.base


def _status_kib(field: str) -> int:
    return int(re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M).group(1))


class _ResidentPeak:
    """Growth of this process's peak resident memory (Linux ``VmHWM``, reset first)."""

    def __init__(self):
        self.peak = 0

    def __enter__(self):
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current VmRSS
        self.base = _status_kib("VmRSS")
        return self

    def __exit__(self, *exc):
        self.peak = max(0, _status_kib("VmHWM") - self.base) * 1024


def probe_trial_memory(spec: TrialSpec, device: torch.device | str, inception_batch: int | None = None) -> int:
    """Peak bytes one trial of ``spec`` needs on ``device`` (see the module docstring): data,
    method, :data:`PROBE_STEPS` training steps, one evaluation batch of samples and, for a
    TF-Inception metric, one Inception batch (``inception_batch`` images, by default the
    extractor's device batch), plus :func:`evaluation_resident_bytes`."""
    from ganbench.data.base import get_dataset, load_dataset
    from ganbench.metrics.evaluate import SAMPLE_BATCH
    from ganbench.metrics.inception import DEVICE_BATCH, InceptionExtractor
    from ganbench.registry import METHODS
    from ganbench.train import Trainer

    device = torch.device(device)
    info = get_dataset(spec.dataset, spec.dataset_param_dict).info
    inception = info.kind == "image" and bool(INCEPTION_METRICS & {*spec.metrics, *spec.final_metrics})
    reader = _CudaPeak(device) if device.type == "cuda" else _ResidentPeak()
    torch.manual_seed(spec.seed)
    with reader:
        data, labels = load_dataset(info.name, "train", device)
        method_cls = METHODS.get(spec.method)
        method = method_cls(method_cls.Params(**spec.param_dict), info, device)
        trainer = Trainer(method, data, spec.batch_size, max(spec.iterations, PROBE_STEPS), spec.eval_every,
                          lambda m: ({}, {}), lambda *a: None,
                          labels=labels if method.conditional else None)
        for _ in range(PROBE_STEPS):
            method.step(trainer.next_real)
        with torch.no_grad():
            fake = method.sample(min(SAMPLE_BATCH, spec.num_samples), torch.Generator(device).manual_seed(0))
            if inception:
                n = inception_batch or DEVICE_BATCH
                batch = fake.repeat(math.ceil(n / len(fake)), *[1] * (fake.ndim - 1))[:n]
                InceptionExtractor(batch_size=n, resize=spec.resize).extract(batch, device)
        del method, trainer, data, labels, fake
    sample_numel = math.prod(info.shape) if getattr(info, "shape", None) else 0
    return int(reader.peak) + evaluation_resident_bytes(spec, sample_numel)


def auto_share(specs: list[TrialSpec]) -> Share:
    """The ``gpus_per_trial: auto`` fraction for ``specs``: the largest probed need among their
    distinct (method, dataset, params, batch, metrics) on this process's GPU; 0.5 with a note
    when there is no GPU here or a probe fails."""
    if not torch.cuda.is_available():
        return Share(FALLBACK_SHARE, 2, 0, f"gpus_per_trial auto = {FALLBACK_SHARE:g}: the driver sees no GPU "
                     "to probe a trial's memory on (set resources.gpus_per_trial to size it yourself)")
    device = torch.device("cuda", torch.cuda.current_device())
    seen, peak, which = set(), 0, None
    try:
        for spec in specs:
            key = (spec.method, spec.dataset, repr(spec.dataset_param_dict), repr(spec.param_dict),
                   spec.batch_size, spec.metrics, spec.final_metrics, spec.num_samples, spec.num_reference)
            if key in seen:
                continue
            seen.add(key)
            need = probe_trial_memory(spec, device)
            if need > peak:
                peak, which = need, spec.display
    except Exception as exc:  # a probe must never stop the suite: its trials will report their own faults
        first = (str(exc).strip().splitlines() or [""])[0]
        return Share(FALLBACK_SHARE, 2, 0, f"gpus_per_trial auto = {FALLBACK_SHARE:g}: probing a trial's GPU "
                     f"memory failed ({type(exc).__name__}: {first})")
    finally:
        torch.cuda.empty_cache()
    share = gpu_share(peak, torch.cuda.get_device_properties(device).total_memory)
    return Share(share.fraction, share.trials_per_gpu, share.need_bytes,
                 f"{share.note} (largest of {len(seen)} probed trial kinds: {which})")
