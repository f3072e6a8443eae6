"""Two MNIST-derived image domains with MNIST's digits and labels but another look.

Built deterministically from MNIST (:func:`ganbench.data.mnist.load_mnist_uint8`) in about a
second per split, never downloaded, so the translation pairs of :mod:`ganbench.data.pairs`
work offline and keep a ground truth (the digit class) to score against. Image ``i`` of a
split of either domain is MNIST image ``i`` of that split, with MNIST's label ``i``.

``mnist_colored`` (3×32×32 RGB, an MNIST-M-like domain; Ganin & Lempitsky 2015 blend digits
with BSDS500 patches, which are not available offline, so the background here is a flat
colour): each image gets a background colour ``bg`` drawn uniformly from {0..255}³ and a
digit colour ``fg = (bg + o) mod 256`` with a per-channel offset ``o`` uniform in
{64..192}, so every channel differs by 64..192 levels between digit and background (the
digit is always visible, in either contrast). The 28×28 MNIST intensity ``m`` (0..255) is
padded by 2 px of zeros to 32×32 and used as the blending weight, in integer arithmetic::

    pixel_c = (bg_c · (255 − m) + fg_c · m + 127) // 255

Colours come from ``torch.Generator`` seeds :data:`COLOUR_SEEDS` (one ``randint`` N×3 for
``bg``, then one N×3 for ``o``), so the bytes are the same on every machine.

``mnist_edges`` (1×28×28 grey): the morphological gradient of the digit with a 3×3 square
structuring element, dilation − erosion (3×3 max filter minus 3×3 min filter, borders
ignored), which keeps the strokes' outlines and clears their inside: no randomness.

Both are float32 in [−1, 1] as every image dataset (``u8/127.5 − 1``); num_classes 10.
:func:`colored_uint8` and :func:`edges_uint8` give the uint8 images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganbench.data.base import Dataset, DatasetInfo, uint8_images_to_unit
from ganbench.data.mnist import load_mnist_uint8
from ganbench.errors import GanbenchError
from ganbench.registry import DATASETS

COLOUR_SEEDS = {"train": 4101, "test": 4102}
#: the smallest per-channel difference between digit and background colour (of 255 levels)
MIN_CONTRAST = 64
COLORED_SIZE = 32
_CHUNK = 5000


def _check_split(name: str, split: str) -> None:
    if split not in ("train", "test"):
        raise GanbenchError(f"dataset {name} has no split {split!r} (splits: train, test)")


def colours(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(background, digit) colours, int64 N×3 in 0..255, every channel 64..192 levels apart."""
    gen = torch.Generator().manual_seed(seed)
    bg = torch.randint(0, 256, (n, 3), generator=gen)
    offset = torch.randint(MIN_CONTRAST, 256 - MIN_CONTRAST + 1, (n, 3), generator=gen)
    return bg, (bg + offset) % 256


def colorize(digits: torch.Tensor, bg: torch.Tensor, fg: torch.Tensor) -> torch.Tensor:
    """uint8 N×28×28 digits, N×3 colours -> uint8 N×3×32×32 (the digit blended onto its background)."""
    pad = (COLORED_SIZE - digits.shape[-1]) // 2
    out = torch.empty(len(digits), 3, COLORED_SIZE, COLORED_SIZE, dtype=torch.uint8)
    for i in range(0, len(digits), _CHUNK):
        m = F.pad(digits[i:i + _CHUNK].to(torch.int64), (pad, pad, pad, pad))[:, None]  # N×1×32×32
        b = bg[i:i + _CHUNK, :, None, None]
        f = fg[i:i + _CHUNK, :, None, None]
        out[i:i + _CHUNK] = ((b * (255 - m) + f * m + 127) // 255).to(torch.uint8)
    return out


def colored_uint8(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``mnist_colored``'s split as uint8 N×3×32×32 and MNIST's int64 labels."""
    _check_split("mnist_colored", split)
    tensors = load_mnist_uint8()
    digits = tensors[f"{split}_x"]
    bg, fg = colours(len(digits), COLOUR_SEEDS[split])
    return colorize(digits, bg, fg), tensors[f"{split}_y"]


def morphological_gradient(digits: torch.Tensor) -> torch.Tensor:
    """uint8 N×H×W -> uint8 N×H×W: 3×3 dilation minus 3×3 erosion."""
    x = digits.to(torch.float32)[:, None]
    dilated = F.max_pool2d(x, 3, stride=1, padding=1)
    eroded = -F.max_pool2d(-x, 3, stride=1, padding=1)
    return (dilated - eroded)[:, 0].to(torch.uint8)  # exact: integers 0..255


def edges_uint8(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``mnist_edges``'s split as uint8 N×1×28×28 and MNIST's int64 labels."""
    _check_split("mnist_edges", split)
    tensors = load_mnist_uint8()
    return morphological_gradient(tensors[f"{split}_x"])[:, None], tensors[f"{split}_y"]


class _MNISTDerived(Dataset):
    def prepare(self) -> None:
        """Only MNIST itself must be on disk; the domain is rebuilt from it in a second."""
        load_mnist_uint8()


@DATASETS.register("mnist_colored")
class MNISTColored(_MNISTDerived):
    """MNIST digits in a random colour on a random-colour background, 32×32 RGB (MNIST-M-like)."""

    info = DatasetInfo("mnist_colored", "image", (3, COLORED_SIZE, COLORED_SIZE), num_classes=10)

    def load_split(self, split: str):
        x, y = colored_uint8(split)
        return uint8_images_to_unit(x), y


@DATASETS.register("mnist_edges")
class MNISTEdges(_MNISTDerived):
    """Edge maps of MNIST digits (3×3 morphological gradient), 28×28 grey."""

    info = DatasetInfo("mnist_edges", "image", (1, 28, 28), num_classes=10)

    def load_split(self, split: str):
        x, y = edges_uint8(split)
        return uint8_images_to_unit(x), y
