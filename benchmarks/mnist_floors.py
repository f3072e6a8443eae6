"""MNIST real-vs-real floors of ganbench's metrics (methods_spec.md §5.7: publish the floor
next to every MNIST number).

Prints one JSON object: for each metric the value, the protocol, and the seconds it took, plus
the device. Real test images stand in for the generated samples:

- ``fcd``: the 10k test set vs a train subset of ``--n-ref`` (the floor a perfect generator
  reaches when evaluated against train), and a train subset vs a disjoint train subset of the
  same size (the pure sampling floor);
- ``cis``: classifier Inception Score of the test set (the ceiling) and of the train subset;
- ``classes``: classes covered and KL to uniform of the test set;
- ``fid``/``kid`` (TF-Inception, clean resize) with ``--inception`` or when CUDA is available:
  ``--n-inception`` test images vs as many train images (default 10k on CUDA, 100 on CPU,
  where the network runs at a few images per second).

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

from ganbench.data.base import load_dataset
from ganbench.metrics.evaluate import compute_metrics
from ganbench.metrics.reference import reference_indices


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, {os.cpu_count()} cores"


def timed(label: str, results: dict, fake: torch.Tensor, metrics: list[str], **kwargs) -> None:
    start = time.perf_counter()
    values, protocols = compute_metrics(fake, "mnist", metrics, **kwargs)
    seconds = time.perf_counter() - start
    results[label] = {"values": values, "seconds": round(seconds, 2), "protocol": protocols}
    print(f"{label}: {values} ({seconds:.1f} s)", file=sys.stderr)


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

    timed("classifier_test_vs_train", results, test_x, ["fcd", "cis", "classes"],
          num_samples=args.n_ref, reference="train", **common)
    if other is not None and len(other) == args.n_ref:
        timed("classifier_train_vs_train", results, train_x[other], ["fcd", "cis"],
              num_samples=args.n_ref, reference="train", **common)

    if args.inception or device.type == "cuda":
        n = args.n_inception or (10_000 if device.type == "cuda" else 100)
        timed("inception_test_vs_train", results, test_x[:n], ["fid", "kid"],
              num_samples=n, reference="train", **common)

    text = json.dumps(results, indent=2, sort_keys=True)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    return results


if __name__ == "__main__":
    main()
