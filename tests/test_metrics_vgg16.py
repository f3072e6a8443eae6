"""prdc_vgg16: unavailable weights are one line at prepare() (never random weights, never a
download when offline); a file that does not fit is refused; the machinery runs end to end on a
stand-in state_dict of the right layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganbench.data.base import get_dataset, load_dataset
from ganbench.errors import AssetUnavailable
from ganbench.metrics import prdc_vgg16
from ganbench.metrics.base import EvalContext
from ganbench.metrics.evaluate import compute_metrics
from ganbench.metrics.prdc import prdc_from_features
from ganbench.registry import METRICS


@pytest.fixture(autouse=True)
def no_weights_anywhere(tmp_path, monkeypatch):
    monkeypatch.delenv(prdc_vgg16.ENV, raising=False)
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(prdc_vgg16, "_networks", {})


def _ctx(n=6):
    return EvalContext(get_dataset("mnist").info, "test", n)


def test_unavailable_weights_fail_at_prepare_with_one_line(monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("must not try to download when GANBENCH_OFFLINE is set")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    metric = METRICS.get("prdc_vgg16")()
    with pytest.raises(AssetUnavailable) as err:
        metric.prepare(_ctx())
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("metric 'prdc_vgg16' unavailable")
    assert prdc_vgg16.WEIGHTS_FILE in msg and prdc_vgg16.ENV in msg
    with pytest.raises(AssetUnavailable):
        metric.compute(torch.zeros(6, 1, 28, 28), _ctx())


def test_online_the_usual_download_is_tried_and_its_failure_is_one_line(monkeypatch):
    from torchvision.models import VGG16_Weights

    monkeypatch.delenv("GANBENCH_OFFLINE")
    tried = []

    def no_network(url, dst, *args, **kwargs):
        tried.append((url, dst))
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(AssetUnavailable) as err:
        prdc_vgg16.load_vgg16()
    assert tried == [(VGG16_Weights.IMAGENET1K_V1.url, str(prdc_vgg16.hub_weights_path()))]
    assert "\n" not in str(err.value) and "cannot be downloaded here" in str(err.value)


def test_env_path_must_be_a_fitting_file(tmp_path, monkeypatch):
    monkeypatch.setenv(prdc_vgg16.ENV, str(tmp_path / "missing.pth"))
    with pytest.raises(AssetUnavailable, match="is not a file"):
        prdc_vgg16.load_vgg16()
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x80\x04not a state dict")
    monkeypatch.setenv(prdc_vgg16.ENV, str(junk))
    with pytest.raises(AssetUnavailable, match="not a plain state_dict"):
        prdc_vgg16.load_vgg16()
    wrong = tmp_path / "wrong.pth"
    torch.save({"classifier.3.weight": torch.zeros(10, 4096)}, wrong)
    monkeypatch.setenv(prdc_vgg16.ENV, str(wrong))
    with pytest.raises(AssetUnavailable, match="4096x4096"):
        prdc_vgg16.load_vgg16()
    partial = tmp_path / "partial.pth"
    torch.save({"classifier.3.weight": torch.zeros(4096, 4096)}, partial)
    monkeypatch.setenv(prdc_vgg16.ENV, str(partial))
    with pytest.raises(AssetUnavailable, match="does not fit"):
        prdc_vgg16.load_vgg16()


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
