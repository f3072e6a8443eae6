"""What every dataset provides: a description and whole splits as tensors.

Data sit on the trial's device as one tensor; training draws mini-batches by indexing it,
with no per-step DataLoader.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from ganbench.errors import AssetUnavailable, GanbenchError
from ganbench.paths import cache_dir
from ganbench.registry import DATASETS


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a dataset.

    ``kind`` is ``"image"`` (tensors N×C×H×W in [-1, 1]), ``"points"`` (N×d), or
    ``"conditional"`` (one N×(C+T) tensor of condition and flattened target side by side;
    ``shape`` is the target's, ``extras["condition_shape"]`` the condition's; see
    :mod:`ganbench.data.conditional`).
    ``extra`` carries family-specific facts (mode centres and std for 2D mixtures).
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    num_classes: int = 0
    splits: tuple[str, ...] = ("train", "test")
    extra: tuple[tuple[str, Any], ...] = ()

    @property
    def extras(self) -> dict[str, Any]:
        return dict(self.extra)


class Dataset(abc.ABC):
    """A dataset family member. Subclasses set :attr:`info` and implement :meth:`load_split`."""

    info: DatasetInfo

    @abc.abstractmethod
    def load_split(self, split: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(x, y)`` for the split: float32 data in [-1, 1] and int64 labels or None."""

    def prepare(self) -> None:
        """Make sure the data are available offline (download or convert into the cache)."""
        for split in self.info.splits:
            self.load_split(split)


_cache: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor | None]] = {}
#: parametrised datasets built in this process, by their instance name (``info.name``)
_instances: dict[str, "Dataset"] = {}


def get_dataset(name: str, params: dict[str, Any] | None = None) -> Dataset:
    """The dataset ``name``; a parametrised family (``image_folder``) is built from ``params``.

    A parametrised instance is remembered under its own ``info.name`` (for example
    ``image_folder-3fa2c1d09b``), so that code holding only that name (metrics, reference
    statistics) finds it again in this process.
    """
    if params:
        ds = DATASETS.get(name)(**params)
        _instances[ds.info.name] = ds
        return ds
    if name in _instances:
        return _instances[name]
    return DATASETS.get(name)()


def load_dataset(name: str, split: str, device: str | torch.device = "cpu"):
    """Load a split of a dataset once per process and return it on ``device``."""
    key = (name, split)
    if key not in _cache:
        _cache[key] = get_dataset(name).load_split(split)
    x, y = _cache[key]
    return x.to(device), (y.to(device) if y is not None else None)


# ---------------------------------------------------------------------------------------
# The resolver shared by the image datasets that live in the cache as uint8 tensors

def md5_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def md5_file(path: Path) -> str:
    """MD5 of a file, read in 4 MiB blocks (the STL-10 and CelebA archives are gigabytes)."""
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_md5(data: bytes, expected: str, origin: str) -> None:
    """Raise a one-line :class:`GanbenchError` when ``data`` is not the official file."""
    got = md5_of(data)
    if got != expected:
        raise GanbenchError(f"{origin}: MD5 {got} differs from the official file's {expected} "
                            "(a corrupt or different copy)")


def tensors_sha256(tensors: dict[str, torch.Tensor | None]) -> str:
    """SHA256 over the cache tensors (key, dtype, shape and bytes of each, keys sorted)."""
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key]
        h.update(key.encode())
        if t is None:
            h.update(b"none")
            continue
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def store_tensors(path: Path, tensors: dict[str, torch.Tensor | None]) -> None:
    """``torch.save`` to a temporary file beside ``path``, then a rename (no in-memory copy:
    CelebA's cache is 2.5 GB)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save(tensors, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def uint8_images_to_unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 N×C×H×W -> float32 in [-1, 1] (0 -> -1, 255 -> 1), as MNIST's ``u8/127.5 - 1``."""
    return x.float().div(127.5).sub(1.0)


class CachedImageDataset(Dataset):
    """An image dataset kept in the cache as uint8 tensors, filled from the first source that works.

    Resolution order (the same for every dataset, README "Assets without the internet"):

    1. the cache, ``$GANBENCH_CACHE/data/<info.name>.pt``: ``{"train_x", "test_x"}`` uint8
       N×C×H×W and ``{"train_y", "test_y"}`` int64 N (or None for unlabelled splits);
    2. a local copy in the official format named by :attr:`local_env` (or given to
       ``ganbench data prepare NAME --from PATH``, which calls :meth:`prepare_from`);
    3. the usual torchvision download (skipped when ``GANBENCH_OFFLINE`` is set);
    4. an offline source where one exists (:meth:`from_offline`; Fashion-MNIST's Debian package);
    5. otherwise one :class:`AssetUnavailable` line saying how to provide the data.

    Every official file is checked by its MD5 (torchvision's values) when it is read, and
    the converted tensors by :attr:`sha256` where the data are known.
    """

    #: environment variable naming a local copy in the official format
    local_env: str = ""
    #: what that local copy is, for the error line
    local_format: str = ""
    #: SHA256 of the converted cache tensors (:func:`tensors_sha256`) where the data are known
    sha256: str | None = None
    #: expected number of images per split (checked after conversion)
    sizes: dict[str, int] = {}

    def cache_file(self) -> Path:
        return cache_dir() / "data" / f"{self.info.name}.pt"

    @abc.abstractmethod
    def from_local(self, path: Path) -> dict[str, torch.Tensor | None]:
        """Convert a local copy in the official format (file or folder) into cache tensors."""

    def from_torchvision(self, root: Path) -> dict[str, torch.Tensor | None]:
        """Download the official files with torchvision into ``root`` and convert them."""
        raise NotImplementedError

    def from_offline(self, notes: list[str]) -> dict[str, torch.Tensor | None] | None:
        """An offline source (no internet); None when there is none. Append why it failed to ``notes``."""
        del notes
        return None

    # -- resolution --------------------------------------------------------------------

    def load_uint8(self) -> dict[str, torch.Tensor | None]:
        path = self.cache_file()
        if path.exists():
            return torch.load(path, weights_only=True, mmap=True)  # gigabytes for CelebA, STL-10
        tensors = self._resolve()
        self._store(tensors)
        return tensors

    def prepare(self) -> None:
        if not self.cache_file().exists():
            self._store(self._resolve())

    def prepare_from(self, path: str | Path) -> Path:
        """Convert the local copy at ``path`` into the cache (``ganbench data prepare --from``)."""
        path = Path(path).expanduser()
        if not path.exists():
            raise AssetUnavailable(f"{self.info.name}: --from {path}: no such file or folder")
        self._store(self._checked(self.from_local(path), str(path)))
        return self.cache_file()

    def _resolve(self) -> dict[str, torch.Tensor | None]:
        name = self.info.name
        env = os.environ.get(self.local_env) if self.local_env else None
        if env:
            if not Path(env).expanduser().exists():
                raise AssetUnavailable(f"{name}: {self.local_env}={env}: no such file or folder")
            return self._checked(self.from_local(Path(env).expanduser()), f"{self.local_env}={env}")
        notes: list[str] = []
        if os.environ.get("GANBENCH_OFFLINE"):
            notes.append("download skipped (GANBENCH_OFFLINE is set)")
        else:
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    return self._checked(self.from_torchvision(Path(tmp)), "torchvision download")
            except NotImplementedError:
                pass
            except GanbenchError:
                raise
            except Exception as exc:  # no internet, a mirror down: try the next source
                notes.append(f"torchvision download failed ({type(exc).__name__})")
        tensors = self.from_offline(notes)
        if tensors is not None:
            return self._checked(tensors, "offline source")
        raise AssetUnavailable(
            f"dataset {name} is not available ({'; '.join(notes) or 'no cache'}): "
            f"put a local copy ({self.local_format}) somewhere and set {self.local_env}=PATH, "
            f"or run 'ganbench data prepare {name} --from PATH'"
        )

    def _checked(self, tensors: dict[str, torch.Tensor | None], origin: str) -> dict[str, torch.Tensor | None]:
        name = self.info.name
        for split in self.info.splits:
            x = tensors.get(f"{split}_x")
            if x is None or x.dtype != torch.uint8 or tuple(x.shape[1:]) != tuple(self.info.shape):
                got = None if x is None else f"{x.dtype} {tuple(x.shape)}"
                raise GanbenchError(f"{origin}: {name} {split} images are {got}, expected uint8 "
                                    f"N×{'×'.join(map(str, self.info.shape))}")
            want = self.sizes.get(split)
            if want is not None and len(x) != want:
                raise GanbenchError(f"{origin}: {name} {split} split has {len(x)} images, expected {want}")
        if self.sha256 is not None:
            got = tensors_sha256(tensors)
            if got != self.sha256:
                raise GanbenchError(f"{origin}: {name} converted data have SHA256 {got[:16]}…, "
                                    f"expected {self.sha256[:16]}… (not the official data)")
        return tensors

    def _store(self, tensors: dict[str, torch.Tensor | None]) -> None:
        store_tensors(self.cache_file(), tensors)

    def load_split(self, split: str):
        if split not in self.info.splits:
            raise GanbenchError(f"dataset {self.info.name} has no split {split!r} "
                                f"(splits: {', '.join(self.info.splits)})")
        tensors = self.load_uint8()
        return uint8_images_to_unit(tensors[f"{split}_x"]), tensors.get(f"{split}_y")
