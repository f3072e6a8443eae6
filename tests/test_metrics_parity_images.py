"""FID and KID on the same *images* through three whole pipelines (issue 4, parity tests).

- ganbench: tensors -> uint8 pixels -> clean resize -> default_1.pt -> its own FD / KID algebra;
- clean-fid: the same images written as PNG files, read back by ``compute_fid`` /
  ``compute_kid`` on two folders (its loader, its PIL resizer, its InceptionV3W, its algebra);
- torch-fidelity: the same images as a uint8 dataset through ``calculate_metrics`` (its
  batching, statistics and FID/KID code), with a feature extractor registered in its registry
  that runs clean-fid's resizer and InceptionV3W. torch-fidelity's own Inception weights are a
  download this machine cannot make; the network is the same TF-Inception 2015-12-05 graph.

Each value must agree to 1e-3 relative. Eight images per side keep the CPU cost at a few
seconds; KID's subset size then equals the set size, so every implementation's random
subsets are permutations of the whole set and the value is the same for any seed.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

from ganbench.data.base import load_dataset
from ganbench.metrics.frechet import frechet_distance_from_features
from ganbench.metrics.inception import InceptionExtractor, to_pixels
from ganbench.metrics.kid import kid_from_features
from tests.conftest import cleanfid_inceptionv3w

N = 8


@pytest.fixture(scope="module")
def images():
    train, _ = load_dataset("mnist", "train")
    test, _ = load_dataset("mnist", "test")
    return train[100:100 + N], test[200:200 + N]


@pytest.fixture(scope="module")
def ours(images):
    extractor = InceptionExtractor()
    fa, fb = (extractor.extract(x, "cpu")["features"] for x in images)
    return frechet_distance_from_features(fa, fb), kid_from_features(fa, fb, max_subset_size=N)[0]


@pytest.fixture()
def cleanfid_model(tmp_path, monkeypatch):
    """clean-fid's InceptionV3W on default_1.pt (see tests/conftest.py)."""
    from cleanfid import fid as cfid

    model = cleanfid_inceptionv3w(tmp_path, monkeypatch)
    if "disp" not in inspect.signature(scipy.linalg.sqrtm).parameters:  # SciPy >= 1.18 dropped it
        original = scipy.linalg.sqrtm
        monkeypatch.setattr(cfid.linalg, "sqrtm", lambda a, disp=True, **kw: (original(a, **kw), 0.0)
                            if not disp else original(a, **kw))
    return model


def _write_pngs(x: torch.Tensor, folder) -> str:
    folder.mkdir()
    for i, pixels in enumerate(to_pixels(x)[:, 0].to(torch.uint8).numpy()):
        Image.fromarray(pixels, mode="L").save(folder / f"{i:03d}.png")
    return str(folder)


def test_fid_and_kid_match_cleanfid_on_png_folders(images, ours, cleanfid_model, tmp_path, monkeypatch):
    from cleanfid import fid as cfid

    dir_a, dir_b = _write_pngs(images[0], tmp_path / "a"), _write_pngs(images[1], tmp_path / "b")
    monkeypatch.setattr(cfid, "build_feature_extractor", lambda mode, device, use_dataparallel=True: cleanfid_model)
    common = dict(mode="clean", num_workers=0, batch_size=N, device=torch.device("cpu"), verbose=False,
                  use_dataparallel=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fid_theirs = cfid.compute_fid(dir_a, dir_b, **common)
        kid_theirs = cfid.compute_kid(dir_a, dir_b, **common)
    fid_ours, kid_ours = ours
    assert fid_ours > 1.0 and abs(kid_ours) > 1e-4  # two different digit sets: clearly non-zero
    assert fid_ours == pytest.approx(fid_theirs, rel=1e-3)
    assert kid_ours == pytest.approx(kid_theirs, rel=1e-3)


def test_fid_and_kid_match_torch_fidelity_calculate_metrics(images, ours, cleanfid_model):
    import torch_fidelity
    from cleanfid.resize import build_resizer
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase

    resize = build_resizer("clean")

    class CleanInception(FeatureExtractorBase):
        def __init__(self, name, features_list, **kwargs):
            super().__init__(name, features_list)
            self.model = cleanfid_model

        @staticmethod
        def get_provided_features_list():
            return ("2048",)

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return "2048"

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros(1, 3, 28, 28, dtype=torch.uint8)

        def forward(self, x):
            hwc = x.permute(0, 2, 3, 1).cpu().numpy()
            batch = torch.stack([torch.from_numpy(resize(img).astype(np.float32)).permute(2, 0, 1) for img in hwc])
            return (self.model(batch),)

    name = "ganbench-parity-clean-inception"
    if name not in torch_fidelity.registry.FEATURE_EXTRACTORS_REGISTRY:
        torch_fidelity.register_feature_extractor(name, CleanInception)

    class Uint8Images(torch.utils.data.Dataset):
        def __init__(self, x):
            self.pixels = to_pixels(x).to(torch.uint8)

        def __len__(self):
            return len(self.pixels)

        def __getitem__(self, i):
            return self.pixels[i]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch_fidelity.calculate_metrics(
            input1=Uint8Images(images[0]), input2=Uint8Images(images[1]), fid=True, kid=True,
            kid_subset_size=N, feature_extractor=name, cuda=False, cache=False, verbose=False, batch_size=N)
    fid_ours, kid_ours = ours
    assert fid_ours == pytest.approx(theirs["frechet_inception_distance"], rel=1e-3)
    assert kid_ours == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-3)
