"""CIFAR-10 (Krizhevsky 2009, "Learning Multiple Layers of Features from Tiny Images"): 3×32×32, 10 classes.

The official train (50,000: ``data_batch_1..5``) and test (10,000: ``test_batch``) splits of the
"CIFAR-10 python version" (https://www.cs.toronto.edu/~kriz/cifar.html), the splits SN-GAN
(Miyato et al. 2018), Dist-GAN and the GN-GAN report train on (train) and score FID against.

Each batch is a pickled dict with ``data`` (uint8 10000×3072: 1024 red, then 1024 green, then
1024 blue values, each a 32×32 image in row-major order) and ``labels`` (list of 10000 ints).
So ``data.reshape(-1, 3, 32, 32)`` is already N×C×H×W. The pickles are read with an unpickler
that admits only numpy arrays and plain containers (never arbitrary classes), and each batch
file is checked by torchvision's MD5 (:data:`BATCH_MD5`).

Sources (:class:`~ganbench.data.base.CachedImageDataset`): the cache; ``GANBENCH_CIFAR10_DIR`` or
``ganbench data prepare cifar10 --from PATH`` naming ``cifar-10-python.tar.gz`` or the extracted
``cifar-10-batches-py`` folder; torchvision's download. No offline source exists on a machine
that reaches only PyPI and Debian.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import torch

from ganbench.data.base import CachedImageDataset, DatasetInfo, check_md5
from ganbench.errors import AssetUnavailable, GanbenchError
from ganbench.registry import DATASETS

FOLDER = "cifar-10-batches-py"
ARCHIVE = "cifar-10-python.tar.gz"
#: torchvision/datasets/cifar.py (CIFAR10.train_list, test_list, tgz_md5)
BATCH_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
SPLITS = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


class _BatchUnpickler(pickle.Unpickler):
    """Admits numpy arrays and builtin containers only (a batch is a dict of str, lists, an array)."""

    _allowed = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("_codecs", "encode"),  # how Python 3 writes bytes at protocol 2 (a copy re-pickled by Python 3)
    }

    def find_class(self, module, name):
        if (module, name) in self._allowed:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def read_batch(data: bytes, origin: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 N×3×32×32, labels int64 N)`` of one pickled batch."""
    try:
        batch = _BatchUnpickler(io.BytesIO(data), encoding="latin1").load()
        x = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        y = np.asarray(batch["labels"], dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, ValueError, TypeError, EOFError) as exc:
        raise GanbenchError(f"{origin}: not a CIFAR-10 python batch ({exc})") from None
    if len(x) != len(y):
        raise GanbenchError(f"{origin}: {len(x)} images but {len(y)} labels")
    return x, y


def _batches_from(path: Path) -> dict[str, bytes]:
    """The six batch files' bytes from the tarball or the (parent of the) extracted folder."""
    if path.is_dir():
        folder = path / FOLDER if (path / FOLDER).is_dir() else path
        out = {}
        for name in BATCH_MD5:
            if not (folder / name).is_file():
                raise AssetUnavailable(f"{folder}: no {name} (expected the {FOLDER} folder of {ARCHIVE})")
            out[name] = (folder / name).read_bytes()
        return out
    try:
        tar = tarfile.open(path, mode="r:*")
    except (tarfile.TarError, OSError) as exc:
        raise AssetUnavailable(f"{path}: not {ARCHIVE} or its extracted folder ({exc})") from None
    with tar:
        out = {}
        for info in tar:
            name = Path(info.name).name
            if name in BATCH_MD5 and info.isfile():
                out[name] = tar.extractfile(info).read()
    missing = [n for n in BATCH_MD5 if n not in out]
    if missing:
        raise AssetUnavailable(f"{path}: the archive holds no {', '.join(missing)}")
    return out


def tensors_from(path: Path) -> dict[str, torch.Tensor]:
    blobs = _batches_from(path)
    out = {}
    for split, names in SPLITS.items():
        xs, ys = [], []
        for name in names:
            check_md5(blobs[name], BATCH_MD5[name], f"{path}: {name}")
            x, y = read_batch(blobs[name], f"{path}: {name}")
            xs.append(x)
            ys.append(y)
        out[f"{split}_x"] = torch.from_numpy(np.concatenate(xs))
        out[f"{split}_y"] = torch.from_numpy(np.concatenate(ys))
    return out


@DATASETS.register("cifar10")
class CIFAR10(CachedImageDataset):
    info = DatasetInfo("cifar10", "image", (3, 32, 32), num_classes=10)
    local_env = "GANBENCH_CIFAR10_DIR"
    local_format = f"{ARCHIVE} or its {FOLDER} folder"
    sizes = {"train": 50000, "test": 10000}

    def from_local(self, path: Path) -> dict[str, torch.Tensor]:
        return tensors_from(path)

    def from_torchvision(self, root: Path) -> dict[str, torch.Tensor]:
        from torchvision.datasets.utils import download_url

        download_url("https://www.cs.toronto.edu/~kriz/" + ARCHIVE, str(root), ARCHIVE, ARCHIVE_MD5)
        return tensors_from(root / ARCHIVE)
