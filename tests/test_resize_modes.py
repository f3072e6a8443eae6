"""eval.resize: clean | legacy_tensorflow (issue 12 item 3).

- the legacy resize equals TF 1.x ``ResizeBilinear(align_corners=False)`` written out here from
  its definition (source coordinate = output index × in/out, floor/ceil neighbours with the
  last row/column repeated, linear weights), and NVIDIA's grid-sample route to the same resize;
- on the same images the two modes give different FIDs, and each equals clean-fid 0.1.35's own
  feature pipeline for that mode (PNG folders read by ``get_folder_features``: its loader, its
  resizer, its ``InceptionV3W``; for legacy_tensorflow no resize outside the network and
  ``base(x, return_features=True)`` inside), the Fréchet distance of both feature sets taken with
  ganbench's function (clean-fid's own passes an argument SciPy removed) on the span of the
  features (exact, and cheap: see :func:`fid_on_span`) — to 1e-3;
- reference features are cached per mode and preprocessing version, and a cached file whose
  protocol differs from the current one is rebuilt.

Four MNIST images per side (32 Inception passes in all, one TorchScript load per side) keep the
cost near 15 s on an idle 2-core CPU.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ganbench.data.base import load_dataset
from ganbench.metrics import reference
from ganbench.metrics.features import Extractor
from ganbench.metrics.frechet import frechet_distance_from_features
from ganbench.metrics.inception import (PREPROCESS_VERSION, RESIZE_MODES, InceptionExtractor,
                                        legacy_tensorflow_resize, to_pixels)
from tests.conftest import cleanfid_inceptionv3w

N = 4


def tf1_bilinear_numpy(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TF 1.x ResizeBilinear, align_corners=False, half_pixel_centers=False, of an H×W array."""
    h, w = img.shape

    def taps(n_in, n_out):
        src = np.arange(n_out) * (n_in / n_out)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, src - lo

    y0, y1, fy = taps(h, out_h)
    x0, x1, fx = taps(w, out_w)
    top = img[y0][:, x0] + (img[y0][:, x1] - img[y0][:, x0]) * fx[None, :]
    bottom = img[y1][:, x0] + (img[y1][:, x1] - img[y1][:, x0]) * fx[None, :]
    return top + (bottom - top) * fy[:, None]


def fid_on_span(a: np.ndarray, b: np.ndarray) -> float:
    """ganbench's Fréchet distance of two small feature sets, taken in an orthonormal basis of
    the span of all their vectors: exact (the distance is invariant under rotations, and both
    covariances and the mean difference lie in that span), and 2N-d instead of 2048-d, so each
    matrix square root costs microseconds instead of ~15 s on a CPU."""
    q, _ = np.linalg.qr(np.concatenate([a, b]).astype(np.float64).T)
    return frechet_distance_from_features(a @ q, b @ q)


def nvidia_style_resize(x: torch.Tensor, size: int = 299) -> torch.Tensor:
    """The same resize as a bilinear grid sample with border padding, the grid shifted by
    (1/in − 1/out) in normalised units so that output pixel j samples input position j·in/out."""
    n, c, h, w = x.shape
    theta = torch.eye(2, 3, dtype=x.dtype).repeat(n, 1, 1)
    theta[:, 0, 2] = 1.0 / w - 1.0 / size
    theta[:, 1, 2] = 1.0 / h - 1.0 / size
    grid = F.affine_grid(theta, [n, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def test_legacy_resize_is_tf1_bilinear_and_differs_from_clean():
    from ganbench.metrics.inception import clean_resize

    gen = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (2, 3, 7, 5), generator=gen).float()
    ours = legacy_tensorflow_resize(pixels)
    assert ours.shape == (2, 3, 299, 299) and ours.dtype == torch.float32
    by_hand = np.stack([np.stack([tf1_bilinear_numpy(ch, 299, 299) for ch in im]) for im in pixels.double().numpy()])
    np.testing.assert_allclose(ours.numpy(), by_hand, atol=1e-3)
    np.testing.assert_allclose(nvidia_style_resize(pixels.double()).numpy(), by_hand, atol=1e-9)
    # corner pixels are copied (src 0), the last output row samples row floor(298 * 7/299) = 6
    assert ours[0, 0, 0, 0] == pixels[0, 0, 0, 0]
    # the clean mode (PIL bicubic, antialiased filter support) is a different image
    assert (clean_resize(pixels) - ours).abs().max() > 5.0


@pytest.fixture(scope="module")
def images():
    train, _ = load_dataset("mnist", "train")
    test, _ = load_dataset("mnist", "test")
    return train[300:300 + N], test[400:400 + N]


@pytest.fixture(scope="module")
def our_features(images):
    return {mode: [InceptionExtractor(resize=mode).extract(x, "cpu")["features"] for x in images]
            for mode in RESIZE_MODES}


class _NvidiaStyleBase(torch.nn.Module):
    """What clean-fid's legacy mode calls as ``base(x, return_features=True)``: NVIDIA's
    inception-2015-12-05.pt resizes inside its forward; default_1.pt's layer stack does not."""

    def __init__(self, layers):
        super().__init__()
        self.layers = layers

    def forward(self, img, return_features=False):
        assert return_features
        x = nvidia_style_resize(img.to(torch.float32))
        return self.layers((x - 128.0) / 128.0).reshape(-1, 2048)


def _write_pngs(x: torch.Tensor, folder) -> str:
    folder.mkdir()
    for i, pixels in enumerate(to_pixels(x)[:, 0].to(torch.uint8).numpy()):
        Image.fromarray(pixels, mode="L").save(folder / f"{i:03d}.png")
    return str(folder)


@pytest.fixture(scope="module")
def cleanfid_model(tmp_path_factory):
    """clean-fid's InceptionV3W on default_1.pt, loaded once for both modes."""
    with pytest.MonkeyPatch.context() as mp:
        return cleanfid_inceptionv3w(tmp_path_factory.mktemp("inception"), mp)


@pytest.mark.parametrize("mode", RESIZE_MODES)
def test_each_mode_matches_cleanfid_on_png_folders(mode, images, our_features, cleanfid_model, tmp_path,
                                                   monkeypatch):
    from cleanfid import fid as cfid

    model = cleanfid_model
    if mode == "legacy_tensorflow":  # what InceptionV3W(resize_inside=True) does with NVIDIA's file
        monkeypatch.setattr(model, "base", _NvidiaStyleBase(model.layers))
        monkeypatch.setattr(model, "resize_inside", True)
    dirs = [_write_pngs(x, tmp_path / name) for x, name in zip(images, "ab")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = [cfid.get_folder_features(d, model=model, num_workers=0, batch_size=N,
                                           device=torch.device("cpu"), mode=mode, verbose=False) for d in dirs]
    ours = our_features[mode]
    for a, b in zip(ours, theirs):
        assert np.abs(a - b).max() < 1e-3 * np.abs(b).max()
    fid_ours, fid_theirs = fid_on_span(*ours), fid_on_span(*theirs)
    assert fid_ours > 1.0
    assert fid_ours == pytest.approx(fid_theirs, rel=1e-3)


def test_the_two_modes_give_different_fids(our_features):
    clean, legacy = fid_on_span(*our_features["clean"]), fid_on_span(*our_features["legacy_tensorflow"])
    assert abs(clean - legacy) > 0.01 * clean  # ten times the parity tolerance, and more


def test_inception_protocol_and_cache_key_carry_mode_and_version():
    keys = {mode: InceptionExtractor(resize=mode).key for mode in RESIZE_MODES}
    assert len(set(keys.values())) == 2
    for mode, key in keys.items():
        assert f"-{mode}-pp{PREPROCESS_VERSION}-" in key
        protocol = InceptionExtractor(resize=mode).protocol()
        assert protocol["resize"] == mode and protocol["preprocess_version"] == PREPROCESS_VERSION
    with pytest.raises(ValueError, match="unknown resize mode 'tf2'"):
        InceptionExtractor(resize="tf2")


class _CountingExtractor(Extractor):
    """Mean pixel as a 1-d feature; counts calls; its protocol has a switchable field."""

    name = "counting"
    weights_sha1 = "0" * 40

    def __init__(self, version: int):
        self.version, self.calls = version, 0

    def protocol(self):
        return {**super().protocol(), "preprocess_version": self.version}

    def extract(self, images, device):
        self.calls += 1
        return {"features": images.float().mean(dim=(1, 2, 3))[:, None].numpy()}


def test_cached_reference_with_another_protocol_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setattr(reference, "cache_dir", lambda: tmp_path)
    reference.clear_memory_cache()
    first = _CountingExtractor(version=1)
    out, protocol = reference.reference_outputs(first, "mnist", "test", 5, seed=0)
    assert first.calls == 1 and protocol["preprocess_version"] == 1 and protocol["n_ref"] == 5
    reference.clear_memory_cache()
    reference.reference_outputs(first, "mnist", "test", 5, seed=0)
    assert first.calls == 1  # read back from the file
    reference.clear_memory_cache()
    second = _CountingExtractor(version=2)  # same key (file name), another protocol
    out2, protocol2 = reference.reference_outputs(second, "mnist", "test", 5, seed=0)
    assert second.calls == 1 and protocol2["preprocess_version"] == 2
    np.testing.assert_array_equal(out["features"], out2["features"])
    reference.clear_memory_cache()
    reference.reference_outputs(second, "mnist", "test", 5, seed=0)
    assert second.calls == 1  # the rebuilt file now matches
    reference.clear_memory_cache()


def test_suite_keys_reach_the_trial_spec_and_leave_default_ids_alone():
    from ganbench.suite import parse_suite

    base = {"name": "s", "datasets": ["mnist"], "methods": ["gan"], "seeds": [0],
            "eval": {"metrics": ["fid"], "num_samples": 50}}
    default = parse_suite(base, "s.yaml").expand()[0]
    assert (default.resize, default.num_reference) == ("clean", None)
    assert "resize" not in default.to_dict() and "num_reference" not in default.to_dict()
    legacy = parse_suite({**base, "eval": {**base["eval"], "resize": "legacy_tensorflow", "num_reference": 80}},
                         "s.yaml").expand()[0]
    assert legacy.to_dict()["resize"] == "legacy_tensorflow" and legacy.to_dict()["num_reference"] == 80
    assert legacy.trial_id != default.trial_id
    assert type(legacy).from_dict(legacy.to_dict()) == legacy


def test_fid_protocol_records_mode_and_reference_size(tmp_path, monkeypatch):
    """The metric plumbing, with the network replaced by a cheap stand-in: resize and
    num_reference reach the extractor, the reference draw and the protocol."""
    from ganbench.metrics.evaluate import compute_metrics

    seen = []

    def fake_extract(self, images, device):
        seen.append((self.resize, len(images)))
        flat = images.reshape(len(images), -1)[:, :16].double().numpy()
        return {"features": flat.astype(np.float32)}

    monkeypatch.setattr(reference, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(InceptionExtractor, "extract", fake_extract)
    reference.clear_memory_cache()
    fake = load_dataset("mnist", "train")[0][:30]
    _, protocols = compute_metrics(fake, "mnist", ["fid"], reference="test", resize="legacy_tensorflow",
                                   num_reference=40)
    reference.clear_memory_cache()
    protocol = protocols["fid"]
    assert (protocol["resize"], protocol["n_gen"], protocol["n_ref"]) == ("legacy_tensorflow", 30, 40)
    assert protocol["preprocess_version"] == PREPROCESS_VERSION
    assert sorted(seen) == [("legacy_tensorflow", 30), ("legacy_tensorflow", 40)]
    files = [p.name for p in (tmp_path / "refstats").iterdir()]
    assert files == [f"mnist-test-tf-inception-2015-12-05-legacy_tensorflow-pp{PREPROCESS_VERSION}-a16e4d89c0ec-n40-seed0.npz"]
