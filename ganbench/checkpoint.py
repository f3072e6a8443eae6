"""Checkpoints: networks, optimisers, iteration and every RNG state, written atomically.

Loaded with ``torch.load(..., weights_only=True)``: nothing in a checkpoint is unpickled
beyond tensors and plain containers.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.errors import GanbenchError
from ganbench.paths import atomic_write_bytes


def rng_state() -> dict[str, Any]:
    """Torch (CPU and CUDA) and NumPy global RNG states, as tensors and ints."""
    state = {
        "torch": torch.get_rng_state(),
        "numpy": torch.from_numpy(np.random.get_state()[1].astype(np.int64)),
        "numpy_pos": int(np.random.get_state()[2]),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), int(state["numpy_pos"])))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, method_state: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
    payload = {"method": method_state, "rng": rng_state(), "extra": extra or {}}
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    try:
        return torch.load(Path(path), map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise GanbenchError(f"{path}: no such checkpoint") from None
    except Exception as exc:
        raise GanbenchError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from None
