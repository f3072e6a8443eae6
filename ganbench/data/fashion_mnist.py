"""Fashion-MNIST (Xiao, Rasul and Vollgraf 2017, arXiv:1708.07747): 28×28 grey, 10 classes, 60k/10k.

The official train (60,000) and test (10,000) splits of Zalando's IDX files, as Lucic et al.
2018 ("Are GANs Created Equal?") use them. Sources, in the order of
:class:`~ganbench.data.base.CachedImageDataset`:

1. the cache ``$GANBENCH_CACHE/data/fashion_mnist.pt`` (uint8 N×1×28×28, int64 labels);
2. ``GANBENCH_FASHION_MNIST_DEB`` (a .deb of the Debian package) or ``GANBENCH_FASHION_MNIST_DIR``
   (a folder of the four ``*-ubyte.gz`` IDX files, or uncompressed ``*-ubyte``), or
   ``ganbench data prepare fashion_mnist --from FILE.deb|FOLDER``;
3. torchvision's ``FashionMNIST`` download (unless ``GANBENCH_OFFLINE``); its .gz files are
   checked against torchvision's MD5s;
4. offline: the Debian package ``dataset-fashion-mnist`` (MIT licence), fetched with
   ``apt-get download`` as a file into a temporary folder and read without installing it
   (:mod:`ganbench.data.debian`: ar → ``data.tar.xz`` →
   ``/usr/share/datasets/fashion-mnist/*-ubyte.gz``). The version is pinned
   (:data:`DEB_VERSION`) and the .deb checked by :data:`DEB_SHA256`.

Debian re-compressed the .gz files, so their MD5s differ from torchvision's; what every source
must match is the SHA256 of the *uncompressed* IDX data (:data:`IDX_SHA256`) and of the
converted tensors (:data:`TENSORS_SHA256`). Images become float32 in [-1, 1] as
``u8/127.5 - 1``, N×1×28×28.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from ganbench.data.base import CachedImageDataset, DatasetInfo, check_md5, sha256_of
from ganbench.data.debian import apt_download, deb_files
from ganbench.data.idx import maybe_gunzip, parse_idx
from ganbench.errors import AssetUnavailable, GanbenchError
from ganbench.registry import DATASETS

FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}
#: SHA256 of the uncompressed IDX files (the same for Zalando's, torchvision's and Debian's copies)
IDX_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
#: torchvision's MD5s of Zalando's .gz files (torchvision/datasets/mnist.py, FashionMNIST.resources)
GZ_MD5 = {
    "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
}
DEB_PACKAGE = "dataset-fashion-mnist"
#: Debian bookworm's version (also in trixie); the .deb below is 30,900,652 bytes
DEB_VERSION = "0.0~git20200523.55506a9-1"
DEB_SHA256 = "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0"
DEB_DIR = "/usr/share/datasets/fashion-mnist"
#: tensors_sha256 of the converted cache tensors (train_x 60000×1×28×28 uint8, labels int64)
TENSORS_SHA256 = "ade522d60dde2e10fda4034a4e0c6d27b9aa7f078950db840ae3cb1347f4c77a"


def tensors_from_idx(blobs: dict[str, bytes], origin: str) -> dict[str, torch.Tensor]:
    """Cache tensors from the four IDX files' bytes (gz or not), each checked by IDX_SHA256."""
    out = {}
    for key, stem in FILES.items():
        raw = maybe_gunzip(blobs[stem])
        got = sha256_of(raw)
        if got != IDX_SHA256[stem]:
            raise GanbenchError(f"{origin}: {stem}: SHA256 of the uncompressed data is {got[:16]}…, "
                                f"expected {IDX_SHA256[stem][:16]}… (not the official Fashion-MNIST)")
        arr = parse_idx(raw, f"{origin}: {stem}")
        if key.endswith("_x"):
            out[key] = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.uint8)).unsqueeze(1)
        else:
            out[key] = torch.from_numpy(arr.astype(np.int64))
    return out


def tensors_from_deb(deb: bytes, origin: str) -> dict[str, torch.Tensor]:
    paths = {stem: f"{DEB_DIR}/{stem}.gz" for stem in FILES.values()}
    files = deb_files(deb, list(paths.values()), origin)
    return tensors_from_idx({stem: files[p] for stem, p in paths.items()}, origin)


def _read_folder(folder: Path) -> dict[str, bytes]:
    blobs = {}
    for stem in FILES.values():
        for candidate in (folder / f"{stem}.gz", folder / stem, folder / "raw" / f"{stem}.gz",
                          folder / "raw" / stem):
            if candidate.is_file():
                blobs[stem] = candidate.read_bytes()
                break
        else:
            raise AssetUnavailable(f"{folder}: no {stem}.gz (or {stem}) in this folder")
    return blobs


@DATASETS.register("fashion_mnist")
class FashionMNIST(CachedImageDataset):
    info = DatasetInfo("fashion_mnist", "image", (1, 28, 28), num_classes=10)
    local_env = "GANBENCH_FASHION_MNIST_DIR"
    local_format = "the four *-ubyte.gz IDX files in a folder, or the dataset-fashion-mnist .deb"
    sizes = {"train": 60000, "test": 10000}

    @property
    def sha256(self) -> str | None:  # type: ignore[override]
        return TENSORS_SHA256

    def _resolve(self):
        deb = os.environ.get("GANBENCH_FASHION_MNIST_DEB")
        if deb:
            path = Path(deb).expanduser()
            if not path.is_file():
                raise AssetUnavailable(f"fashion_mnist: GANBENCH_FASHION_MNIST_DEB={deb}: no such file")
            return self._checked(self.from_local(path), f"GANBENCH_FASHION_MNIST_DEB={deb}")
        return super()._resolve()

    def from_local(self, path: Path) -> dict[str, torch.Tensor]:
        if path.is_dir():
            return tensors_from_idx(_read_folder(path), str(path))
        data = path.read_bytes()
        if data.startswith(b"!<arch>\n"):
            return tensors_from_deb(data, str(path))
        raise AssetUnavailable(f"{path}: neither a folder of IDX files nor a Debian package")

    def from_torchvision(self, root: Path) -> dict[str, torch.Tensor]:
        from torchvision.datasets import FashionMNIST as TVFashionMNIST

        TVFashionMNIST(str(root), train=True, download=True)  # checks the .gz MD5s itself
        raw = root / "FashionMNIST" / "raw"
        for stem, md5 in GZ_MD5.items():
            gz = raw / f"{stem}.gz"
            if gz.exists():
                check_md5(gz.read_bytes(), md5, str(gz))
        return tensors_from_idx(_read_folder(raw), "torchvision download")

    def from_offline(self, notes: list[str]):
        with tempfile.TemporaryDirectory() as tmp:
            deb, why = apt_download(f"{DEB_PACKAGE}={DEB_VERSION}", Path(tmp))
            if deb is None:
                notes.append(f"{why}; run 'apt-get update' once, or pass the .deb with "
                             "GANBENCH_FASHION_MNIST_DEB=FILE.deb or "
                             "'ganbench data prepare fashion_mnist --from FILE.deb'")
                return None
            data = deb.read_bytes()
        got = sha256_of(data)
        if got != DEB_SHA256:
            raise GanbenchError(f"{deb.name}: SHA256 {got[:16]}… differs from the pinned "
                                f"{DEB_PACKAGE} {DEB_VERSION} ({DEB_SHA256[:16]}…)")
        return tensors_from_deb(data, deb.name)
