"""Real-vs-real floors of ganbench's metrics on every dataset that can be loaded, each timed
(a floor belongs next to every number; issue 4: FID, KID, P/R, D/C, FCD,
classifier IS; issue 12: every dataset, both FID resize modes).

Prints one JSON object: per dataset, per group, each metric's values, protocol and seconds, plus
the device. Real images of one split stand in for the generated samples, the train split is the
reference:

- the "generated" side is the test split, or, for a dataset without one, a train subset disjoint
  from the reference subset;
- classifier features (ganbench's shipped classifier of that dataset, whose SHA1 and source each
  protocol records: mnist 60c73877…, fashion_mnist da0a05fe…), n =
  ``--n-ref`` (10k): ``fcd``, ``cis`` (the real data's classifier IS, the ceiling), ``classes``,
  ``prdc_mnist`` where it applies, and a train-vs-disjoint-train ``fcd``/``cis`` (the sampling
  floor) — on the CPU;
- Inception features (TF-Inception 2015-12-05) with ``--inception`` or when CUDA is available:
  ``fid``, ``kid``, ``prdc`` on ``--n-inception`` images vs as many train images (default 10k on
  CUDA, 100 on CPU, where the network runs at a few images per second), once per resize mode
  (``clean`` and ``legacy_tensorflow``, :mod:`ganbench.metrics.inception`), so the two protocols'
  floors sit side by side.

Datasets: ``--datasets`` (default: mnist, fashion_mnist, cifar10, stl10, stl10_32, celeba64); one
that cannot be loaded here (no cache, no local copy, no download) is listed under ``skipped``
with the one-line reason, and the others still run.

Timing: before a group, the reference side (weights, reference features/statistics) is prepared
once and timed as ``prepare_s``; then each metric is computed alone and its ``seconds`` include
extracting the generated side's features (so fid, kid and prdc each pay for one Inception pass).

Measured with the shipped classifiers (CPU, n = 10k, seed 0; Dec 2026):
  mnist          FCD test-vs-train 2.49, train-vs-disjoint-train 1.68; cIS test 9.68, train 9.70
  fashion_mnist  FCD test-vs-train 0.49, train-vs-disjoint-train 0.65; cIS test 7.92, train 7.98

Usage: python benchmarks/mnist_floors.py [--datasets mnist,fashion_mnist] [--n-ref 10000]
       [--inception] [--n-inception N] [--resize clean,legacy_tensorflow] [--device cpu|cuda]
       [--seed 0] [--out floors.json]
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
from ganbench.errors import GanbenchError
from ganbench.metrics.base import EvalContext
from ganbench.metrics.evaluate import compute_metrics
from ganbench.metrics.inception import RESIZE_MODES
from ganbench.metrics.reference import reference_indices
from ganbench.registry import METRICS, load_builtins

DEFAULT_DATASETS = ("mnist", "fashion_mnist", "cifar10", "stl10", "stl10_32", "celeba64")
CLASSIFIER_METRICS = ("fcd", "cis", "classes", "prdc_mnist")
INCEPTION_METRICS = ("fid", "kid", "prdc")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, {os.cpu_count()} cores"


def timed(out: dict, label: str, dataset: str, fake: torch.Tensor, metric: str, **kwargs) -> None:
    start = time.perf_counter()
    values, protocols = compute_metrics(fake, dataset, [metric], **kwargs)
    seconds = time.perf_counter() - start
    out.setdefault(label, {})[metric] = {"values": values, "seconds": round(seconds, 2),
                                         "protocol": protocols[metric]}
    print(f"{dataset} {label} {metric}: {values} ({seconds:.1f} s)", file=sys.stderr)


def prepare(out: dict, label: str, dataset: str, metrics: list[str], n: int, device, seed: int,
            resize: str = "clean") -> None:
    """Weights and reference features of ``metrics`` (cached on disk), timed once per group."""
    ctx = EvalContext(get_dataset(dataset).info, "train", n, device=device, seed=seed, resize=resize)
    start = time.perf_counter()
    for metric in metrics:
        METRICS.get(metric)().prepare(ctx)
    out.setdefault(label, {})["prepare_s"] = round(time.perf_counter() - start, 2)


def _fake_side(dataset: str, train_x: torch.Tensor, n: int, seed: int) -> tuple[torch.Tensor, str]:
    """The stand-in for generated samples: the test split, else a disjoint train subset."""
    if "test" in get_dataset(dataset).info.splits:
        return load_dataset(dataset, "test")[0], "test"
    return _disjoint(train_x, n, seed), "train (disjoint from the reference subset)"


def _disjoint(train_x: torch.Tensor, n: int, seed: int) -> torch.Tensor | None:
    """``n`` train images outside the seeded reference subset of size ``n`` (None if too few)."""
    idx = reference_indices(len(train_x), 2 * n, seed=seed + 1)
    ref_idx = reference_indices(len(train_x), n, seed=seed)
    if idx is None or ref_idx is None:
        return None
    other = idx[~torch.isin(idx, ref_idx)][:n]
    return train_x[other] if len(other) == n else None


def dataset_floors(dataset: str, args, device: torch.device) -> dict:
    out: dict = {}
    train_x, _ = load_dataset(dataset, "train")
    fake, fake_split = _fake_side(dataset, train_x, args.n_ref, args.seed)
    info = get_dataset(dataset).info
    out.update({"n_train": len(train_x), "generated_stand_in": fake_split, "n_generated_side": len(fake)})
    common = dict(device=device, reference_seed=args.seed)

    classifier = [m for m in CLASSIFIER_METRICS if METRICS.get(m).applies_to(info)]
    if classifier:
        out["n_ref"] = args.n_ref
        label = f"classifier_{fake_split.split()[0]}_vs_train"
        prepare(out, label, dataset, classifier, args.n_ref, device, args.seed)
        for metric in classifier:
            timed(out, label, dataset, fake[: args.n_ref], metric, num_samples=args.n_ref, reference="train",
                  **common)
        other = _disjoint(train_x, args.n_ref, args.seed)
        if other is not None:
            for metric in ("fcd", "cis"):
                if metric in classifier:
                    timed(out, "classifier_train_vs_train", dataset, other, metric, num_samples=args.n_ref,
                          reference="train", **common)

    if args.inception or device.type == "cuda":
        n = args.n_inception or (10_000 if device.type == "cuda" else 100)
        n = min(n, len(fake))
        out["n_inception"] = n
        for mode in args.resize:
            label = f"inception_{fake_split.split()[0]}_vs_train_{mode}"
            prepare(out, label, dataset, list(INCEPTION_METRICS), n, device, args.seed, mode)
            for metric in INCEPTION_METRICS:
                timed(out, label, dataset, fake[:n], metric, num_samples=n, reference="train", resize=mode,
                      **common)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DEFAULT_DATASETS),
                        help="comma-separated; those that cannot be loaded are skipped")
    parser.add_argument("--n-ref", type=int, default=10_000, help="train subset size for the classifier metrics")
    parser.add_argument("--inception", action="store_true", help="also FID/KID/PRDC (default only on CUDA)")
    parser.add_argument("--n-inception", type=int, default=None, help="images per side for FID/KID/PRDC")
    parser.add_argument("--resize", default=",".join(RESIZE_MODES), help="resize modes of the Inception metrics")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train-subset draws")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    args.resize = [m for m in args.resize.split(",") if m]
    unknown = [m for m in args.resize if m not in RESIZE_MODES]
    if unknown:
        parser.error(f"--resize: unknown mode(s) {', '.join(unknown)} (use {', '.join(RESIZE_MODES)})")
    device = torch.device(args.device)
    load_builtins()

    results: dict = {"device": device_name(device), "torch": torch.__version__, "seed": args.seed,
                     "datasets": {}, "skipped": {}}
    for dataset in [d for d in args.datasets.split(",") if d]:
        try:
            get_dataset(dataset)
            load_dataset(dataset, "train")
        except GanbenchError as exc:
            results["skipped"][dataset] = str(exc).splitlines()[0]
            print(f"{dataset}: skipped ({results['skipped'][dataset]})", file=sys.stderr)
            continue
        results["datasets"][dataset] = dataset_floors(dataset, args, device)

    text = json.dumps(results, indent=2, sort_keys=True)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    return results


if __name__ == "__main__":
    main()
