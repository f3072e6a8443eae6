"""IS through torch-fidelity's TF-Inception port: unavailable weights are a one-line error at
prepare() time (so a suite asking for ``is`` stops before training); a file that does not fit
the network is refused; the machinery runs end to end on a stand-in state_dict."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch

from ganbench.data.base import get_dataset, load_dataset
from ganbench.errors import AssetUnavailable
from ganbench.metrics import inception_is
from ganbench.metrics.base import EvalContext
from ganbench.metrics.evaluate import compute_metrics
from ganbench.registry import METRICS
from ganbench.runner import run_suite
from tests.conftest import write_suite


@pytest.fixture(autouse=True)
def no_weights_anywhere(tmp_path, monkeypatch):
    """An empty torch hub folder, no env var, and a fresh network cache."""
    monkeypatch.delenv(inception_is.ENV, raising=False)
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(inception_is, "_networks", {})


def _ctx():
    return EvalContext(get_dataset("mnist").info, "test", 4)


def test_unavailable_weights_fail_at_prepare_with_one_line():
    metric = METRICS.get("is")()
    with pytest.raises(AssetUnavailable) as err:
        metric.prepare(_ctx())
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("metric 'is' unavailable")
    assert inception_is.WEIGHTS_FILE in msg and inception_is.ENV in msg
    # compute without prepare refuses as well: never random weights
    with pytest.raises(AssetUnavailable):
        metric.compute(torch.zeros(2, 1, 28, 28), _ctx())


def test_online_the_usual_download_is_tried_once_and_its_failure_is_one_line(monkeypatch):
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    monkeypatch.delenv("GANBENCH_OFFLINE")
    tried = []

    def no_network(url, dst, *args, **kwargs):
        tried.append((url, dst))
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(AssetUnavailable) as err:
        METRICS.get("is")().prepare(_ctx())
    assert tried == [(URL_INCEPTION_V3, str(inception_is.hub_weights_path()))]
    assert "\n" not in str(err.value) and "cannot be downloaded here" in str(err.value)


def test_env_path_must_be_a_fitting_file(tmp_path, monkeypatch):
    monkeypatch.setenv(inception_is.ENV, str(tmp_path / "missing.pth"))
    with pytest.raises(AssetUnavailable, match="is not a file"):
        METRICS.get("is")().prepare(_ctx())
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a state dict")
    monkeypatch.setenv(inception_is.ENV, str(junk))
    with pytest.raises(AssetUnavailable, match="not a plain state_dict"):
        METRICS.get("is")().prepare(_ctx())
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(1000, 2048)}, wrong)
    monkeypatch.setenv(inception_is.ENV, str(wrong))
    with pytest.raises(AssetUnavailable, match="1008x2048"):
        METRICS.get("is")().prepare(_ctx())
    partial = tmp_path / "partial.pth"
    torch.save({"fc.weight": torch.zeros(1008, 2048), "fc.bias": torch.zeros(1008)}, partial)
    monkeypatch.setenv(inception_is.ENV, str(partial))
    with pytest.raises(AssetUnavailable, match="does not fit"):
        METRICS.get("is")().prepare(_ctx())


def test_a_suite_asking_for_is_stops_before_training(tmp_path):
    suite = write_suite(tmp_path, textwrap.dedent("""\
        name: wants_is
        datasets: [mnist]
        methods: [gan]
        params: {width: 8}
        seeds: [0]
        train: {iterations: 10, batch_size: 16, eval_every: 10}
        eval: {metrics: [cis, is], num_samples: 100, reference: test}
    """))
    with pytest.raises(AssetUnavailable, match="metric 'is' unavailable"):
        run_suite(suite, results_root=tmp_path / "r", local=True)
    assert not list((tmp_path / "r").glob("wants_is/trials/*/checkpoint.pt"))


def test_machinery_on_a_stand_in_state_dict(tmp_path, monkeypatch):
    """A state_dict of the right layout (randomly initialised, *test scaffolding only*) placed
    where the real file would be: the metric loads it, computes 1008 logits per image and the
    score with torch-fidelity's own algebra."""
    from torch_fidelity import feature_extractor_inceptionv3 as fe
    from torch_fidelity.metric_isc import isc_features_to_metric

    with monkeypatch.context() as m:
        m.setattr(fe, "load_state_dict_from_url", lambda *a, **k: {})
        m.setattr(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd, *a, **k: None)
        torch.manual_seed(0)
        stand_in = fe.FeatureExtractorInceptionV3("x", ["logits_unbiased"]).state_dict()
    hub = tmp_path / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(stand_in, hub / inception_is.WEIGHTS_FILE)
    del stand_in

    x, _ = load_dataset("mnist", "test")
    values, protocols = compute_metrics(x[:4], "mnist", ["is"])
    p = protocols["is"]
    assert 1.0 <= values["is"] <= 1008 and p["n_gen"] == 4 and p["splits"] == 4
    assert len(p["weights_sha1"]) == 40 and p["extractor"] == inception_is.EXTRACTOR_NAME
    assert "bilinear" in p["resize"] and p["n_ref"] == 0
    logits = inception_is.TorchFidelityInceptionLogits().extract(x[:4], "cpu")["logits"]
    assert logits.shape == (4, 1008) and np.all(np.isfinite(logits))
    theirs = isc_features_to_metric(torch.from_numpy(logits), splits=4, shuffle=True, rng_seed=2020)
    assert values["is"] == pytest.approx(theirs["inception_score_mean"], rel=1e-6)
