"""Feature extractors and the per-evaluation feature cache.

An :class:`Extractor` maps images in [-1, 1] (N×C×H×W) to named float32 arrays (for example
``{"features": N×2048}`` or ``{"features": N×128, "logits": N×10}``). Its :attr:`key` (name plus
a prefix of the SHA1 of its weights) names it in cache files and protocols, so reference
statistics computed with other weights are never mixed in.

Several metrics of one evaluation read the same extractor on the same generated samples
(``fcd``, ``cis`` and ``classes`` all use the MNIST classifier; ``fid`` and ``kid`` both use
Inception). Inside :func:`feature_scope` (which :func:`ganbench.metrics.evaluate.evaluate`
opens), :func:`extract_shared` computes each extractor's outputs once per sample tensor, in the
spirit of StyleGAN's shared feature cache; outside a scope it simply extracts.
"""

from __future__ import annotations

import abc
import contextlib
from typing import Any, Iterator

import numpy as np
import torch


class Extractor(abc.ABC):
    """A fixed feature network; subclasses set :attr:`name` and implement the two methods."""

    name: str

    @property
    @abc.abstractmethod
    def weights_sha1(self) -> str:
        """SHA1 (hex) of the weights, recorded in every protocol."""

    @abc.abstractmethod
    def extract(self, images: torch.Tensor, device: torch.device | str) -> dict[str, np.ndarray]:
        """Named N×k float32 outputs for ``images`` in [-1, 1], computed on ``device``."""

    @property
    def key(self) -> str:
        return f"{self.name}-{self.weights_sha1[:12]}"

    def protocol(self) -> dict[str, Any]:
        return {"extractor": self.name, "weights_sha1": self.weights_sha1}


_scopes: list[dict] = []


@contextlib.contextmanager
def feature_scope() -> Iterator[None]:
    """Share extractor outputs between the metrics computed inside this block."""
    _scopes.append({})
    try:
        yield
    finally:
        _scopes.pop()


def extract_shared(extractor: Extractor, images: torch.Tensor,
                   device: torch.device | str) -> dict[str, np.ndarray]:
    """``extractor.extract(images, device)``, computed once per tensor inside a scope."""
    if not _scopes:
        return extractor.extract(images, device)
    cache = _scopes[-1]
    key = (extractor.key, id(images), images._version, tuple(images.shape), str(images.device))
    hit = cache.get(key)
    if hit is not None and hit[0] is images:
        return hit[1]
    out = extractor.extract(images, device)
    cache[key] = (images, out)  # the reference keeps id(images) from being reused in the scope
    return out
