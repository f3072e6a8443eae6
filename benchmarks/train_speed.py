"""Seconds per training iteration of every registered method, as JSON.

    python benchmarks/train_speed.py [--dataset mnist] [--width 16] [--iters 20] [--threads 1]

Uses random data of the dataset's shape (no download); sizes the quick profiles.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from ganbench.registry import DATASETS, METHODS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--methods", default="")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    info = DATASETS.get(args.dataset).info
    data = torch.rand(4096, *info.shape, device=device) * 2 - 1
    out = {"device": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu",
           "threads": args.threads, "dataset": args.dataset, "width": args.width, "batch": args.batch,
           "seconds_per_iteration": {}}
    names = args.methods.split(",") if args.methods else METHODS.names()
    for name in names:
        cls = METHODS.get(name)
        try:
            params = cls.Params(**cls.resolve_params({"width": args.width}, info))
        except Exception as exc:  # a method that does not take these settings
            out["seconds_per_iteration"][name] = f"skipped: {exc}"
            continue
        method = cls(params, info, device)
        if hasattr(method, "iteration"):
            method.iteration = 1001  # past WGAN's critic warm-up, so numbers are steady-state

        def next_real():
            return data[torch.randint(len(data), (args.batch,), device=device)]

        method.step(next_real)
        start = time.perf_counter()
        for _ in range(args.iters):
            method.step(next_real)
        if device == "cuda":
            torch.cuda.synchronize()
        out["seconds_per_iteration"][name] = round((time.perf_counter() - start) / args.iters, 5)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
