"""Floors and timings of the issue-4 metrics (prdc_mnist, prdc algebra, stacked_modes).

    python benchmarks/eval_metrics.py [--n 1000] [--prdc-n 10000] [--stacked-n 25600]

Prints one JSON object (human-readable lines go to stderr), for real data against real data (the floor any generator is compared with):
- prdc_mnist: MNIST train images (n, seeded subset) vs the test reference (n), values and time;
- the PRDC algebra alone on n×2048 random float32 features (the Inception-sized case), time;
- stacked_modes on n real Stacked-MNIST train images, values and time;
- memorization (C_T, authenticity) on n MNIST test images outside the test reference, one torch
  thread: a fresh call (reference features of the 60k train split, k-means), the same call again
  (what every later evaluation of a trial pays) and a call on other images (new training radii).
Reference features go to a temporary cache so the real one is untouched.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--prdc-n", type=int, default=10000)
    ap.add_argument("--stacked-n", type=int, default=25600)
    ap.add_argument("--memorization-n", type=int, default=1000)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()

    from ganbench.data.base import load_dataset
    from ganbench.metrics import reference
    from ganbench.metrics.evaluate import compute_metrics
    from ganbench.metrics.mnist_classifier import load_classifier
    from ganbench.metrics.prdc import prdc_from_features

    tmp = Path(tempfile.mkdtemp())
    reference.cache_dir = lambda: tmp
    load_classifier("mnist")
    out: dict = {"device": args.device, "torch_threads": torch.get_num_threads()}

    x, _ = load_dataset("mnist", "train")
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(1))[: args.n]
    start = time.perf_counter()
    values, proto = compute_metrics(x[idx], "mnist", ["prdc_mnist"], reference="test", device=args.device)
    first = time.perf_counter() - start
    start = time.perf_counter()
    compute_metrics(x[idx], "mnist", ["prdc_mnist"], reference="test", device=args.device)
    again = time.perf_counter() - start
    out["prdc_mnist_train_vs_test"] = {"n": args.n, "values": values, "seconds_first": round(first, 2),
                                       "seconds_cached_reference": round(again, 2)}

    rng = np.random.default_rng(0)
    a = rng.standard_normal((args.prdc_n, 2048)).astype(np.float32)
    b = (rng.standard_normal((args.prdc_n, 2048)) * 1.05 + 0.02).astype(np.float32)
    start = time.perf_counter()
    v = prdc_from_features(a, b, device=args.device)
    out["prdc_algebra_2048d"] = {"n": args.prdc_n, "values": v, "seconds": round(time.perf_counter() - start, 2)}

    del x
    if args.stacked_n:
        xs, _ = load_dataset("stacked_mnist", "train")
        start = time.perf_counter()
        values, _ = compute_metrics(xs[: args.stacked_n], "stacked_mnist", ["stacked_modes"], device=args.device)
        out["stacked_modes_train"] = {"n": args.stacked_n, "values": values,
                                      "seconds": round(time.perf_counter() - start, 2)}
    if args.memorization_n:
        out["memorization_mnist"] = memorization_timing(args.memorization_n)
    print(json.dumps(out, indent=2, sort_keys=True))


def memorization_timing(n: int) -> dict:
    """Seconds of compute_metrics(["memorization"]) on one thread: fresh, again, other samples."""
    from ganbench.data.base import load_dataset
    from ganbench.metrics.evaluate import compute_metrics

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x, _ = load_dataset("mnist", "test")
        rest = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[n:]  # not the reference
        res: dict = {"n": n, "torch_threads": 1}
        for label, fake in [("seconds_first", x[rest[:n]]), ("seconds_again", x[rest[:n]]),
                            ("seconds_other_samples", x[rest[n : 2 * n]])]:
            start = time.perf_counter()
            values, _ = compute_metrics(fake, "mnist", ["memorization"], num_samples=n, reference="test")
            res[label] = round(time.perf_counter() - start, 2)
            res.setdefault("values", values)
        return res
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    main()
