"""Mode coverage of a conditional one-to-many generator (cGML evaluation).

Input: generated rows in the conditional layout of :mod:`ganbench.data.conditional`
(N×(C+T): each row the condition it was generated for, then the output). Rows are grouped
by identical condition (so the evaluator may batch and concatenate ``sample`` calls
freely); each group holds the outputs of the several latent starts for that condition.
The true targets of each condition come analytically from the dataset
(:meth:`~ganbench.data.conditional.ConditionalDataset.true_modes`; toy3d: the branches
±(4x, 4x², 4x³); mnist_bar: the digit without and with the bar), so no reference split
is sampled.

Distances are per-element RMSE, d(ŷ, y) = ‖ŷ − y‖₂ / sqrt(T). Each output is assigned to
its nearest true mode; it *reaches* that mode when d ≤ ``mode_tol`` (dataset extras:
toy3d 0.25, mnist_bar 0.12).

Values (direction):
- ``cgml_coverage`` (max): fraction of conditions for which every mode is reached by at
  least one start (conditions with fewer starts than modes are left out).
- ``cgml_mode_err`` (min): mean over conditions and modes of the best-of-k distance to
  that mode, min over starts d(ŷ_s, y_k); it is small only when every mode is produced.
- ``cgml_best_err`` (min): mean over conditions of the best-of-k distance to the nearest
  true target, min over starts and modes.
- ``cgml_hit_rate`` (max): fraction of outputs that reach a mode (quality of every start).
- ``cgml_share_gap`` (min): total-variation distance ½Σ_k |f_k − p_k| between the
  fraction f_k of outputs assigned to mode k and its share p_k in the data (toy3d ½/½,
  mnist_bar 70 % plain / 30 % bar). The f_k and p_k are in the protocol.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ganbench.data.base import DatasetInfo
from ganbench.data.conditional import get_conditional, split_pair
from ganbench.metrics.base import HIGHER, LOWER, EvalContext, Metric
from ganbench.registry import METRICS


def mode_stats(rows: torch.Tensor, info: DatasetInfo, true_modes=None) -> tuple[dict[str, float], dict[str, Any]]:
    """The cgml_modes values and protocol for generated ``rows`` of a conditional dataset.

    ``true_modes(cond) -> m×K×*shape`` defaults to the registered dataset's.
    """
    if true_modes is None:
        true_modes = get_conditional(info.name).true_modes
    extras = info.extras
    names = tuple(extras["mode_names"])
    shares = torch.tensor(extras["mode_shares"], dtype=torch.float64)
    tol = float(extras["mode_tol"])
    k_modes = len(names)

    rows = rows.detach().float().cpu()
    cond, out = split_pair(rows, info)
    n = rows.shape[0]
    uniq, inv = torch.unique(cond.reshape(n, -1), dim=0, return_inverse=True)
    groups = uniq.shape[0]
    modes = true_modes(uniq.reshape(groups, *cond.shape[1:])).float()  # G×K×*shape
    diff = out.reshape(n, 1, -1) - modes.reshape(groups, k_modes, -1)[inv]
    dist = diff.pow(2).mean(dim=2).sqrt()  # N×K per-element RMSE
    d_near, nearest = dist.min(dim=1)
    hit = d_near <= tol

    reached = torch.zeros(groups, k_modes)
    reached.index_put_((inv, nearest), hit.float(), accumulate=True)
    starts = torch.bincount(inv, minlength=groups)
    eligible = starts >= k_modes
    covered = (reached > 0).all(dim=1)

    best = torch.full((groups,), math.inf).scatter_reduce(0, inv, d_near, "amin")
    per_mode = torch.full((groups, k_modes), math.inf)
    per_mode = per_mode.scatter_reduce(0, inv.unsqueeze(1).expand(n, k_modes), dist, "amin")

    frac = torch.bincount(nearest, minlength=k_modes).double() / n
    values = {
        "cgml_coverage": float(covered[eligible].float().mean()) if eligible.any() else 0.0,
        "cgml_mode_err": float(per_mode.mean()),
        "cgml_best_err": float(best.mean()),
        "cgml_hit_rate": float(hit.float().mean()),
        "cgml_share_gap": float(0.5 * (frac - shares).abs().sum()),
    }
    protocol = {
        "n_gen": n, "n_conditions": groups, "n_conditions_scored": int(eligible.sum()),
        "starts_min": int(starts.min()), "starts_max": int(starts.max()),
        "reference": "analytic modes of each condition", "distance": "per-element RMSE",
        "mode_tol": tol,
        **{f"frac_{name}": float(f) for name, f in zip(names, frac)},
        **{f"share_{name}": float(p) for name, p in zip(names, shares)},
    }
    return values, protocol


@METRICS.register("cgml_modes")
class CGMLModes(Metric):
    name = "cgml_modes"
    outputs = {
        "cgml_coverage": HIGHER,
        "cgml_mode_err": LOWER,
        "cgml_best_err": LOWER,
        "cgml_hit_rate": HIGHER,
        "cgml_share_gap": LOWER,
    }
    kinds = frozenset({"conditional"})
    summary = "conditional mode coverage over latent starts, best-of-k error, mode shares"

    def compute(self, fake: torch.Tensor, ctx: EvalContext):
        return mode_stats(fake, ctx.dataset)
