"""Reference features of real data, cached per (dataset, split, extractor, n, seed).

Reference statistics are computed once and reused (docs/architecture.md: assets are prepared
once, in the driver; every value carries its protocol). We cache
the extractor's outputs themselves (float32; FID/FCD statistics are derived from them in
float64 in a fraction of a second, and KID needs the features), as an ``.npz`` read with
``allow_pickle=False``, with the protocol that produced them stored in the same file:

    cache_dir()/refstats/<dataset>-<split>-<extractor key>-n<n>-<all|seed<seed>>.npz

The extractor key contains a prefix of the SHA1 of its weights, so features of another network
(a retrained MNIST classifier) are never mixed in; the Inception extractor's key also carries
its resize mode and preprocessing version (``tf-inception-2015-12-05-legacy_tensorflow-pp2-…``),
so each ``eval.resize`` mode has its own file. On load, the stored protocol is compared with
the one the current extractor records; a file that differs (or cannot be read) is rebuilt. When ``n`` is smaller than the split, the
reference subset is the first ``n`` entries of ``torch.randperm`` under ``seed``; when it covers
the split, the whole split is used in its order and the seed plays no part.

On top of the features, :func:`reference_statistics` keeps, per (file, device), what every
evaluation of a protocol reuses (issue 16 item 3): the features on the evaluation device (KID),
their float64 mean and covariance and the covariance's square root R = Σ^{1/2} from its
eigendecomposition (the Fréchet distance, :mod:`ganbench.metrics.frechet`). They are built once
per process and protocol (:data:`STATS_BUILT` counts the builds) instead of at every evaluation.
"""

from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.metrics.features import Extractor
from ganbench.paths import atomic_write_bytes, cache_dir

log = logging.getLogger(__name__)

_memory: dict[str, tuple[dict[str, np.ndarray], dict[str, Any]]] = {}
_stats: dict[tuple[str, str, str, str], "ReferenceStats"] = {}
#: how many times reference statistics were built (not found in the cache), for tests
STATS_BUILT = {"count": 0}


@dataclass
class ReferenceStats:
    """Reference-side quantities on one device, built once per protocol (float64 but features)."""

    features: torch.Tensor  # N×d float32
    mu: torch.Tensor
    sigma: torch.Tensor
    root: torch.Tensor  # Σ^{1/2}
    protocol: dict[str, Any]

    @property
    def n(self) -> int:
        return int(self.features.shape[0])


def reference_indices(split_size: int, n: int, seed: int) -> torch.Tensor | None:
    """Indices of the seeded reference subset, or None for the whole split."""
    if n >= split_size:
        return None
    return torch.randperm(split_size, generator=torch.Generator().manual_seed(seed))[:n]


def reference_path(dataset: str, split: str, extractor: Extractor, n: int, seed: int,
                   split_size: int) -> Path:
    draw = "all" if n >= split_size else f"seed{seed}"
    return cache_dir() / "refstats" / f"{dataset}-{split}-{extractor.key}-n{min(n, split_size)}-{draw}.npz"


def reference_outputs(extractor: Extractor, dataset: str, split: str, n: int, seed: int = 0,
                      device: torch.device | str = "cpu") -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The extractor's outputs on ``n`` real images of ``dataset``/``split`` and their protocol."""
    from ganbench.data.base import load_dataset

    x, _ = load_dataset(dataset, split, "cpu")
    path = reference_path(dataset, split, extractor, n, seed, len(x))
    if str(path) in _memory:
        return _memory[str(path)]
    idx = reference_indices(len(x), n, seed)
    expected = {
        "dataset": dataset,
        "split": split,
        "n_ref": int(len(x) if idx is None else len(idx)),
        "ref_subset": "all" if idx is None else f"randperm seed {seed}",
        **extractor.protocol(),
    }
    cached = _read_cached(path, expected)
    if cached is not None:
        outputs, protocol = cached
    else:
        images = x if idx is None else x[idx]
        start = time.perf_counter()
        outputs = extractor.extract(images, device)
        seconds = time.perf_counter() - start
        protocol = expected
        log.info("reference features %s: %d images in %.1f s", path.name, len(images), seconds)
        buf = io.BytesIO()
        np.savez(buf, protocol_json=np.array(json.dumps(protocol, sort_keys=True)), **outputs)
        atomic_write_bytes(path, buf.getvalue())
    _memory[str(path)] = (outputs, protocol)
    return outputs, protocol


def _read_cached(path: Path, expected: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """The cached outputs and protocol at ``path``, or None when absent, unreadable or stale.

    Stale: the stored protocol differs from the one the current extractor would record (another
    resize mode, preprocessing version, weights, subset...), e.g. a file written by an older
    ganbench under the same name; it is then rebuilt, never silently reused.
    """
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as blob:
            outputs = {k: blob[k] for k in blob.files if k != "protocol_json"}
            protocol = json.loads(str(blob["protocol_json"]))
    except (OSError, ValueError, KeyError) as exc:
        log.warning("reference features %s are unreadable (%s); rebuilding them", path.name, exc)
        return None
    stored = json.loads(json.dumps(protocol, sort_keys=True))
    wanted = json.loads(json.dumps(expected, sort_keys=True))
    if stored != wanted:
        changed = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
        log.warning("reference features %s were computed under another protocol (%s differ); "
                    "rebuilding them", path.name, ", ".join(changed))
        return None
    return outputs, protocol


def clear_memory_cache() -> None:
    """Forget the in-process copies (the files stay)."""
    _memory.clear()
    _stats.clear()


def _eval_device(device: torch.device | str) -> torch.device:
    device = torch.device(device)
    if device.type == "cpu" and torch.cuda.is_available():  # the driver's context says CPU
        return torch.device("cuda")
    return device


def reference_statistics(extractor: Extractor, ctx, output: str = "features") -> ReferenceStats:
    """The cached :class:`ReferenceStats` of ``ctx``'s reference under ``extractor`` on the
    evaluation device (its features from :func:`reference_outputs`)."""
    from ganbench.metrics.frechet import psd_sqrt, torch_feature_stats

    device = _eval_device(ctx.device)
    outputs, protocol = reference_outputs(extractor, ctx.dataset.name, ctx.reference,
                                          ctx.reference_size, ctx.seed, device)
    key = (extractor.key, json.dumps(protocol, sort_keys=True), output, str(device))
    hit = _stats.get(key)
    if hit is not None:
        return hit
    features = torch.from_numpy(np.ascontiguousarray(outputs[output])).to(device)
    mu, sigma = torch_feature_stats(features, device)
    _stats[key] = ReferenceStats(features, mu, sigma, psd_sqrt(sigma), protocol)
    STATS_BUILT["count"] += 1
    return _stats[key]


def prepare_reference(extractor: Extractor, ctx) -> None:
    """Build (or find) the reference features that :func:`paired_outputs` will read for ctx.

    Runs on the GPU when there is one even if ``ctx.device`` says CPU (the driver's context
    carries no device); the features do not depend on it beyond float round-off.
    """
    device = ctx.device
    if torch.device(device).type == "cpu" and torch.cuda.is_available():
        device = torch.device("cuda")
    reference_outputs(extractor, ctx.dataset.name, ctx.reference, ctx.reference_size, ctx.seed, device)


def paired_outputs(extractor: Extractor, fake: torch.Tensor, ctx) -> tuple[
        dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any]]:
    """Extractor outputs on the generated samples (shared within an evaluation) and on the
    reference (``ctx.reference_size`` real images of ``ctx.reference``: ``eval.num_reference``,
    by default ``eval.num_samples``), plus the joint protocol."""
    from ganbench.metrics.features import extract_shared

    fake_out = extract_shared(extractor, fake, ctx.device)
    ref_out, ref_protocol = reference_outputs(extractor, ctx.dataset.name, ctx.reference,
                                              ctx.reference_size, ctx.seed, ctx.device)
    return fake_out, ref_out, {"n_gen": int(len(fake)), **ref_protocol}
