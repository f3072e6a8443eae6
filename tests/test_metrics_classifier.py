"""The MNIST classifier and the metrics built on it (fcd, cis, classes), and the evaluator.

The classifier is trained once into the real ganbench cache ($GANBENCH_CACHE if set) by the
session fixture; later runs load it. Reference features go to a temporary folder.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganbench.data.base import get_dataset, load_dataset
from ganbench.errors import GanbenchError
from ganbench.metrics import reference
from ganbench.metrics.evaluate import compute_metrics, evaluate, metrics_for, value_directions
from ganbench.metrics.mnist_classifier import ClassifierExtractor, accuracy, load_classifier


@pytest.fixture(scope="session")
def classifier():
    return load_classifier("mnist")


@pytest.fixture(scope="module")
def mnist_test():
    return load_dataset("mnist", "test")


@pytest.fixture(autouse=True)
def private_refstats(tmp_path, monkeypatch):
    monkeypatch.setattr(reference, "cache_dir", lambda: tmp_path)
    reference.clear_memory_cache()
    yield
    reference.clear_memory_cache()


def test_classifier_reaches_99_percent(classifier, mnist_test):
    x, y = mnist_test
    assert classifier.record["test_accuracy"] >= 0.99
    assert accuracy(classifier.model, x, y) >= 0.99
    feats, logits = classifier(x[:5])
    assert feats.shape == (5, 128) and logits.shape == (5, 10)
    assert (feats >= 0).all()  # post-ReLU features


def test_cis_of_real_digits_is_high_and_of_one_image_is_one(classifier, mnist_test):
    x, _ = mnist_test
    real, proto = compute_metrics(x, "mnist", ["cis"])
    assert real["cis"] > 9.0
    assert proto["cis"]["splits"] == 10 and proto["cis"]["n_gen"] == 10000
    same, _ = compute_metrics(x[:1].repeat(1000, 1, 1, 1), "mnist", ["cis"])
    assert same["cis"] == pytest.approx(1.0, abs=1e-6)


def test_classes_of_one_repeated_digit(classifier, mnist_test):
    x, y = mnist_test
    seven = x[(y == 7).nonzero()[0]].repeat(500, 1, 1, 1)
    one, proto = compute_metrics(seven, "mnist", ["classes"])
    assert one["classes_covered"] == 1
    assert one["classes_kl"] == pytest.approx(math.log(10), rel=1e-9)
    assert proto["classes"]["class_counts"][7] == 500
    real, _ = compute_metrics(x[:2000], "mnist", ["classes"])
    assert real["classes_covered"] == 10 and real["classes_kl"] < 0.01


def test_fcd_is_zero_on_the_reference_itself_and_grows_with_damage(classifier):
    x, _ = load_dataset("mnist", "train")
    idx = reference.reference_indices(len(x), 1000, seed=3)
    ref = x[idx]
    vals, proto = compute_metrics(ref, "mnist", ["fcd"], num_samples=1000, reference="train", reference_seed=3)
    assert abs(vals["fcd"]) < 1e-5  # float32 features; the eigen route leaves ~1e-6 of round-off
    assert proto["fcd"]["n_ref"] == 1000 and proto["fcd"]["split"] == "train"
    assert proto["fcd"]["weights_sha1"] == classifier.sha1
    xt, _ = load_dataset("mnist", "test")
    other, _ = compute_metrics(xt[:1000], "mnist", ["fcd"], num_samples=1000, reference="train", reference_seed=3)
    noisy = (xt[:1000] + 0.6 * torch.randn(1000, 1, 28, 28, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    damaged, _ = compute_metrics(noisy, "mnist", ["fcd"], num_samples=1000, reference="train", reference_seed=3)
    assert 0 < other["fcd"] < damaged["fcd"] / 5


def test_reference_features_are_cached_on_disk(classifier, monkeypatch, tmp_path):
    extractor = ClassifierExtractor("mnist")
    first, proto = reference.reference_outputs(extractor, "mnist", "test", 300, seed=1)
    assert first["features"].shape == (300, 128) and first["logits"].shape == (300, 10)
    files = list((tmp_path / "refstats").glob("mnist-test-*-n300-seed1.npz"))
    assert len(files) == 1
    reference.clear_memory_cache()

    def refuse(*args, **kwargs):
        raise AssertionError("recomputed instead of read from the cache")

    monkeypatch.setattr(ClassifierExtractor, "extract", refuse)
    again, proto_again = reference.reference_outputs(extractor, "mnist", "test", 300, seed=1)
    np.testing.assert_array_equal(again["features"], first["features"])
    assert proto_again == proto and proto["ref_subset"] == "randperm seed 1"


def test_evaluate_fixes_the_noise_and_extracts_once(classifier, mnist_test, monkeypatch):
    x, _ = mnist_test
    calls = []

    def sample_fn(n, generator):
        calls.append(n)
        return x[torch.randint(len(x), (n,), generator=generator)]

    real_extract = ClassifierExtractor.extract
    extracted = []

    def counting_extract(self, images, device="cpu"):
        extracted.append(len(images))
        return real_extract(self, images, device)

    monkeypatch.setattr(ClassifierExtractor, "extract", counting_extract)
    names = ["fcd", "cis", "classes"]
    values, protocols = evaluate(sample_fn, "mnist", names, num_samples=1200, reference="test", seed=5)
    assert calls == [500, 500, 200]
    assert extracted == [1200, 1200]  # generated once, reference once, shared by the three metrics
    assert set(values) == {"fcd", "cis", "classes_covered", "classes_kl"}
    assert set(protocols) == set(names)
    assert protocols["fcd"]["n_gen"] == 1200 and protocols["fcd"]["n_ref"] == 1200
    again, _ = evaluate(sample_fn, "mnist", names, num_samples=1200, reference="test", seed=5)
    assert again == values
    assert protocols["fcd"]["noise_seed"] == 5 and protocols["fcd"]["reference_seed"] == 0
    other, other_protocols = evaluate(sample_fn, "mnist", names, num_samples=1200, reference="test", seed=6)
    assert other["fcd"] != values["fcd"]
    # another noise seed is measured against the same reference subset
    assert other_protocols["fcd"]["ref_subset"] == protocols["fcd"]["ref_subset"] == "randperm seed 0"


def test_prepare_builds_the_reference_that_evaluate_reads(classifier, mnist_test, monkeypatch, tmp_path):
    from ganbench.metrics.base import EvalContext
    from ganbench.metrics.fcd import FCD

    x, _ = mnist_test
    FCD().prepare(EvalContext(get_dataset("mnist").info, "train", 400))  # as the driver does
    assert len(list((tmp_path / "refstats").glob("mnist-train-*-n400-seed0.npz"))) == 1
    reference.clear_memory_cache()
    extracted = []
    real_extract = ClassifierExtractor.extract
    monkeypatch.setattr(ClassifierExtractor, "extract",
                        lambda self, images, device="cpu": extracted.append(len(images)) or real_extract(self, images, device))
    evaluate(lambda n, g: x[torch.randint(len(x), (n,), generator=g)], "mnist", ["fcd"], 400,
             reference="train", seed=9)
    assert extracted == [400]  # only the generated samples; the reference came from prepare


def test_registry_views_and_inapplicable_metrics():
    mnist = get_dataset("mnist").info
    ring = get_dataset("ring8").info
    assert {"fid", "kid", "fcd", "cis", "classes"} <= set(metrics_for(mnist))
    assert "modes" not in metrics_for(mnist)
    assert metrics_for(ring) == ["modes"]
    directions = value_directions()
    assert directions["fid"] == directions["kid"] == directions["fcd"] == "min"
    assert directions["cis"] == directions["classes_covered"] == directions["modes_covered"] == "max"
    assert directions["classes_kl"] == directions["modes_kl"] == "min" and directions["modes_hq"] == "max"
    with pytest.raises(GanbenchError, match="does not apply"):
        compute_metrics(torch.zeros(10, 2), "ring8", ["fcd"])
    with pytest.raises(GanbenchError, match="unknown metric"):
        compute_metrics(torch.zeros(10, 2), "ring8", ["nonesuch"])
