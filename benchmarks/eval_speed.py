"""One evaluation on a CPU, the route before issue 16 and the route now, in the same run (JSON).

    python benchmarks/eval_speed.py [--n-fcd 10000] [--n-inception 1000] [--threads 1]

The evaluation: ``fcd`` on ``--n-fcd`` generated MNIST images (an untrained DCGAN ``gan``: the
cost does not depend on the weights) and ``fid`` + ``kid`` on the first ``--n-inception`` of
them, against the MNIST test reference of the same sizes. The reference *features* are
extracted once beforehand (both routes read them from the cache, as every evaluation after a
trial's first does; ``prepare_s``). Timed per route, same samples:

- ``old`` (ganbench before issue 16): Inception pixels copied to the CPU and resized one image
  at a time with clean-fid's PIL resizer, network batches of 50; the reference mean and
  covariance rebuilt in NumPy at every evaluation; SciPy ``sqrtm`` of the product (FID, FCD);
  KID's 100 kernel subsets in float64 NumPy;
- ``new``: :func:`ganbench.metrics.evaluate.compute_metrics` as it is now (matrix resize on the
  device, cached reference statistics, eigendecomposition Fréchet distance, torch KID).

Both routes' values are printed too (they agree to float round-off: FID/FCD to ~1e-6 relative,
KID exactly up to summation order; the resize differs by <1e-4 of a pixel level). Each phase
has its wall seconds, this process's CPU seconds (``*_cpu_s``: with one torch thread, the work
done, far less sensitive than wall time to a shared machine's load) and the 1-minute load
average at its end (``*_load1``); ``speedup`` compares wall times, ``speedup_cpu_time`` CPU times.
``--cache-dir`` keeps the reference features between runs (``prepare`` is then a read).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def old_inception_features(images: torch.Tensor) -> np.ndarray:
    from ganbench.metrics.inception import FEATURE_DIM, clean_resize, load_inception, to_pixels

    net = load_inception("cpu")
    feats = []
    with torch.no_grad():
        for i in range(0, len(images), 50):
            x = clean_resize(to_pixels(images[i:i + 50]))
            feats.append(net((x - 128.0) / 128.0).reshape(-1, FEATURE_DIM).float().numpy())
    return np.concatenate(feats)


def old_kid(f1: np.ndarray, f2: np.ndarray, seed: int = 0) -> float:
    from ganbench.metrics.kid import MAX_SUBSET_SIZE, NUM_SUBSETS, mmd2_unbiased

    f1, f2 = f1.astype(np.float64), f2.astype(np.float64)
    m = min(len(f1), len(f2), MAX_SUBSET_SIZE)
    rng = np.random.RandomState(seed)
    values = [mmd2_unbiased(f1[rng.choice(len(f1), m, replace=False)], f2[rng.choice(len(f2), m, replace=False)])
              for _ in range(NUM_SUBSETS)]
    return float(np.mean(values))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-fcd", type=int, default=10000)
    ap.add_argument("--n-inception", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache-dir", default=None,
                    help="reference-feature cache to use (and keep); default: a fresh temporary folder")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    from ganbench.data.base import get_dataset
    from ganbench.metrics import reference
    from ganbench.metrics.base import EvalContext
    from ganbench.metrics.evaluate import compute_metrics, draw_samples
    from ganbench.metrics.frechet import feature_stats, frechet_distance_sqrtm
    from ganbench.metrics.inception import InceptionExtractor
    from ganbench.metrics.mnist_classifier import ClassifierExtractor
    from ganbench.registry import METHODS

    tmp = Path(args.cache_dir) if args.cache_dir else Path(tempfile.mkdtemp(prefix="ganbench-eval-speed-"))
    reference.cache_dir = lambda: tmp
    info = get_dataset("mnist").info
    cls = METHODS.get("gan")
    torch.manual_seed(0)
    method = cls(cls.Params(**cls.resolve_params({}, info)), info, "cpu")
    fake = draw_samples(method.sample, args.n_fcd, "cpu", 0)
    fake_i = fake[: args.n_inception]
    out: dict = {"device": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
                 "torch_threads": args.threads, "n_fcd": args.n_fcd, "n_inception": args.n_inception,
                 "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}

    @contextlib.contextmanager
    def timed(record: dict, name: str):
        """Wall seconds and this process's CPU seconds (less sensitive to a shared machine's
        load: with one torch thread it is the work done), and the 1-min load at the end."""
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        record[f"{name}_s"] = round(time.perf_counter() - wall, 2)
        record[f"{name}_cpu_s"] = round(time.process_time() - cpu, 2)
        record[f"{name}_load1"] = round(os.getloadavg()[0], 2)

    with timed(out, "prepare"):
        clf_ref, _ = reference.reference_outputs(ClassifierExtractor("mnist"), "mnist", "test", args.n_fcd, 0)
        inc_ref, _ = reference.reference_outputs(InceptionExtractor(), "mnist", "test", args.n_inception, 0)

    # -- old route ------------------------------------------------------------------------------
    old: dict = {}
    with timed(old, "fcd"):
        f = ClassifierExtractor("mnist").extract(fake, "cpu")["features"]
        old["fcd"] = frechet_distance_sqrtm(*feature_stats(f), *feature_stats(clf_ref["features"]))
    with timed(old, "inception_features"):
        fi = old_inception_features(fake_i)
    with timed(old, "fid_statistics"):
        old["fid"] = frechet_distance_sqrtm(*feature_stats(fi), *feature_stats(inc_ref["features"]))
    with timed(old, "kid"):
        old["kid"] = old_kid(fi, inc_ref["features"])
    parts = ("fcd", "inception_features", "fid_statistics", "kid")

    # -- new route ------------------------------------------------------------------------------
    new: dict = {}
    with timed(new, "fcd"):
        values, _ = compute_metrics(fake, "mnist", ["fcd"], reference="test", device="cpu")
    new["fcd"] = values["fcd"]
    # the reference's mean, covariance and root: built once per protocol (a trial's first
    # evaluation), then read from memory at every later one, which is what is timed below
    with timed(new, "reference_statistics_once"):
        ctx = EvalContext(dataset=info, reference="test", num_samples=args.n_inception, device=torch.device("cpu"))
        reference.reference_statistics(InceptionExtractor(), ctx)
    with timed(new, "fid_kid"):
        values, _ = compute_metrics(fake_i, "mnist", ["fid", "kid"], reference="test", device="cpu")
    new["fid"], new["kid"] = values["fid"], values["kid"]

    for suffix in ("s", "cpu_s"):
        old[f"total_{suffix}"] = round(sum(old[f"{p}_{suffix}"] for p in parts), 2)
        new[f"total_{suffix}"] = round(new[f"fcd_{suffix}"] + new[f"fid_kid_{suffix}"], 2)
    out["old"], out["new"] = old, new
    out["load_average_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    out["speedup"] = round(old["total_s"] / new["total_s"], 2)
    out["speedup_cpu_time"] = round(old["total_cpu_s"] / new["total_cpu_s"], 2)
    out["relative_differences"] = {k: abs(new[k] - old[k]) / abs(old[k]) for k in ("fcd", "fid", "kid")}
    print(json.dumps(out, indent=2, sort_keys=True))
    return out


if __name__ == "__main__":
    main()
