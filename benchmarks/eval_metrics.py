"""Floors and timings of the issue-4 metrics (prdc_mnist, prdc algebra, stacked_modes).

    python benchmarks/eval_metrics.py [--n 1000] [--prdc-n 10000] [--stacked-n 25600]

Prints, for real data against real data (the floor any generator is compared with):
- prdc_mnist: MNIST train images (n, seeded subset) vs the test reference (n), values and time;
- the PRDC algebra alone on n×2048 random float32 features (the Inception-sized case), time;
- stacked_modes on n real Stacked-MNIST train images, values and time.
Reference features go to a temporary cache so the real one is untouched.
"""

from __future__ import annotations

import argparse
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
    print(f"device {args.device}, torch threads {torch.get_num_threads()}")

    x, _ = load_dataset("mnist", "train")
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(1))[: args.n]
    start = time.perf_counter()
    values, proto = compute_metrics(x[idx], "mnist", ["prdc_mnist"], reference="test", device=args.device)
    first = time.perf_counter() - start
    start = time.perf_counter()
    compute_metrics(x[idx], "mnist", ["prdc_mnist"], reference="test", device=args.device)
    again = time.perf_counter() - start
    print(f"prdc_mnist, MNIST train vs test, n_gen = n_ref = {args.n}: "
          + ", ".join(f"{k} {v:.4f}" for k, v in values.items())
          + f"; {first:.2f} s with reference features, {again:.2f} s with them cached")

    rng = np.random.default_rng(0)
    a = rng.standard_normal((args.prdc_n, 2048)).astype(np.float32)
    b = (rng.standard_normal((args.prdc_n, 2048)) * 1.05 + 0.02).astype(np.float32)
    start = time.perf_counter()
    v = prdc_from_features(a, b, device=args.device)
    print(f"prdc algebra, {args.prdc_n}x2048 vs {args.prdc_n}x2048 on {args.device}: "
          f"{time.perf_counter() - start:.1f} s ({', '.join(f'{k} {val:.3f}' for k, val in v.items())})")

    del x
    if args.stacked_n:
        xs, _ = load_dataset("stacked_mnist", "train")
        start = time.perf_counter()
        values, _ = compute_metrics(xs[: args.stacked_n], "stacked_mnist", ["stacked_modes"], device=args.device)
        print(f"stacked_modes on {args.stacked_n} real Stacked-MNIST train images: "
              f"covered {values['stacked_modes_covered']:.0f}, KL {values['stacked_kl']:.4f}; "
              f"{time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
