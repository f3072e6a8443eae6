"""``ganbench.evaluate``: the metrics of ``ganbench eval`` from Python, on anything that makes images.

    import ganbench
    result = ganbench.evaluate(images, dataset="mnist")                    # an array or tensor
    result = ganbench.evaluate(G, dataset="mnist", n=10000, z_dim=100)    # a torch generator
    result = ganbench.evaluate("samples/", dataset="mnist", metrics=["fcd", "cis"])  # files
    result.values["fcd"], result.protocols["fcd"], result.warnings

The same code path as the command line (:mod:`ganbench.metrics.eval_source`): any image size
(resized to the dataset's with the protocol's resize), uint8 or float pixels in a given
(``value_range``) or detected range, the dataset's default metric set when ``metrics`` is None,
a warning per metric when ``n`` is too small for it. See docs/evaluate.md.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ganbench.data.base import get_dataset
from ganbench.errors import GanbenchError
from ganbench.metrics.eval_source import (EvalResult, RESIZE_WORDS, _check_metrics, _device, default_metrics,
                                          evaluate_tensor, images_to_tensor, parse_range, run_eval)
from ganbench.metrics.evaluate import draw_samples

#: samples drawn from a generator when ``n`` is not given (the usual 10k of FCD/FID tables)
DEFAULT_N = 10000


def _as_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _array_sha(arr: np.ndarray) -> str:
    digest = hashlib.sha256(f"{arr.dtype.str}{tuple(arr.shape)}".encode())
    digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()


def _sampler(source: Any, z_dim: int | None, device: torch.device) -> tuple[Callable, str]:
    """``sample(n, generator)`` for a ganbench method, a torch module (called on z ~ N(0, I)) or a
    plain callable ``f(n, generator)``; and the source kind."""
    if hasattr(source, "sample") and hasattr(source, "info") and callable(source.sample):
        return source.sample, "method"
    if isinstance(source, torch.nn.Module):
        dim = z_dim if z_dim is not None else getattr(source, "z_dim", None)
        if dim is None:
            raise GanbenchError("evaluate: a torch module is called on noise z ~ N(0, I); give its z_dim= "
                                "(or pass a function f(n, generator) returning images)")
        source = source.to(device).eval()

        def sample(n: int, generator: torch.Generator) -> torch.Tensor:
            z = torch.randn(n, int(dim), generator=generator, device=generator.device)
            return source(z)

        return sample, "generator"
    if callable(source):
        def call(n: int, generator: torch.Generator) -> torch.Tensor:
            out = source(n, generator)
            return out if isinstance(out, torch.Tensor) else torch.as_tensor(np.asarray(out))

        return call, "generator"
    raise GanbenchError(f"evaluate: expected images (array, tensor, file or folder) or a generator, "
                        f"got {type(source).__name__}")


def evaluate(samples_or_generator: Any, dataset: str, metrics: list[str] | None = None, n: int | None = None,
             device: str | torch.device | None = None, split: str = "test", seed: int | None = None,
             value_range: str | tuple[float, float] | None = None, resize: str = "clean",
             z_dim: int | None = None) -> EvalResult:
    """Metrics of generated images against ``dataset``'s ``split``.

    ``samples_or_generator`` is one of: an array or tensor of images (N×H×W, N×H×W×C or
    N×C×H×W; uint8 0..255 or float in ``value_range`` — ``"0,1"``, ``"-1,1"``, ``"0,255"`` — or
    a detected range; any size with the dataset's aspect ratio); a path (an .npz, a folder of PNGs,
    a trial checkpoint: as ``ganbench eval``); a ganbench method; a ``torch.nn.Module`` called
    on ``z ~ N(0, I)`` of ``z_dim`` (or its ``z_dim`` attribute); or a function
    ``f(n, generator) -> images``. Generators are drawn in batches with noise seeded by
    ``seed`` (default 0; for a checkpoint path, the trial's): ``n`` samples (default
    :data:`DEFAULT_N`); arrays: their first ``n`` (default all). ``metrics`` None: the dataset's default set. ``device`` None: CUDA if available.
    Returns an :class:`~ganbench.metrics.eval_source.EvalResult` (``values``, ``protocols``,
    ``warnings``, ``to_dict()``). Every problem is a one-line :class:`GanbenchError`.
    """
    if isinstance(samples_or_generator, (str, Path)):
        return run_eval(samples_or_generator, metrics, dataset, split, n, seed, device,
                        value_range, resize)
    if n is not None and n < 1:
        raise GanbenchError(f"evaluate: n must be >= 1, got {n}")
    if resize not in RESIZE_WORDS:
        raise GanbenchError(f"evaluate: resize {resize!r}: expected clean or legacy_tensorflow")
    dev = _device(device)
    pair = parse_range(value_range)
    info = get_dataset(dataset).info
    if split not in info.splits:
        raise GanbenchError(f"dataset {dataset!r} has no split {split!r} (splits: {', '.join(info.splits)})")
    chose_defaults = metrics is None
    metrics = list(default_metrics(info) if metrics is None else metrics)
    _check_metrics(metrics, info)
    seconds: dict[str, float] = {}
    extra: dict[str, Any] = {}
    notes: dict[str, str] = {}
    start = time.perf_counter()
    if isinstance(samples_or_generator, (np.ndarray, torch.Tensor)):
        arr = _as_numpy(samples_or_generator)
        if n is not None:
            if n > len(arr):
                raise GanbenchError(f"evaluate: n={n} but the array holds {len(arr)} images")
            arr = arr[:n]
        kind, label, sha = "array", f"array {arr.dtype} {tuple(arr.shape)}", _array_sha(arr)
        fake = images_to_tensor(arr, info, label, pair, resize, notes)
    else:
        sample, kind = _sampler(samples_or_generator, z_dim, dev)
        count = int(n or DEFAULT_N)
        seed = 0 if seed is None else int(seed)
        try:
            drawn = draw_samples(sample, count, dev, seed)
        except GanbenchError:
            raise
        except Exception as exc:
            raise GanbenchError(f"evaluate: the generator failed ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
        label, sha = f"{kind} {type(samples_or_generator).__name__}", ""
        if kind == "method":
            fake = drawn  # a ganbench method samples in the dataset's own format
            notes["input_range"] = "ganbench method samples in [-1, 1]"
        else:
            fake = images_to_tensor(drawn.float().cpu().numpy(), info, label, pair, resize, notes)
        extra["noise_seed"] = seed
    seconds["load"] = time.perf_counter() - start
    fake = fake.to(dev)
    notes["source_sha"] = sha
    values, protocols, warnings = evaluate_tensor(fake, info, metrics, split, dev, resize, notes, seconds)
    if "noise_seed" in extra:
        for protocol in protocols.values():
            protocol["noise_seed"] = seed
    return EvalResult(label, kind, dataset, split, metrics, values, protocols, int(len(fake)), seconds, extra,
                      warnings=warnings, source_sha=sha,
                      input={k: v for k, v in notes.items() if k != "source_sha"},
                      default_metrics=chose_defaults)
