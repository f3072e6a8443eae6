"""Weights files that live in the torch hub cache (IS Inception, VGG-16): find, fetch, check.

A metric whose network is not shipped in a wheel looks for its file, in this order:

1. an environment variable naming the file (the offline path);
2. ``torch.hub.get_dir()/checkpoints/<file>``, where torch-fidelity and torchvision put it;
3. unless ``GANBENCH_OFFLINE`` is set, the library's usual download into that cache.

When none works, :class:`~ganbench.errors.AssetUnavailable` says so in one line, naming the
file, the variable and an alternative metric. A found file is read with
``weights_only=True`` and its telltale tensor's shape is checked before any library loads it,
so nothing untrusted is unpickled and random or foreign weights are never used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ganbench.errors import AssetUnavailable


@dataclass(frozen=True)
class HubWeights:
    """Where a metric's weights come from and how to recognise them."""

    metric: str  # the metric's name, in messages
    file: str  # the file name in the hub cache
    env: str  # the environment variable that may name the file
    what: str  # what the file is, in messages ("torch-fidelity's Inception weights")
    url: Callable[[], str]  # the library's usual download address (imported lazily)
    key: str  # a tensor the file must hold ...
    shape: tuple[int, ...]  # ... with this shape
    advice: str  # what to do instead, in messages

    def unavailable(self, why: str) -> AssetUnavailable:
        return AssetUnavailable(f"metric '{self.metric}' unavailable: {why}")

    def hub_path(self) -> Path:
        return Path(torch.hub.get_dir()) / "checkpoints" / self.file

    def _download(self, path: Path) -> bool:
        if os.environ.get("GANBENCH_OFFLINE"):
            return False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(self.url(), str(path), progress=False)
        except Exception:  # no network here: the caller says what to do instead
            return False
        return path.is_file()

    def path(self) -> Path:
        """The weights file, or AssetUnavailable (one line)."""
        named = os.environ.get(self.env)
        if named:
            path = Path(named).expanduser()
            if not path.is_file():
                raise self.unavailable(f"{self.env}={named} is not a file")
            return path
        path = self.hub_path()
        if path.is_file() or self._download(path):
            return path
        raise self.unavailable(f"{self.what} ({self.file}) are not in the torch hub cache ({path.parent}), "
                               f"cannot be downloaded here and {self.env} is not set; {self.advice}")

    def check(self, path: Path) -> dict[str, torch.Tensor]:
        """The file as a state_dict of tensors (``weights_only=True``) with the telltale shape."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise self.unavailable(f"{path} is not a plain state_dict ({type(exc).__name__}: {first})") from None
        if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
            raise self.unavailable(f"{path} is not a state_dict of tensors")
        tensor = state.get(self.key)
        if tensor is None or tuple(tensor.shape) != self.shape:
            size = "x".join(map(str, self.shape))
            raise self.unavailable(f"{path} has no {size} '{self.key}'; not the expected {self.file}")
        return state
