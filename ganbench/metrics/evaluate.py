"""Evaluate a generator on a list of registered metrics, with fixed evaluation noise.

:func:`evaluate` draws ``num_samples`` samples with a ``torch.Generator`` seeded by ``seed``
(so the noise is the same at every evaluation step of a trial and across methods), in batches
of at most :data:`SAMPLE_BATCH`, then computes every requested metric on the same samples inside
a :func:`~ganbench.metrics.features.feature_scope`, so each feature network runs once per
evaluation (the classifier once for ``fcd``, ``cis`` and ``classes``; Inception once for ``fid``
and ``kid``). Reference features come from the on-disk cache of :mod:`ganbench.metrics.reference`.

The reference subset (when ``num_samples`` is below the split size) and KID's subsets are drawn
with ``reference_seed`` (:data:`REFERENCE_SEED` = 0 by default), *not* with the noise ``seed``:
every trial of a suite, whatever its seed, is measured against the same reference, and the
driver's :meth:`Metric.prepare` (whose context has seed 0) builds exactly that reference.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ganbench.data.base import DatasetInfo, get_dataset
from ganbench.errors import GanbenchError
from ganbench.metrics.base import EvalContext, Metric
from ganbench.metrics.features import feature_scope
from ganbench.registry import METRICS

SAMPLE_BATCH = 500
REFERENCE_SEED = 0

SampleFn = Callable[[int, torch.Generator], torch.Tensor]


def draw_samples(sample_fn: SampleFn, num_samples: int, device: torch.device | str, seed: int,
                 labels: torch.Tensor | None = None) -> torch.Tensor:
    """``num_samples`` samples from ``sample_fn(n, generator)`` in batches of <= 500; with
    ``labels`` (a conditional method), ``sample_fn(n, generator, labels=<the batch's labels>)``."""
    device = torch.device(device)
    gen = torch.Generator(device).manual_seed(seed)
    parts = []
    with torch.no_grad():
        left = num_samples
        while left > 0:
            n = min(SAMPLE_BATCH, left)
            done = num_samples - left
            part = (sample_fn(n, gen) if labels is None
                    else sample_fn(n, gen, labels=labels[done:done + n].to(device))).detach()
            if len(part) != n:
                raise GanbenchError(f"sample_fn({n}, generator) returned {len(part)} samples")
            parts.append(part)
            left -= n
    return torch.cat(parts) if parts else torch.empty(0)


def compute_metrics(fake: torch.Tensor, dataset: str | DatasetInfo, metrics: list[str],
                    num_samples: int | None = None, reference: str = "test",
                    device: torch.device | str = "cpu", reference_seed: int = REFERENCE_SEED,
                    resize: str = "clean", num_reference: int | None = None,
                    labels: torch.Tensor | None = None, method: Any = None,
                    ) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """Compute ``metrics`` on an already drawn tensor (generated or, for floors, real).

    The reference size is ``num_reference`` if given, else ``num_samples`` (default
    ``len(fake)``), capped at the split size; ``resize`` is the Inception metrics' resize mode.
    ``labels`` (each sample's class, conditional samples) and ``method`` reach the metrics
    through :class:`EvalContext`.
    """
    info = dataset if isinstance(dataset, DatasetInfo) else get_dataset(dataset).info
    ctx = EvalContext(dataset=info, reference=reference,
                      num_samples=int(num_samples if num_samples is not None else len(fake)),
                      device=torch.device(device), seed=reference_seed, resize=resize,
                      num_reference=None if num_reference is None else int(num_reference),
                      labels=labels, method=method)
    values: dict[str, float] = {}
    protocols: dict[str, dict[str, Any]] = {}
    with feature_scope():
        for name in metrics:
            cls: type[Metric] = METRICS.get(name)
            if not cls.applies_to(info):
                raise GanbenchError(f"metric {name!r} does not apply to dataset {info.name!r} "
                                    f"(applicable: {', '.join(metrics_for(info)) or 'none'})")
            vals, protocol = cls().compute(fake, ctx)
            clash = set(vals) & set(values)
            if clash:
                raise GanbenchError(f"metric {name!r} repeats value keys {sorted(clash)}")
            values.update({k: float(v) for k, v in vals.items()})
            protocols[name] = {"metric": name, "reference_seed": reference_seed, **protocol}
    return values, protocols


def evaluate(sample_fn: SampleFn, dataset: str, metrics: list[str], num_samples: int,
             reference: str = "test", device: torch.device | str = "cpu", seed: int = 0,
             reference_seed: int = REFERENCE_SEED, resize: str = "clean",
             num_reference: int | None = None, method: Any = None,
             ) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """Draw ``num_samples`` samples with noise seeded by ``seed`` and compute ``metrics``.

    ``resize`` (``eval.resize``) and ``num_reference`` (``eval.num_reference``; None: as many
    as ``num_samples``) go to the metrics' context. With a conditional ``method`` the samples
    are drawn with balanced labels (:func:`~ganbench.methods.base.balanced_labels`), which the
    metrics find in ``ctx.labels``. Returns every value (one dict merged over the metrics) and
    each metric's protocol.
    """
    labels = None
    if method is not None and getattr(method, "conditional", False):
        from ganbench.methods.base import balanced_labels

        info = dataset if isinstance(dataset, DatasetInfo) else get_dataset(dataset).info
        labels = balanced_labels(num_samples, info.num_classes)
    fake = draw_samples(sample_fn, num_samples, device, seed, labels)
    values, protocols = compute_metrics(fake, dataset, metrics, num_samples, reference, device,
                                        reference_seed, resize, num_reference, labels, method)
    for protocol in protocols.values():
        protocol["noise_seed"] = seed
    return values, protocols


def value_directions() -> dict[str, str]:
    """Value key -> its direction over all registered metrics: "min", "max" or "zero" (lower,
    higher, or closest to 0 is better; :data:`ganbench.metrics.base.ARROWS`)."""
    out: dict[str, str] = {}
    for _, cls in METRICS.items():
        out.update(cls.outputs)
    return out


def metrics_for(info: DatasetInfo) -> list[str]:
    """Names of the registered metrics that apply to a dataset."""
    return [name for name, cls in METRICS.items() if cls.applies_to(info)]
