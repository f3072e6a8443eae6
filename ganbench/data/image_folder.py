"""Any folder of images as a dataset: ``{name: image_folder, path: DIR, size: 32}`` in a suite.

Every file under ``path`` (recursively, hidden files and folders skipped) whose suffix is one of
:data:`SUFFIXES` is an image. Each is loaded with PIL, converted to RGB (or to grey, ``L``, when
``channels: 1`` is given, or when every image of the folder is grey and ``channels`` is left at
``auto``), centre-cropped to a square of its shorter side, and resized to ``size``×``size`` with
PIL bicubic (antialiased). ``size`` is one of :data:`SIZES`, the sizes the image nets build.

Labels: when every image lies in a first-level subfolder, the subfolder is its class (sorted
names → 0, 1, ...), as torchvision's ``ImageFolder``; otherwise the data are unlabelled.

Split (deterministic, stable when files are added): an image is in ``test`` when the SHA1 of its
path relative to ``path`` (POSIX form), read as an integer, is divisible by 10 (about 10 %); all
others are in ``train``. A folder with fewer than 2 images in either split is an error.

Cache: ``$GANBENCH_CACHE/data/image_folder-<key>.pt`` where ``<key>`` hashes the resolved path,
``size``, ``channels`` and the file list (each relative path with its size and mtime), so an
edited folder is converted again. The instance's ``info.name`` is ``image_folder-<key>`` (what
reference statistics are cached under); suites and tables show ``image_folder``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.data.base import Dataset, DatasetInfo, store_tensors, uint8_images_to_unit
from ganbench.errors import GanbenchError
from ganbench.paths import cache_dir
from ganbench.registry import DATASETS

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
TEST_EVERY = 10
#: the image sizes ganbench's image nets are built for (DCGAN, SN-GAN CNN, ResNet: 28–64 px)
SIZES = (28, 32, 48, 64)


def centre_crop_resize(img, size: int, crop: int | None = None, resample=None):
    """A PIL image cropped to a centred ``crop``×``crop`` square (default: its shorter side), resized."""
    from PIL import Image

    w, h = img.size
    c = min(w, h) if crop is None else crop
    if c > min(w, h):
        raise GanbenchError(f"cannot crop {c}×{c} out of a {w}×{h} image")
    left, top = (w - c) // 2, (h - c) // 2
    img = img.crop((left, top, left + c, top + c))
    if c != size:
        img = img.resize((size, size), Image.BICUBIC if resample is None else resample)
    return img


def list_images(root: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and name.lower().endswith(SUFFIXES):
                files.append(Path(dirpath) / name)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def in_test_split(relative: str) -> bool:
    return int(hashlib.sha1(relative.encode()).hexdigest(), 16) % TEST_EVERY == 0


@DATASETS.register("image_folder")
class ImageFolder(Dataset):
    """A parametrised dataset: built with ``path``, ``size`` and optionally ``channels``."""

    #: the family's description for ``ganbench list datasets`` (an instance has its own)
    info = DatasetInfo("image_folder", "image", (3, 0, 0))
    params_help = f"path: DIR, size: {'|'.join(map(str, SIZES))}, channels: auto|1|3"

    def __init__(self, path: Any = None, size: Any = None, channels: Any = "auto", **unknown: Any):
        if unknown:
            raise GanbenchError(f"{sorted(unknown)[0]}: unknown key (image_folder takes {self.params_help})")
        if path is None:
            raise GanbenchError("path: missing required key (the folder of images)")
        if not isinstance(size, int) or isinstance(size, bool) or size not in SIZES:
            raise GanbenchError(f"size: expected one of {', '.join(map(str, SIZES))} (the sizes the image "
                                f"nets are built for), got {size!r}")
        if channels not in ("auto", 1, 3):
            raise GanbenchError(f"channels: expected auto, 1 or 3, got {channels!r}")
        root = Path(str(path)).expanduser().resolve()
        if not root.is_dir():
            raise GanbenchError(f"path: {path} is not a folder")
        self.root, self.size = root, size
        self.files = list_images(root)
        rel = [f.relative_to(root).as_posix() for f in self.files]
        test = [in_test_split(r) for r in rel]
        if sum(test) < 2 or len(rel) - sum(test) < 2:
            raise GanbenchError(f"path: {path} holds {len(rel)} images ({sum(test)} would be test images); "
                                "need at least 2 in each split")
        grey = channels == 1 or (channels == "auto" and self._all_grey())
        self.mode = "L" if grey else "RGB"
        tops = {r.split("/")[0] for r in rel if "/" in r}
        labelled = all("/" in r for r in rel)
        self.classes = sorted(tops) if labelled else []
        h = hashlib.sha256(f"{root}\n{size}\n{self.mode}\n".encode())
        for f, r in zip(self.files, rel):
            st = f.stat()
            h.update(f"{r}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
        self.key = h.hexdigest()[:10]
        self.info = DatasetInfo(f"image_folder-{self.key}", "image", (1 if grey else 3, size, size),
                                num_classes=len(self.classes),
                                extra=(("path", str(root)), ("family", "image_folder")))

    def _all_grey(self) -> bool:
        from PIL import Image

        for f in self.files:
            with Image.open(f) as img:
                if img.mode not in ("L", "1", "I;16", "I", "LA"):
                    return False
        return True

    def cache_file(self) -> Path:
        return cache_dir() / "data" / f"{self.info.name}.pt"

    def _convert(self) -> dict[str, torch.Tensor | None]:
        from PIL import Image, UnidentifiedImageError

        parts: dict[str, list] = {"train": [], "test": []}
        labels: dict[str, list] = {"train": [], "test": []}
        for f in self.files:
            r = f.relative_to(self.root).as_posix()
            try:
                with Image.open(f) as img:
                    img = centre_crop_resize(img.convert(self.mode), self.size)
            except (UnidentifiedImageError, OSError) as exc:
                raise GanbenchError(f"{f}: cannot read this image ({exc})") from None
            arr = np.asarray(img, dtype=np.uint8)
            arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
            split = "test" if in_test_split(r) else "train"
            parts[split].append(arr)
            if self.classes:
                labels[split].append(self.classes.index(r.split("/")[0]))
        out: dict[str, torch.Tensor | None] = {}
        for split in ("train", "test"):
            out[f"{split}_x"] = torch.from_numpy(np.stack(parts[split]))
            out[f"{split}_y"] = torch.tensor(labels[split], dtype=torch.int64) if self.classes else None
        return out

    def load_uint8(self) -> dict[str, torch.Tensor | None]:
        path = self.cache_file()
        if path.exists():
            return torch.load(path, weights_only=True, mmap=True)  # gigabytes for CelebA, STL-10
        tensors = self._convert()
        store_tensors(path, tensors)
        return tensors

    def prepare(self) -> None:
        if not self.cache_file().exists():
            self.load_uint8()

    def load_split(self, split: str):
        if split not in self.info.splits:
            raise GanbenchError(f"dataset image_folder has no split {split!r} (splits: train, test)")
        tensors = self.load_uint8()
        return uint8_images_to_unit(tensors[f"{split}_x"]), tensors[f"{split}_y"]
