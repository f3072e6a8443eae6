"""Shared fixtures: a per-session ganbench cache (unless GANBENCH_CACHE is set), one Ray."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("GANBENCH_OFFLINE", "1")  # no internet here: skip the torchvision attempt
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray instance shared by every test that needs it (ray.init costs ~5 s)."""
    from ganbench.dispatch import ensure_ray

    import ray

    started = ensure_ray(num_cpus=2)
    yield ray
    if started:
        ray.shutdown()


def write_suite(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path
