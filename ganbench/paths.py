"""Where ganbench keeps its cache and its results."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The ganbench cache: ``$GANBENCH_CACHE``, default ``~/.cache/ganbench``."""
    root = os.environ.get("GANBENCH_CACHE") or Path.home() / ".cache" / "ganbench"
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
