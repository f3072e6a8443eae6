"""Every shipped reproduction (suites/repro/*.yaml) validates, full and quick, and keeps the
protocol facts its comments copy from the paper (cheap: no training)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganbench.registry import METHODS
from ganbench.suite import load_suite

REPRO = Path(__file__).resolve().parent.parent / "suites" / "repro"
SUITES = sorted(REPRO.glob("*.yaml"))
#: a suite without a published value must say why in its comments
NO_PUBLISHED_OK = {"gngan_2d"}


def test_the_four_reproductions_are_shipped():
    assert {p.stem for p in SUITES} >= {"pacgan_2d", "stacked_mnist", "lucic2018_mnist", "gngan_2d"}


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
@pytest.mark.parametrize("quick", [False, True], ids=["full", "quick"])
def test_suite_validates_and_its_method_params_resolve(path, quick):
    suite = load_suite(path, quick=quick)
    trials = suite.expand()
    assert trials
    for spec in trials:  # what a trial does first: the method's parameters, fully validated
        cls = METHODS.get(spec.method)
        cls.Params(**spec.param_dict)
    if suite.name not in NO_PUBLISHED_OK:
        assert suite.published, f"{path.name}: no published: block"
    assert suite.name == path.stem


def _published(suite, method, dataset, metric):
    return next(p for p in suite.published if p.key == (method, dataset, metric))


def test_pacgan_2d_protocol():
    suite = load_suite(REPRO / "pacgan_2d.yaml")
    assert suite.eval.num_samples == 2500 and suite.eval.metrics == ["modes"]
    assert suite.params["net"] == "pacgan_mlp" and suite.params["width"] == 400
    assert (suite.params["lr_g"], suite.params["beta1"]) == (1e-4, 0.8)
    assert [m.params.get("pack", 1) for m in suite.methods] == [1, 2, 3, 4]
    assert len(suite.seeds) >= 3
    gan = _published(suite, "GAN", "grid25", "modes_covered")
    assert (gan.value, gan.spread, gan.runs) == (17.3, 0.8, 10)
    assert _published(suite, "GAN", "ring8", "modes_covered").value == 6.3
    assert _published(suite, "PacGAN4", "grid25", "modes_covered").value == 24.8
    # Table 1 has modes, HQ % and reverse KL for each of the 4 rows on both mixtures
    assert {p.key for p in suite.published} == {(m.row, d, k) for m in suite.methods for d in suite.datasets
                                                 for k in ("modes_covered", "modes_hq", "modes_kl")}
    hq = _published(suite, "PacGAN2", "ring8", "modes_hq")
    assert (hq.value, hq.spread) == (0.956, 0.02)  # 95.6 ± 2.0 %
    assert _published(suite, "PacGAN4", "grid25", "modes_kl").value == 0.04
    # a quick profile is a smoke run of the same rows
    quick = load_suite(REPRO / "pacgan_2d.yaml", quick=True)
    assert [m.row for m in quick.methods] == [m.row for m in suite.methods]


def test_stacked_mnist_and_lucic_protocols():
    stacked = load_suite(REPRO / "stacked_mnist.yaml")
    assert stacked.eval.num_samples == 26000 and stacked.eval.metrics == ["stacked_modes"]
    assert _published(stacked, "DCGAN", "stacked_mnist", "stacked_modes_covered").value == 99
    pac_kl = _published(stacked, "PacDCGAN2", "stacked_mnist", "stacked_kl")
    assert (pac_kl.value, pac_kl.spread, pac_kl.runs) == (0.06, 0.003, 10)  # a standard error
    lucic = load_suite(REPRO / "lucic2018_mnist.yaml")
    assert lucic.eval.num_samples == 10000 and lucic.eval.reference == "test"
    assert lucic.eval.resize == "legacy_tensorflow" and lucic.train.batch_size == 64
    assert _published(lucic, "WGAN-GP", "mnist", "fid").spread == 5.0
    assert _published(lucic, "WGAN", "fashion_mnist", "fid").value == 21.5
    assert _published(lucic, "BEGAN", "fashion_mnist", "fid").value == 22.9
