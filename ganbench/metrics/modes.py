"""Mode coverage of 2D Gaussian mixtures: the VEEGAN/PacGAN protocol.

Srivastava et al. 2017 (VEEGAN, §5.1) and Lin et al. 2018 (PacGAN, §5.1, Table 1; code
fjxmlzn/PacGAN ``synthetic_data_experiments/PacGAN/pacgan/extensions.py``, ``MetricLogger``):
each generated point is assigned to its nearest mode centre (all modes share one σ, so the
std-normalised distance ranks like the Euclidean one) and is *high quality* (HQ) when that
distance is below 3σ. The dataset supplies the centres and σ (``info.extras``).

- ``modes_covered`` (higher is better): modes with at least one HQ sample.
- ``modes_hq`` (higher is better): fraction of all samples that are HQ.
- ``modes_kl`` (lower is better): the reverse KL, KL(q ‖ uniform) = Σ_k q_k log(K q_k), of the
  histogram q of HQ samples over the K modes. Empty modes contribute 0·log 0 = 0, so no epsilon
  is needed; dropped modes still raise it because the mass moves to the remaining ones (all mass
  on one mode gives log K). With no HQ sample at all q is undefined and we report log K, the
  value of total collapse. PacGAN's 2D code logs a JSD to uniform (and the entropy) instead,
  so the histogram behind its Table 1 "reverse KL" is not in the code; its Stacked-MNIST code
  (``VEEGAN_experiment/model.py``) computes KL(generated ‖ uniform), the direction used here,
  and the only one finite when modes are dropped. Compare ``modes_kl`` with the paper's as
  indicative only.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ganbench.metrics.base import HIGHER, LOWER, EvalContext, Metric
from ganbench.registry import METRICS

HQ_SIGMAS = 3.0


def mode_scores(points, centres, std: float) -> tuple[dict[str, float], np.ndarray]:
    """Values of the metric and the per-mode HQ counts for N×2 ``points``."""
    x = torch.as_tensor(np.asarray(points), dtype=torch.float64)
    c = torch.as_tensor(np.asarray(centres), dtype=torch.float64)
    k = c.shape[0]
    dist, nearest = torch.cdist(x, c).min(dim=1)
    hq = dist < HQ_SIGMAS * std
    counts = torch.bincount(nearest[hq], minlength=k).numpy()
    total = counts.sum()
    if total:
        q = counts / total
        nz = q > 0
        kl = float(np.sum(q[nz] * np.log(q[nz] * k)))
    else:
        kl = math.log(k)
    values = {
        "modes_covered": float((counts > 0).sum()),
        "modes_hq": float(hq.double().mean().item()) if len(x) else 0.0,
        "modes_kl": kl,
    }
    return values, counts


@METRICS.register("modes")
class Modes(Metric):
    name = "modes"
    outputs = {"modes_covered": HIGHER, "modes_hq": HIGHER, "modes_kl": LOWER}
    kinds = frozenset({"points"})
    summary = "VEEGAN/PacGAN modes: covered (>= 1 sample within 3 sigma), HQ fraction, KL(q || uniform)"

    def compute(self, fake, ctx: EvalContext):
        extras = ctx.dataset.extras
        values, counts = mode_scores(fake.detach().cpu(), extras["centres"], float(extras["std"]))
        return values, {"n_gen": int(len(fake)), "num_modes": len(counts), "std": float(extras["std"]),
                        "hq_threshold": f"< {HQ_SIGMAS:g} std from the nearest centre",
                        "hq_counts": counts.tolist()}
