"""MNIST real-vs-real floors of ganbench's metrics, each timed (methods_spec.md §5.7: publish
the floor next to every MNIST number; issue 4: FID, KID, P/R, D/C, FCD, classifier IS).

Prints one JSON object: for each metric its values, protocol and seconds, plus the device. Real
test images stand in for the generated samples, the train split is the reference:

- classifier features (ganbench's MNIST classifier), n = ``--n-ref`` (10k): ``fcd``, ``cis``
  (the test set's classifier IS, the real-data ceiling), ``classes``, ``prdc_mnist``
  (P/R k=3, D/C k=5), and a train-vs-disjoint-train ``fcd``/``cis`` (the pure sampling floor);
- Inception features (TF-Inception 2015-12-05, clean resize) with ``--inception`` or when CUDA
  is available: ``fid``, ``kid``, ``prdc`` on ``--n-inception`` test images vs as many train
  images (default 10k on CUDA, 100 on CPU, where the network runs at a few images per second).

Timing: before a group, the reference side (weights, reference features/statistics) is
prepared once and timed as ``prepare_s``; then each metric is computed alone and its
``seconds`` include extracting the generated side's features (so fid, kid and prdc each pay
for one Inception pass over the n test images).

Usage: python benchmarks/mnist_floors.py [--n-ref 10000] [--inception] [--n-inception N]
       [--device cpu|cuda] [--seed 0] [--out floors.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import torch

from ganbench.data.base import get_dataset, load_dataset
from ganbench.metrics.base import EvalContext
from ganbench.metrics.evaluate import compute_metrics
from ganbench.metrics.reference import reference_indices
from ganbench.registry import METRICS


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, {os.cpu_count()} cores"


def timed(label: str, results: dict, fake: torch.Tensor, metric: str, **kwargs) -> None:
    start = time.perf_counter()
    values, protocols = compute_metrics(fake, "mnist", [metric], **kwargs)
    seconds = time.perf_counter() - start
    results.setdefault(label, {})[metric] = {"values": values, "seconds": round(seconds, 2),
                                             "protocol": protocols[metric]}
    print(f"{label} {metric}: {values} ({seconds:.1f} s)", file=sys.stderr)


def prepare(label: str, results: dict, metrics: list[str], n: int, device, seed: int) -> None:
    """Weights and reference features of ``metrics`` (cached on disk), timed once per group."""
    ctx = EvalContext(get_dataset("mnist").info, "train", n, device=device, seed=seed)
    start = time.perf_counter()
    for metric in metrics:
        METRICS.get(metric)().prepare(ctx)
    results.setdefault(label, {})["prepare_s"] = round(time.perf_counter() - start, 2)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-ref", type=int, default=10_000, help="train subset size for fcd/cis")
    parser.add_argument("--inception", action="store_true", help="also FID/KID (default only on CUDA)")
    parser.add_argument("--n-inception", type=int, default=None, help="images per side for FID/KID")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train-subset draws")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    device = torch.device(args.device)

    test_x, _ = load_dataset("mnist", "test")
    train_x, _ = load_dataset("mnist", "train")
    results: dict = {"device": device_name(device), "torch": torch.__version__,
                     "n_test": len(test_x), "n_ref": args.n_ref, "seed": args.seed}
    common = dict(device=device, reference_seed=args.seed)

    # a disjoint train subset of the same size as the reference subset
    idx = reference_indices(len(train_x), 2 * args.n_ref, seed=args.seed + 1)
    ref_idx = reference_indices(len(train_x), args.n_ref, seed=args.seed)
    other = idx[~torch.isin(idx, ref_idx)][: args.n_ref] if idx is not None else None

    classifier = ["fcd", "cis", "classes", "prdc_mnist"]
    prepare("classifier_test_vs_train", results, classifier, args.n_ref, device, args.seed)
    for metric in classifier:
        timed("classifier_test_vs_train", results, test_x, metric, num_samples=args.n_ref, reference="train",
              **common)
    if other is not None and len(other) == args.n_ref:
        for metric in ("fcd", "cis"):
            timed("classifier_train_vs_train", results, train_x[other], metric, num_samples=args.n_ref,
                  reference="train", **common)

    if args.inception or device.type == "cuda":
        n = args.n_inception or (10_000 if device.type == "cuda" else 100)
        results["n_inception"] = n
        inception_metrics = ["fid", "kid", "prdc"]
        prepare("inception_test_vs_train", results, inception_metrics, n, device, args.seed)
        for metric in inception_metrics:
            timed("inception_test_vs_train", results, test_x[:n], metric, num_samples=n, reference="train",
                  **common)

    text = json.dumps(results, indent=2, sort_keys=True)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    return results


if __name__ == "__main__":
    main()
