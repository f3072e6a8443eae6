"""CelebA at 64×64 (Liu, Luo, Wang and Tang 2015, "Deep Learning Face Attributes in the Wild").

``celeba64``: the aligned-and-cropped images (``img_align_celeba``, 202,599 JPEGs of 178×218),
centre-cropped to 108×108 and resized to 64×64: the preprocessing of the DCGAN-era code
(carpedm20/DCGAN-tensorflow, ``main.py --dataset celebA --input_height=108 --crop``, which
crops the centred 108×108 square and resizes it to ``--output_height`` 64 with a bilinear
``scipy.misc.imresize``). Here: the crop box's offset is ``(w-108)//2, (h-108)//2`` = (35, 55)
and the resize is PIL bilinear. Other papers crop 140 (tensorpack's DCGAN) or 160
(compare_gan); their numbers are not comparable with this dataset's.

Splits: the official partition (``list_eval_partition.txt``): images 000001–162770 are
``train``, 162771–182637 validation (not used), 182638–202599 ``test``. When the partition
file is present it decides; otherwise the file number does (the official partition is these
three contiguous ranges). Unlabelled (attributes are not loaded).

Sources (:class:`~ganbench.data.base.CachedImageDataset`): the cache; ``GANBENCH_CELEBA_DIR`` or
``ganbench data prepare celeba64 --from PATH`` naming ``img_align_celeba.zip`` (checked by
torchvision's MD5) or the ``img_align_celeba`` folder (or its parent, which may also hold
``list_eval_partition.txt``); torchvision's ``CelebA`` download (Google Drive, often refused
for quota).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import torch

from ganbench.data.base import CachedImageDataset, DatasetInfo, check_md5, md5_file
from ganbench.data.image_folder import centre_crop_resize
from ganbench.errors import AssetUnavailable, GanbenchError
from ganbench.registry import DATASETS

FOLDER = "img_align_celeba"
ZIP = "img_align_celeba.zip"
#: torchvision/datasets/celeba.py (CelebA.file_list)
ZIP_MD5 = "00d2c5bc6d35e252742224ab0c1e8fcb"
PARTITION = "list_eval_partition.txt"
PARTITION_MD5 = "d32c9cbf5e040fd4025c592c306e6668"
CROP = 108
SIZE = 64
#: last image number of the official train and validation partitions
LAST_TRAIN, LAST_VALID = 162770, 182637
_NAME = re.compile(r"^(\d{6})\.(jpg|png)$")


def _split_of(number: int) -> str:
    return "train" if number <= LAST_TRAIN else ("valid" if number <= LAST_VALID else "test")


def _partition(text: str) -> dict[str, str]:
    names = {"0": "train", "1": "valid", "2": "test"}
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] in names:
            out[Path(parts[0]).stem] = names[parts[1]]
    return out


def _images(path: Path):
    """``(stem, bytes reader)`` pairs for every numbered image, and the partition text or None."""
    if path.is_dir():
        folder = path / FOLDER if (path / FOLDER).is_dir() else path
        part = next((p for p in (folder / PARTITION, folder.parent / PARTITION) if p.is_file()), None)
        part_text = None
        if part is not None:
            data = part.read_bytes()
            check_md5(data, PARTITION_MD5, str(part))
            part_text = data.decode()
        items = sorted((m.group(1), f) for f in folder.iterdir() if (m := _NAME.match(f.name)))
        return [(stem, f.read_bytes) for stem, f in items], part_text
    if not zipfile.is_zipfile(path):
        raise AssetUnavailable(f"{path}: not {ZIP} or the {FOLDER} folder")
    got = md5_file(path)
    if got != ZIP_MD5:
        raise GanbenchError(f"{path}: MD5 {got} differs from the official file's {ZIP_MD5} "
                            "(a corrupt or different copy)")
    archive = zipfile.ZipFile(path)
    items = sorted((m.group(1), n) for n in archive.namelist() if (m := _NAME.match(Path(n).name)))
    return [(stem, (lambda n=n: archive.read(n))) for stem, n in items], None


def tensors_from(path: Path) -> dict[str, torch.Tensor | None]:
    from PIL import Image, UnidentifiedImageError

    items, part_text = _images(path)
    if not items:
        raise AssetUnavailable(f"{path}: no numbered CelebA images (000001.jpg, ...) found")
    partition = _partition(part_text) if part_text else {}
    parts: dict[str, list[np.ndarray]] = {"train": [], "valid": [], "test": []}
    for stem, read in items:
        split = partition.get(stem) or _split_of(int(stem))
        if split == "valid":
            continue
        try:
            with Image.open(io.BytesIO(read())) as img:
                img = centre_crop_resize(img.convert("RGB"), SIZE, crop=CROP, resample=Image.BILINEAR)
        except (UnidentifiedImageError, OSError) as exc:
            raise GanbenchError(f"{path}: {stem}: cannot read this image ({exc})") from None
        parts[split].append(np.asarray(img, dtype=np.uint8).transpose(2, 0, 1))
    out: dict[str, torch.Tensor | None] = {}
    for split in ("train", "test"):
        if not parts[split]:
            raise AssetUnavailable(f"{path}: no CelebA images of the {split} partition")
        out[f"{split}_x"] = torch.from_numpy(np.stack(parts[split]))
        out[f"{split}_y"] = None
    return out


@DATASETS.register("celeba64")
class CelebA64(CachedImageDataset):
    info = DatasetInfo("celeba64", "image", (3, SIZE, SIZE))
    local_env = "GANBENCH_CELEBA_DIR"
    local_format = f"{ZIP} or its {FOLDER} folder"
    sizes = {"train": LAST_TRAIN, "test": 202599 - LAST_VALID}

    def from_local(self, path: Path):
        return tensors_from(path)

    def from_torchvision(self, root: Path):
        from torchvision.datasets import CelebA

        CelebA(str(root), split="all", target_type=[], download=True)  # checks its MD5s itself
        return tensors_from(root / "celeba")
