"""STL-10 (Coates, Ng and Lee 2011, "An Analysis of Single-Layer Networks in Unsupervised Feature
Learning"), as GANs use it: the 100,000-image *unlabeled* split, downscaled.

- ``stl10``: 3×48×48, the resolution of SN-GAN (Miyato et al. 2018, §4 and appendix B: "we
  resized the images to 48×48") and of the GN-GAN report's STL-10 column;
- ``stl10_32``: 3×32×32 (the size some later papers use for a cheaper STL-10).

Splits: ``train`` = the unlabeled 100k (no labels), what SN-GAN trains on; ``test`` = the
official labelled test set (8,000 images, labels 0–9), a disjoint reference set for FID.

Format of the official binary files (``stl10_binary.tar.gz``, https://cs.stanford.edu/~acoates/stl10/):
``*_X.bin`` is uint8, each image 3×96×96 with every channel stored in **column-major** order (so
``reshape(N, 3, 96, 96)`` gives channels whose rows are the image's columns: transpose the last
two axes, as the official ``stl10_input.py`` and torchvision do); ``*_y.bin`` holds uint8 labels
1–10 (mapped to 0–9). Every file is checked by torchvision's MD5 (:data:`FILE_MD5`).

Resize: PIL bilinear (antialiased) from 96 to the target size, what torchvision's
``transforms.Resize`` does to PIL images in the PyTorch SN-GAN re-implementations. Departure:
SN-GAN's own (Chainer) preprocessing code was not checked, so its resize filter may differ.
The 100k images are converted 5,000 at a time through a memory map, once, into the cache.

Sources (:class:`~ganbench.data.base.CachedImageDataset`): the cache; ``GANBENCH_STL10_DIR`` or
``ganbench data prepare stl10 --from PATH`` naming ``stl10_binary.tar.gz`` or the extracted
``stl10_binary`` folder (``unlabeled_X.bin``, ``test_X.bin``, ``test_y.bin``); torchvision's download.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch

from ganbench.data.base import CachedImageDataset, DatasetInfo, md5_file
from ganbench.errors import AssetUnavailable, GanbenchError
from ganbench.registry import DATASETS

FOLDER = "stl10_binary"
ARCHIVE = "stl10_binary.tar.gz"
ARCHIVE_MD5 = "91f7769df0f17e558f3565bffb0c7dfb"
#: torchvision/datasets/stl10.py (STL10.train_list, test_list)
FILE_MD5 = {
    "unlabeled_X.bin": "5242ba1fed5e4be9e1e742405eb56ca4",
    "test_X.bin": "7f263ba9f9e0b06b93213547f721ac82",
    "test_y.bin": "36f9794fa4beb8a2c72628de14fa638e",
}
RAW = 96
CHUNK = 5000


def read_images(path: Path, size: int) -> np.ndarray:
    """uint8 N×3×size×size from an official ``*_X.bin`` (column-major channels), resized."""
    from PIL import Image

    nbytes = path.stat().st_size
    per_image = 3 * RAW * RAW
    if nbytes % per_image:
        raise GanbenchError(f"{path}: {nbytes} bytes is not a whole number of 3×96×96 images")
    raw = np.memmap(path, dtype=np.uint8, mode="r").reshape(-1, 3, RAW, RAW)
    out = np.empty((len(raw), 3, size, size), dtype=np.uint8)
    for lo in range(0, len(raw), CHUNK):
        block = np.ascontiguousarray(raw[lo:lo + CHUNK].transpose(0, 3, 2, 1))  # N×H×W×C, rows fixed
        for i, hwc in enumerate(block):
            img = Image.fromarray(hwc, "RGB")
            if size != RAW:
                img = img.resize((size, size), Image.BILINEAR)
            out[lo + i] = np.asarray(img).transpose(2, 0, 1)
    return out


def _folder_of(path: Path, tmp: Path) -> Path:
    """The folder holding the .bin files: ``path`` itself, its ``stl10_binary``, or the archive extracted."""
    if path.is_dir():
        return path / FOLDER if (path / FOLDER).is_dir() else path
    try:
        with tarfile.open(path, mode="r:*") as tar:
            for info in tar:
                name = Path(info.name).name
                if name in FILE_MD5 and info.isfile():
                    with tar.extractfile(info) as src, open(tmp / name, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 22)
    except (tarfile.TarError, OSError) as exc:
        raise AssetUnavailable(f"{path}: not {ARCHIVE} or its extracted folder ({exc})") from None
    return tmp


def tensors_from(path: Path, size: int) -> dict[str, torch.Tensor | None]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = _folder_of(path, Path(tmp))
        for name, md5 in FILE_MD5.items():
            file = folder / name
            if not file.is_file():
                raise AssetUnavailable(f"{path}: no {name} (expected the {FOLDER} folder of {ARCHIVE})")
            got = md5_file(file)
            if got != md5:
                raise GanbenchError(f"{file}: MD5 {got} differs from the official file's {md5} "
                                    "(a corrupt or different copy)")
        test_y = np.fromfile(folder / "test_y.bin", dtype=np.uint8).astype(np.int64) - 1
        return {
            "train_x": torch.from_numpy(read_images(folder / "unlabeled_X.bin", size)),
            "train_y": None,
            "test_x": torch.from_numpy(read_images(folder / "test_X.bin", size)),
            "test_y": torch.from_numpy(test_y),
        }


class _STL10(CachedImageDataset):
    size: int = 48
    local_env = "GANBENCH_STL10_DIR"
    local_format = f"{ARCHIVE} or its {FOLDER} folder with unlabeled_X.bin, test_X.bin, test_y.bin"
    sizes = {"train": 100000, "test": 8000}

    def from_local(self, path: Path):
        tensors = tensors_from(path, self.size)
        if len(tensors["test_x"]) != len(tensors["test_y"]):
            raise GanbenchError(f"{path}: {len(tensors['test_x'])} test images but {len(tensors['test_y'])} labels")
        return tensors

    def from_torchvision(self, root: Path):
        from torchvision.datasets.utils import download_url

        download_url("http://ai.stanford.edu/~acoates/stl10/" + ARCHIVE, str(root), ARCHIVE, ARCHIVE_MD5)
        return self.from_local(root / ARCHIVE)


@DATASETS.register("stl10")
class STL10(_STL10):
    info = DatasetInfo("stl10", "image", (3, 48, 48), num_classes=10)
    size = 48


@DATASETS.register("stl10_32")
class STL10At32(_STL10):
    info = DatasetInfo("stl10_32", "image", (3, 32, 32), num_classes=10)
    size = 32
