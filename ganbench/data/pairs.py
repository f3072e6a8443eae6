"""Unpaired image-to-image translation data: two image domains named as ONE dataset.

A suite names a pair like any dataset: ``mnist2colored`` (A = ``mnist``, B =
``mnist_colored``), ``mnist2edges`` (A = ``mnist``, B = ``mnist_edges``), or any two
registered image datasets ``{name: pair, a: NAME, b: NAME}`` (plain registered image datasets,
not parametrised families).

Common format (the stated conversion): both domains are brought to one shape C×S×S with
C = the larger channel count (grey → RGB repeats the grey channel three times) and S = the
larger side (a smaller image is padded, centred, with −1, i.e. black; the sides must differ
by an even number of pixels). MNIST (1×28×28) and ``mnist_colored`` (3×32×32) become
3×32×32; MNIST and ``mnist_edges`` stay 1×28×28. :func:`to_common` converts a domain's
images to the common format, :func:`from_common` back (crop the centre, average the channels
when the domain is grey), which the translation metrics use to feed a domain's classifier.

Unpaired by construction: domain A takes the EVEN indices of its dataset's split, domain B the
ODD indices of its own (so when both domains come from the same source images, as MNIST and
its coloured or edge version do, no source image appears in both domains); the longer side
is cut to the shorter (train 30 000 rows and test 5 000 rows for the MNIST pairs).

Layout (so the trainer, which indexes one tensor and draws rows with replacement, works
unchanged): ``load_split`` returns ``x`` float32 N×2C×S×S in [−1, 1], channels ``[:C]`` an
A image and ``[C:]`` a B image, and ``y`` int64 N×2 (the label of the A image, of the B
image; −1 where a domain has no labels). Row i's A and B images are unrelated (A's index 2i,
B's index 2i+1), and a translation method never uses the pairing anyway: it calls
``next_real()`` twice and takes A from one batch and B from the other
(:meth:`ganbench.methods.translation.TranslationMethod.real_batches`).

``info.kind`` is :data:`PAIR` (``"pair"``), so no image metric accepts these tensors by
mistake; ``info.shape`` is the common C×S×S (the shape of one translated image, what the
method's ``sample`` returns); ``info.extras``: ``domain_a``, ``domain_b`` (dataset names),
``shape_a``, ``shape_b`` (their own shapes), ``family``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ganbench.data.base import Dataset, DatasetInfo, get_dataset
from ganbench.errors import GanbenchError
from ganbench.registry import DATASETS

PAIR = "pair"


def is_pair(info: DatasetInfo) -> bool:
    return info.kind == PAIR


def common_shape(a: tuple[int, ...], b: tuple[int, ...], names: tuple[str, str] = ("a", "b")) -> tuple[int, int, int]:
    """The common C×S×S of two image shapes (see the module docstring), or a GanbenchError."""
    for shape, name in zip((a, b), names):
        if len(shape) != 3 or shape[0] not in (1, 3) or shape[1] != shape[2]:
            raise GanbenchError(f"{name}: a pair needs square grey or RGB images, this domain's are "
                                f"{'×'.join(map(str, shape))}")
    side = max(a[1], b[1])
    if (side - min(a[1], b[1])) % 2:
        raise GanbenchError(f"{names[0]}: sides {a[1]} and {b[1]} differ by an odd number of pixels "
                            "(the smaller is padded equally on both sides)")
    return (max(a[0], b[0]), side, side)


def to_common(x: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """A domain's N×c×s×s images in [−1, 1] -> N×C×S×S: grey repeated to RGB, padded with −1."""
    c, s = x.shape[1], x.shape[-1]
    if c != shape[0]:
        x = x.expand(-1, shape[0], -1, -1)
    pad = (shape[1] - s) // 2
    if pad:
        x = F.pad(x, (pad, pad, pad, pad), value=-1.0)
    return x.contiguous()


def from_common(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Common-format images -> the domain's ``shape``: centre crop, channel mean if grey."""
    s = shape[-1]
    off = (x.shape[-1] - s) // 2
    if off:
        x = x[..., off:off + s, off:off + s]
    if shape[0] == 1 and x.shape[1] != 1:
        x = x.mean(dim=1, keepdim=True)
    return x.contiguous()


def split_domains(x: torch.Tensor, info: DatasetInfo) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows N×2C×S×S -> (A images, B images), each N×C×S×S."""
    c = info.shape[0]
    if x.ndim != 4 or x.shape[1] != 2 * c:
        raise ValueError(f"{info.name}: expected N×{2 * c}×S×S pair rows, got {tuple(x.shape)}")
    return x[:, :c], x[:, c:]


def _domain_info(name: Any, key: str) -> DatasetInfo:
    if not isinstance(name, str):
        raise GanbenchError(f"{key}: expected a dataset name, got {name!r}")
    if name not in DATASETS:
        raise GanbenchError(f"{key}: unknown dataset {name!r} (known: {', '.join(DATASETS.names())})")
    cls = DATASETS.get(name)
    if getattr(cls, "params_help", None):
        raise GanbenchError(f"{key}: {name!r} is a parametrised family; a pair takes plain registered datasets")
    info = cls.info
    if info.kind != "image":
        raise GanbenchError(f"{key}: {name!r} holds {info.kind} data, a pair needs image datasets")
    return info


@DATASETS.register("pair")
class PairDataset(Dataset):
    """Two registered image datasets as an unpaired translation pair (params ``a``, ``b``)."""

    #: the family's description for ``ganbench list datasets`` (an instance has its own)
    info = DatasetInfo("pair", PAIR, (0, 0, 0))
    params_help = "a: DATASET, b: DATASET"

    #: a fixed pair's own name (``mnist2colored``); None: ``pair-<a>-<b>``
    instance_name: str | None = None

    def __init__(self, a: Any = None, b: Any = None, **unknown: Any):
        if unknown:
            raise GanbenchError(f"{sorted(unknown)[0]}: unknown key (pair takes {PairDataset.params_help})")
        for key, value in (("a", a), ("b", b)):
            if value is None:
                raise GanbenchError(f"{key}: missing required key (the name of domain {key.upper()}'s dataset)")
        info_a, info_b = _domain_info(a, "a"), _domain_info(b, "b")
        shape = common_shape(info_a.shape, info_b.shape)
        self.a, self.b = a, b
        self.info = DatasetInfo(
            self.instance_name or f"pair-{a}-{b}", PAIR, shape,
            num_classes=info_a.num_classes if info_a.num_classes == info_b.num_classes else 0,
            extra=(("domain_a", a), ("domain_b", b), ("shape_a", tuple(info_a.shape)),
                   ("shape_b", tuple(info_b.shape)), ("family", "pair")))

    def prepare(self) -> None:
        get_dataset(self.a).prepare()
        get_dataset(self.b).prepare()

    def load_split(self, split: str):
        if split not in ("train", "test"):
            raise GanbenchError(f"dataset {self.info.name} has no split {split!r} (splits: train, test)")
        shape = self.info.shape
        xa, ya = get_dataset(self.a).load_split(split)  # not load_dataset: no second copy kept
        xa, ya = xa[0::2], None if ya is None else ya[0::2]
        xb, yb = get_dataset(self.b).load_split(split)
        xb, yb = xb[1::2], None if yb is None else yb[1::2]
        n = min(len(xa), len(xb))
        x = torch.cat([to_common(xa[:n], shape), to_common(xb[:n], shape)], dim=1)
        del xa, xb
        missing = torch.full((n,), -1, dtype=torch.int64)
        y = torch.stack([missing if ya is None else ya[:n].long(), missing if yb is None else yb[:n].long()], dim=1)
        return x, y


@DATASETS.register("mnist2colored")
class MNISTToColored(PairDataset):
    """MNIST (A, even indices) ↔ mnist_colored (B, odd indices), both as 3×32×32."""

    info = DatasetInfo("mnist2colored", PAIR, (3, 32, 32), num_classes=10)
    params_help = None
    instance_name = "mnist2colored"

    def __init__(self):
        super().__init__("mnist", "mnist_colored")


@DATASETS.register("mnist2edges")
class MNISTToEdges(PairDataset):
    """MNIST (A, even indices) ↔ mnist_edges (B, odd indices), both 1×28×28."""

    info = DatasetInfo("mnist2edges", PAIR, (1, 28, 28), num_classes=10)
    params_help = None
    instance_name = "mnist2edges"

    def __init__(self):
        super().__init__("mnist", "mnist_edges")
