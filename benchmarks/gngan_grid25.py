"""GN-GAN on a 2D mixture: where do its samples go, and which change brings them back?

Trains ``gngan`` (and any variants given with ``--variant name:key=value,key=value``) on
``grid25`` or ``ring8`` for ``--iterations`` iterations per seed, then prints one JSON object:
per variant and seed, and as mean and sample standard deviation over the seeds, the mode metric
(modes covered, high-quality fraction, KL; 2,500 samples, 3σ rule) plus the diagnostics behind
the investigation recorded in :mod:`ganbench.methods.gngan`:

- ``off_data``: fraction of G(z) farther than 3σ from every centre (1 − modes_hq);
- ``max_norm``: the largest ‖G(z)‖ (the data lie within ‖x‖ ≤ 5.7 on grid25);
- ``recon_hq``: fraction of reconstructions G(E(x)) within 3σ of a centre;
- ``enc_cover``: fraction of prior samples z whose nearest encoded E(x) (2,500 data points) is
  closer than the typical spacing of 2,500 uniform points in the prior's box, i.e. how much of
  P_z the encoder's image covers;
- ``off_data_near``/``off_data_far``: the off-data fraction among z inside / outside that cover;
- ``d_real``/``d_fake``: mean σ(D) on real points and on G(z) (saturation of V_G's score term).

Usage: python benchmarks/gngan_grid25.py [--dataset grid25] [--iterations 2500] [--seeds 0,1,2]
       [--variant base:] [--variant enc:ne_batch=prior_and_encoded] ...
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time

import torch
import yaml

from ganbench.data.base import get_dataset, load_dataset
from ganbench.metrics.modes import HQ_SIGMAS, mode_scores
from ganbench.registry import METHODS, load_builtins


def parse_variant(text: str) -> tuple[str, dict]:
    name, _, rest = text.partition(":")
    params = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        params[key] = yaml.safe_load(value)
    return name, params


def run_one(method_name: str, params: dict, dataset: str, iterations: int, batch: int, seed: int) -> dict:
    info = get_dataset(dataset).info
    data, _ = load_dataset(dataset, "train")
    cls = METHODS.get(method_name)
    torch.manual_seed(seed)
    method = cls(cls.Params(**cls.resolve_params(params, info)), info, "cpu")
    method.total_iterations = iterations

    def next_real():
        return data[torch.randint(len(data), (batch,))]

    start = time.perf_counter()
    for _ in range(iterations):
        method.step(next_real)
    seconds = time.perf_counter() - start
    gen = torch.Generator().manual_seed(1000 + seed)
    centres = torch.tensor(info.extras["centres"], dtype=torch.float64)
    std = info.extras["std"]
    with torch.no_grad():
        z = method.prior(2500, gen)
        fake = method.G.eval()(z).double()
        values, _ = mode_scores(fake, centres, std)
        out = {**values, "off_data": 1.0 - values["modes_hq"], "max_norm": float(fake.norm(dim=1).max()),
               "seconds": round(seconds, 1)}
        if hasattr(method, "E"):
            x = data[torch.randperm(len(data), generator=gen)[:2500]]
            ze = method.E.eval()(x)
            recon = method.G(ze).double()
            out["recon_hq"] = float((torch.cdist(recon, centres).min(1).values < HQ_SIGMAS * std).double().mean())
            spacing = 2.0 / math.sqrt(len(ze)) * z.shape[1] ** 0.5  # box side 2, d dims
            near = torch.cdist(z, ze).min(1).values < spacing
            off = torch.cdist(fake, centres).min(1).values >= HQ_SIGMAS * std
            out["enc_cover"] = float(near.double().mean())
            out["off_data_near"] = float(off[near].double().mean()) if near.any() else None
            out["off_data_far"] = float(off[~near].double().mean()) if (~near).any() else None
        if hasattr(method, "D"):
            xr = data[torch.randperm(len(data), generator=gen)[:2500]]
            method.D.eval()
            out["d_real"] = float(torch.sigmoid(method.D(xr)).mean())
            out["d_fake"] = float(torch.sigmoid(method.D(fake.float())).mean())
            method.D.train()
        method.G.train()
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="grid25")
    parser.add_argument("--method", default="gngan")
    parser.add_argument("--iterations", type=int, default=2500)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--variant", action="append", default=None, help="name:key=value,... (repeatable)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    load_builtins()
    variants = [parse_variant(v) for v in (args.variant or ["default:"])]
    seeds = [int(s) for s in args.seeds.split(",")]
    result = {"dataset": args.dataset, "method": args.method, "iterations": args.iterations,
              "batch": args.batch, "variants": {}}
    for name, params in variants:
        runs = {}
        for seed in seeds:
            runs[seed] = run_one(args.method, params, args.dataset, args.iterations, args.batch, seed)
            print(name, seed, json.dumps(runs[seed]), file=sys.stderr, flush=True)
        keys = [k for k in runs[seeds[0]] if isinstance(runs[seeds[0]][k], float)]
        mean, std = {}, {}
        for k in keys:
            values = [r[k] for r in runs.values() if r.get(k) is not None]
            mean[k] = statistics.fmean(values)
            std[k] = statistics.stdev(values) if len(values) > 1 else 0.0  # sample std over seeds
        result["variants"][name] = {"params": params, "runs": runs, "mean": mean, "std": std}
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
