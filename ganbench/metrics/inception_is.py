"""Inception Score (Salimans et al. 2016) with the TF-Inception 1008-class logits, via torch-fidelity.

IS = exp(E_x KL(p(y|x) ‖ p(y))) over the softmax of the 1008 logits of the 2015-12-05 TF
Inception graph, 10 splits, mean over splits reported as ``is`` (higher is better), the std in
the protocol. The network and the algebra are torch-fidelity's: its ``inception-v3-compat``
feature extractor (``FeatureExtractorInceptionV3``, feature ``logits_unbiased``: the fc layer
without its bias, torch-fidelity's default for IS, as in the original TF code which read the
``softmax`` of the un-biased ``MatMul``) on uint8 images resized by its TF-1.x-compatible
bilinear interpolation, and ``torch_fidelity.metric_isc.isc_features_to_metric`` (its shuffle
with rng_seed 2020, then 10 consecutive splits). Its shuffle permutes the samples in the order
they came in; the logits are first sorted (:func:`ganbench.metrics.cis.canonical_order`), so the
splits, and the score, do not depend on that order (a folder of images sorted by class scores
the same as the shuffled folder), as for ``cis``.

The weights (``weights-inception-2015-12-05-6726825d.pth``, torch-fidelity's conversion of the
TF graph) are not in any wheel ganbench can fetch. They are looked up, in this order:

1. ``$GANBENCH_INCEPTION_IS_WEIGHTS``: a path to that file;
2. the torch hub cache, ``torch.hub.get_dir()/checkpoints/weights-inception-2015-12-05-6726825d.pth``
   (where torch-fidelity puts it on a machine with internet);
3. unless ``GANBENCH_OFFLINE`` is set, torch-fidelity's own download into that cache (its
   ``URL_INCEPTION_V3``), done once in the driver by :meth:`InceptionIS.prepare`.

The file is read with ``weights_only=True`` and must fill every parameter and buffer of the
network exactly (same names, same shapes, fc 1008×2048); otherwise, or when no file is found,
:meth:`InceptionIS.prepare` raises :class:`~ganbench.errors.AssetUnavailable` with one line, so a
suite asking for ``is`` stops before any training. Random weights are never used. The file's
SHA1 is recorded in the protocol. Our own images go in as ``round((x + 1)·127.5)`` uint8, grey
replicated to RGB (the same pixels the FID path uses; only the resize differs, torch-fidelity's).
For MNIST prefer ``cis`` (ganbench's classifier); ``is`` on 28×28 digits is an ImageNet score.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganbench.errors import AssetUnavailable
from ganbench.metrics.base import HIGHER, EvalContext, Metric
from ganbench.metrics.features import Extractor, extract_shared
from ganbench.metrics.hub_weights import HubWeights
from ganbench.metrics.inception import file_sha1_cached, to_pixels
from ganbench.registry import METRICS

WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS_SOURCE = f"{WEIGHTS_FILE} from the v0.2.0 release of torch-fidelity"
ENV = "GANBENCH_INCEPTION_IS_WEIGHTS"
SPLITS = 10
EXTRACTOR_NAME = "torch-fidelity-inception-v3-compat"
NUM_LOGITS = 1008


def _url() -> str:
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    return URL_INCEPTION_V3


WEIGHTS = HubWeights(
    metric="is", file=WEIGHTS_FILE, env=ENV, what="torch-fidelity's Inception weights", url=_url,
    key="fc.weight", shape=(NUM_LOGITS, 2048),
    advice=f"fetch {WEIGHTS_SOURCE} on a machine with internet and point {ENV} at it, or use 'cis' on MNIST")


def hub_weights_path() -> Path:
    return WEIGHTS.hub_path()


def is_weights_path() -> Path:
    """The torch-fidelity Inception weights file, or AssetUnavailable (one line)."""
    return WEIGHTS.path()


_networks: dict[tuple[str, str], torch.nn.Module] = {}


def load_is_network(device: torch.device | str = "cpu") -> torch.nn.Module:
    """torch-fidelity's ``FeatureExtractorInceptionV3`` returning ``logits_unbiased``, on device.

    The file is validated with ``weights_only=True`` and a strict shape check before
    torch-fidelity itself loads it (its loader uses ``weights_only=False``, which is safe for a
    file that ``weights_only=True`` has already accepted).
    """
    path = is_weights_path()
    key = (str(path), str(torch.device(device)))
    if key not in _networks:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        WEIGHTS.check(path)
        try:
            net = FeatureExtractorInceptionV3(EXTRACTOR_NAME, ["logits_unbiased"],
                                              feature_extractor_weights_path=str(path))
        except RuntimeError as exc:  # strict load_state_dict: missing/unexpected/mis-shaped keys
            raise AssetUnavailable(f"metric 'is' unavailable: {path} does not fit torch-fidelity's "
                                   f"Inception ({str(exc).splitlines()[0]})") from None
        _networks[key] = net.to(device).eval()
    return _networks[key]


def weights_sha1(path: Path) -> str:
    return file_sha1_cached(path)


class TorchFidelityInceptionLogits(Extractor):
    """1008 un-biased logits of torch-fidelity's TF-Inception port (its own resize)."""

    name = EXTRACTOR_NAME

    def __init__(self, batch_size: int | None = None):
        self.batch_size = batch_size

    @property
    def weights_sha1(self) -> str:
        return weights_sha1(is_weights_path())

    def protocol(self) -> dict:
        return {
            "extractor": self.name,
            "layer": "logits_unbiased (1008)",
            "weights": WEIGHTS_FILE,
            "weights_sha1": self.weights_sha1,
            "resize": "torch-fidelity TF1.x bilinear to 299x299",
            "preprocess": "[-1,1] -> round to uint8 [0,255], grey -> RGB, torch-fidelity (x-128)/128",
        }

    @torch.no_grad()
    def extract(self, images: torch.Tensor, device: torch.device | str = "cpu") -> dict[str, np.ndarray]:
        device = torch.device(device)
        net = load_is_network(device)
        batch = self.batch_size or (200 if device.type == "cuda" else 25)
        out = []
        for i in range(0, len(images), batch):
            x = to_pixels(images[i : i + batch]).to(torch.uint8).to(device)
            (logits,) = net(x)
            out.append(logits.float().cpu().numpy())
        if not out:
            return {"logits": np.zeros((0, NUM_LOGITS), dtype=np.float32)}
        return {"logits": np.concatenate(out)}


@METRICS.register("is")
class InceptionIS(Metric):
    """IS on the TF-Inception 1008 logits through torch-fidelity (never random weights)."""

    name = "is"
    outputs = {"is": HIGHER}
    kinds = frozenset({"image"})
    summary = ("Inception Score, TF-Inception 1008 logits via torch-fidelity (needs its weights: "
               f"${ENV} or torch hub cache); GPU/full profile")

    def prepare(self, ctx: EvalContext) -> None:
        load_is_network("cpu")  # resolves and validates the weights; raises AssetUnavailable

    def compute(self, fake, ctx: EvalContext):
        from torch_fidelity.metric_isc import isc_features_to_metric

        extractor = TorchFidelityInceptionLogits()
        logits = extract_shared(extractor, fake, ctx.device)["logits"]
        splits = max(1, min(SPLITS, len(logits)))
        from ganbench.metrics.cis import SHUFFLE_NOTE, SHUFFLE_SEED, canonical_order

        res = isc_features_to_metric(torch.from_numpy(np.ascontiguousarray(canonical_order(logits))),
                                     splits=splits, shuffle=True, rng_seed=SHUFFLE_SEED)
        return ({"is": float(res["inception_score_mean"])},
                {"n_gen": int(len(fake)), "n_ref": 0, "split": "none", "splits": splits,
                 "is_std_over_splits": float(res["inception_score_std"]),
                 "shuffle": SHUFFLE_NOTE,
                 "implementation": "torch_fidelity.metric_isc.isc_features_to_metric",
                 **extractor.protocol()})
