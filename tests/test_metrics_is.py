"""IS through torch-fidelity's TF-Inception port: a suite asking for ``is`` without its weights
stops before training; the machinery runs end to end on a stand-in state_dict. (Finding,
fetching and checking the weights: tests/test_hub_weights.py.)"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch

from ganbench.data.base import load_dataset
from ganbench.errors import AssetUnavailable
from ganbench.metrics import inception_is
from ganbench.metrics.evaluate import compute_metrics
from ganbench.runner import run_suite
from tests.conftest import write_suite


@pytest.fixture(autouse=True)
def no_weights_anywhere(tmp_path, monkeypatch):
    """An empty torch hub folder, no env var, and a fresh network cache."""
    monkeypatch.delenv(inception_is.ENV, raising=False)
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(inception_is, "_networks", {})


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
