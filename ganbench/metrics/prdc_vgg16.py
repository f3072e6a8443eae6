"""Precision/recall and density/coverage on VGG-16 fc2 features (Kynkäänniemi et al. 2019, §3).

The precision/recall paper embeds images with an ImageNet-trained VGG-16 and takes the second
fully connected layer (fc2, 4096-d). ``prdc_vgg16`` does the same through torch-fidelity's
``FeatureExtractorVGG16`` (torchvision's VGG-16 with the ImageNet-1k v1 weights, images as uint8,
resized to 224×224 by its TF-1.x-compatible bilinear interpolation, ImageNet mean/std, feature
``fc2_relu``: torch-fidelity's default for its ``prc`` metric). The algebra is
:func:`ganbench.metrics.prdc.prdc_from_features` (k = 3 for P/R, k = 5 for D/C); value keys carry
the suffix ``_vgg16`` so that this variant can sit beside ``prdc`` in one table.

The weights (torchvision's ``vgg16-397923af.pth``) are looked up in this order:

1. ``$GANBENCH_VGG16_WEIGHTS``: a path to that file;
2. the torch hub cache, ``torch.hub.get_dir()/checkpoints/vgg16-397923af.pth``;
3. unless ``GANBENCH_OFFLINE`` is set, torchvision's own download into that cache.

The file is validated with ``weights_only=True`` and a shape check before torch-fidelity loads
it; when none can be had, :meth:`PRDCVGG16.prepare` raises
:class:`~ganbench.errors.AssetUnavailable` with one line, so a suite asking for the metric stops
before any training. Random weights are never used. NVIDIA's TorchScript VGG-16 used by the
paper's own code is a different conversion: values compare within ganbench (the protocol holds
the weights' SHA-1), not digit for digit with the paper.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganbench.errors import AssetUnavailable
from ganbench.metrics.base import EvalContext
from ganbench.metrics.features import Extractor
from ganbench.metrics.hub_weights import HubWeights
from ganbench.metrics.inception import file_sha1_cached, to_pixels
from ganbench.metrics.prdc import _PRDCBase
from ganbench.registry import METRICS

WEIGHTS_FILE = "vgg16-397923af.pth"
ENV = "GANBENCH_VGG16_WEIGHTS"
EXTRACTOR_NAME = "torchvision-vgg16-imagenet1k-v1"
LAYER = "fc2_relu"
FC2_SHAPE = (4096, 4096)

def _url() -> str:
    from torchvision.models import VGG16_Weights

    return VGG16_Weights.IMAGENET1K_V1.url


WEIGHTS = HubWeights(
    metric="prdc_vgg16", file=WEIGHTS_FILE, env=ENV, what="torchvision's ImageNet VGG-16 weights", url=_url,
    key="classifier.3.weight", shape=FC2_SHAPE,
    advice=f"point {ENV} at a copy, or use 'prdc' (Inception) / 'prdc_mnist'")


def hub_weights_path() -> Path:
    return WEIGHTS.hub_path()


def vgg16_weights_path() -> Path:
    """The VGG-16 weights file, or AssetUnavailable (one line)."""
    return WEIGHTS.path()


_networks: dict[tuple[str, str], torch.nn.Module] = {}


def load_vgg16(device: torch.device | str = "cpu") -> torch.nn.Module:
    """torch-fidelity's ``FeatureExtractorVGG16`` returning ``fc2_relu``, on ``device``.

    torch-fidelity's own loader uses ``weights_only=False``; it only ever sees a file that
    ``weights_only=True`` and the shape check have accepted.
    """
    path = vgg16_weights_path()
    key = (str(path), str(torch.device(device)))
    if key not in _networks:
        from torch_fidelity.feature_extractor_vgg16 import FeatureExtractorVGG16

        WEIGHTS.check(path)
        try:
            net = FeatureExtractorVGG16(EXTRACTOR_NAME, [LAYER], feature_extractor_weights_path=str(path))
        except RuntimeError as exc:  # strict load_state_dict: missing/unexpected/mis-shaped keys
            raise AssetUnavailable(f"metric 'prdc_vgg16' unavailable: {path} does not fit VGG-16 "
                                   f"({str(exc).splitlines()[0]})") from None
        _networks[key] = net.to(device).eval()
    return _networks[key]


class VGG16Features(Extractor):
    """4096-d ``fc2_relu`` features of the ImageNet VGG-16 (torch-fidelity's preprocessing)."""

    name = EXTRACTOR_NAME

    def __init__(self, batch_size: int | None = None):
        self.batch_size = batch_size

    @property
    def weights_sha1(self) -> str:
        return file_sha1_cached(vgg16_weights_path())

    def protocol(self) -> dict:
        return {"extractor": self.name, "layer": f"{LAYER} (4096)", "weights": WEIGHTS_FILE,
                "weights_sha1": self.weights_sha1,
                "resize": "torch-fidelity TF1.x bilinear to 224x224",
                "preprocess": "[-1,1] -> round to uint8 [0,255], grey -> RGB, ImageNet mean/std"}

    @torch.no_grad()
    def extract(self, images: torch.Tensor, device: torch.device | str = "cpu") -> dict[str, np.ndarray]:
        device = torch.device(device)
        net = load_vgg16(device)
        batch = self.batch_size or (200 if device.type == "cuda" else 16)
        out = [net(to_pixels(images[i:i + batch]).to(torch.uint8).to(device))[0].float().cpu().numpy()
               for i in range(0, len(images), batch)]
        return {"features": np.concatenate(out) if out else np.zeros((0, 4096), dtype=np.float32)}


@METRICS.register("prdc_vgg16")
class PRDCVGG16(_PRDCBase):
    """Precision/recall (k=3) and density/coverage (k=5) on VGG-16 fc2 (the P/R paper's features)."""

    name = "prdc_vgg16"
    suffix = "_vgg16"
    outputs = {f"{k}_vgg16": d for k, d in _PRDCBase.outputs.items()}
    summary = ("precision/recall/density/coverage on ImageNet VGG-16 fc2 (needs its weights: "
               f"${ENV} or torch hub cache); GPU/full profile")

    def extractor(self, ctx: EvalContext):
        return VGG16Features()

    def prepare(self, ctx: EvalContext) -> None:
        load_vgg16("cpu")  # resolves and validates the weights; raises AssetUnavailable
        super().prepare(ctx)
