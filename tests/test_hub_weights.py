"""Weights from the torch hub cache (metrics/hub_weights.py), for each metric that uses them:
offline and absent -> one line at prepare() and no download; online -> the library's usual
download is tried once, its failure is one line; a file named by the environment variable must
exist, be a plain state_dict (weights_only=True) with the right telltale shape, and fit the
network. Never random weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest
import torch

from ganbench.data.base import get_dataset
from ganbench.errors import AssetUnavailable
from ganbench.metrics import inception_is, prdc_vgg16
from ganbench.metrics.base import EvalContext
from ganbench.registry import METRICS


@dataclass
class Case:
    module: object
    metric: str
    url: Callable[[], str]
    wrong_shape: dict  # the telltale key with another shape
    partial: dict  # the telltale tensor alone: does not fit the network


def _is_url():
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    return URL_INCEPTION_V3


def _vgg_url():
    from torchvision.models import VGG16_Weights

    return VGG16_Weights.IMAGENET1K_V1.url


CASES = [
    Case(inception_is, "is", _is_url, {"fc.weight": torch.zeros(1000, 2048)},
         {"fc.weight": torch.zeros(1008, 2048), "fc.bias": torch.zeros(1008)}),
    Case(prdc_vgg16, "prdc_vgg16", _vgg_url, {"classifier.3.weight": torch.zeros(10, 4096)},
         {"classifier.3.weight": torch.zeros(4096, 4096)}),
]


@pytest.fixture(params=CASES, ids=[c.metric for c in CASES])
def case(request, tmp_path, monkeypatch):
    """An empty torch hub folder, no env var, offline, and a fresh network cache."""
    case = request.param
    monkeypatch.delenv(case.module.ENV, raising=False)
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(case.module, "_networks", {})
    return case


def _ctx():
    return EvalContext(get_dataset("mnist").info, "test", 6)


def test_offline_and_absent_is_one_line_at_prepare_and_no_download(case, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("must not try to download when GANBENCH_OFFLINE is set")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    metric = METRICS.get(case.metric)()
    with pytest.raises(AssetUnavailable) as err:
        metric.prepare(_ctx())
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"metric '{case.metric}' unavailable")
    assert case.module.WEIGHTS_FILE in msg and case.module.ENV in msg
    with pytest.raises(AssetUnavailable):  # compute without prepare refuses as well
        metric.compute(torch.zeros(6, 1, 28, 28), _ctx())


def test_online_the_usual_download_is_tried_once_and_its_failure_is_one_line(case, monkeypatch):
    monkeypatch.delenv("GANBENCH_OFFLINE")
    tried = []

    def no_network(url, dst, *args, **kwargs):
        tried.append((url, dst))
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(AssetUnavailable) as err:
        METRICS.get(case.metric)().prepare(_ctx())
    assert tried == [(case.url(), str(case.module.hub_weights_path()))]
    assert "\n" not in str(err.value) and "cannot be downloaded here" in str(err.value)


def test_env_path_must_be_a_fitting_file(case, tmp_path, monkeypatch):
    def prepare_with(path):
        monkeypatch.setenv(case.module.ENV, str(path))
        METRICS.get(case.metric)().prepare(_ctx())

    with pytest.raises(AssetUnavailable, match="is not a file"):
        prepare_with(tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x80\x04not a state dict")
    with pytest.raises(AssetUnavailable, match="not a plain state_dict"):
        prepare_with(junk)
    wrong = tmp_path / "wrong.pth"
    torch.save(case.wrong_shape, wrong)
    shape = "x".join(map(str, case.module.WEIGHTS.shape))
    with pytest.raises(AssetUnavailable, match=shape):
        prepare_with(wrong)
    partial = tmp_path / "partial.pth"
    torch.save(case.partial, partial)
    with pytest.raises(AssetUnavailable, match="does not fit"):
        prepare_with(partial)
