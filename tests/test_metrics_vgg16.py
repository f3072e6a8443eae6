"""prdc_vgg16: the machinery runs end to end on a stand-in state_dict of the right layout.
(Finding, fetching and checking the weights: tests/test_hub_weights.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganbench.data.base import load_dataset
from ganbench.metrics import prdc_vgg16
from ganbench.metrics.evaluate import compute_metrics
from ganbench.metrics.prdc import prdc_from_features


@pytest.fixture(autouse=True)
def no_weights_anywhere(tmp_path, monkeypatch):
    monkeypatch.delenv(prdc_vgg16.ENV, raising=False)
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(prdc_vgg16, "_networks", {})


def test_machinery_on_a_stand_in_state_dict(tmp_path, monkeypatch):
    """A randomly initialised torchvision VGG-16 state_dict (*test scaffolding only*) given by
    the environment variable: the metric loads it, extracts 4096-d fc2 features and computes the
    four values with ganbench's P/R/D/C algebra."""
    import torchvision

    torch.manual_seed(0)
    path = tmp_path / "vgg16-stand-in.pth"
    torch.save(torchvision.models.vgg16().state_dict(), path)
    monkeypatch.setenv(prdc_vgg16.ENV, str(path))
    monkeypatch.setattr("ganbench.metrics.reference.cache_dir", lambda: tmp_path / "cache")

    x, _ = load_dataset("mnist", "train")
    fake = x[:6]
    values, protocols = compute_metrics(fake, "mnist", ["prdc_vgg16"], num_samples=6, reference="test")
    p = protocols["prdc_vgg16"]
    assert set(values) == {"precision_vgg16", "recall_vgg16", "density_vgg16", "coverage_vgg16"}
    assert all(0.0 <= values[k] <= 1.0 for k in ("precision_vgg16", "recall_vgg16", "coverage_vgg16"))
    assert p["extractor"] == prdc_vgg16.EXTRACTOR_NAME and len(p["weights_sha1"]) == 40
    assert p["n_gen"] == 6 and p["n_ref"] == 6 and "224" in p["resize"]

    extractor = prdc_vgg16.VGG16Features()
    feats = extractor.extract(fake, "cpu")["features"]
    assert feats.shape == (6, 4096) and np.all(np.isfinite(feats)) and np.all(feats >= 0)  # after ReLU
    same = prdc_from_features(feats, feats)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
