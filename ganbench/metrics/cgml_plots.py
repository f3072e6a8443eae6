"""Sample artefacts for conditional datasets (for ``trial._save_samples``; no metric here).

``rows`` are generated rows in the conditional layout of :mod:`ganbench.data.conditional`
(condition first, then the output), as :meth:`ganbench.methods.cgml.CGML.sample` returns
them: consecutive rows share a condition (k latent starts each).
- images (mnist_bar): ``samples.png``, one line per condition: the condition, then its k
  outputs (up to 8 conditions);
- vectors (toy3d): ``conditional_samples.npy`` (condition and output per row) and ``samples.png``, each output coordinate
  against the scalar condition, with the true modes of the dataset drawn as lines.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from ganbench.data.base import DatasetInfo
from ganbench.data.conditional import get_conditional, split_pair
from ganbench.paths import atomic_write_bytes


def consecutive_groups(cond: torch.Tensor) -> list[tuple[int, int]]:
    """[(start, stop)] of runs of identical consecutive conditions."""
    flat = cond.reshape(cond.shape[0], -1)
    bounds = [0]
    for i in range(1, flat.shape[0]):
        if not torch.equal(flat[i], flat[i - 1]):
            bounds.append(i)
    bounds.append(flat.shape[0])
    return list(zip(bounds[:-1], bounds[1:]))


def save_conditional_samples(folder: Path, rows: torch.Tensor, info: DatasetInfo,
                             max_conditions: int = 8) -> list[Path]:
    """Write the artefacts (atomically: a half-written file is never read) and return their paths."""
    folder = Path(folder)
    rows = rows.detach().float().cpu()
    cond, out = split_pair(rows, info)
    png = folder / "samples.png"
    if len(info.shape) == 3:
        from torchvision.utils import save_image

        groups = consecutive_groups(cond)[:max_conditions]
        k = max(b - a for a, b in groups)
        blank = -torch.ones(info.shape)
        tiles = []
        for a, b in groups:
            tiles += [cond[a], *out[a:b], *([blank] * (k - (b - a)))]
        buf = io.BytesIO()
        save_image(torch.stack(tiles), buf, format="png", nrow=k + 1, normalize=True, value_range=(-1, 1),
                   pad_value=0.5)
        atomic_write_bytes(png, buf.getvalue())
        return [png]

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    npy = io.BytesIO()
    np.save(npy, rows.numpy().astype(np.float32))
    atomic_write_bytes(folder / "conditional_samples.npy", npy.getvalue())
    x = cond.reshape(cond.shape[0], -1)[:, 0]
    dims = out.shape[1]
    fig, axes = plt.subplots(1, dims, figsize=(3.2 * dims, 3), squeeze=False)
    grid = torch.linspace(float(x.min()), float(x.max()), 200).reshape(-1, *cond.shape[1:])
    try:
        modes = get_conditional(info.name).true_modes(grid)
    except (TypeError, KeyError):
        modes = None
    for j, ax in enumerate(axes[0]):
        ax.scatter(x.numpy(), out[:, j].numpy(), s=3, alpha=0.5)
        if modes is not None:
            for m in range(modes.shape[1]):
                ax.plot(grid.reshape(-1).numpy(), modes[:, m, j].numpy(), lw=0.8, color="k")
        ax.set_xlabel("condition")
        ax.set_ylabel(f"output {j + 1}")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(png, buf.getvalue())
    return [png, folder / "conditional_samples.npy"]
