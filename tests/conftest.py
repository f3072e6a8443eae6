"""Shared fixtures: a per-session ganbench cache (unless GANBENCH_CACHE is set), one Ray."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

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


def cleanfid_inceptionv3w(folder: Path, monkeypatch):
    """clean-fid's own ``InceptionV3W`` on ganbench's ``default_1.pt`` (no download).

    default_1.pt wraps the layer stack one level deeper (``net.layers``) than NVIDIA's file
    (``layers``), which InceptionV3W expects, so its ``torch.jit.load`` is unwrapped.
    """
    import torch
    from cleanfid import inception_torchscript

    from ganbench.metrics.inception import inception_weights_path

    (folder / "inception-2015-12-05.pt").symlink_to(inception_weights_path())
    real_load = torch.jit.load

    def load_unwrapped(path, *args, **kwargs):
        module = real_load(path, *args, **kwargs)
        return module.net if hasattr(module, "net") else module

    monkeypatch.setattr(inception_torchscript.torch.jit, "load", load_unwrapped)
    return inception_torchscript.InceptionV3W(str(folder), download=False).eval()


def kill_process_tree(proc) -> None:
    """SIGKILL a run started with ``start_new_session=True``: its process group, like a killed
    job, then every process it started that escaped the group (Ray's daemons and workers run in
    sessions of their own), and wait for them all."""
    import signal

    import psutil

    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:  # the run had already ended
        pass
    for child in list(family):
        try:
            family += child.children(recursive=True)
            child.kill()
        except psutil.NoSuchProcess:
            pass
    proc.wait(timeout=30)
    psutil.wait_procs(family, timeout=30)


def mutate_document(doc, path, value):
    """Set ``value`` at ``path`` (keys and list indices) in a parsed YAML document, as far as
    the path exists (for the property tests of malformed suites)."""
    node = doc
    for key in path[:-1]:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            break
    last = path[-1]
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = value
    return doc


@pytest.fixture
def one_thread():
    """Tiny nets: one torch thread is as fast, and far faster than two on a shared, busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def record_optimizer_steps(method, nets=None) -> list:
    """Wrap every optimiser of ``method``: each step appends ``(optimiser name, frozenset of the
    nets whose parameters it changed)``, in call order. ``nets`` defaults to ``method.modules()``."""
    nets = dict(nets or method.modules())
    log: list = []
    for name, opt in method.optimizers().items():
        original = opt.step

        def step(*args, _name=name, _original=original, **kwargs):
            before = {k: [p.detach().clone() for p in n.parameters()] for k, n in nets.items()}
            out = _original(*args, **kwargs)
            moved = frozenset(k for k, n in nets.items()
                              if any(not torch.equal(a, b) for a, b in zip(before[k], n.parameters())))
            log.append((_name, moved))
            return out

        opt.step = step
    return log
