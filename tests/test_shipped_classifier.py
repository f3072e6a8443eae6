"""The shipped dataset classifiers (ganbench/assets/classifiers) and the classifier for any
labelled small image dataset (ganbench/metrics/mnist_classifier.py)."""

from __future__ import annotations

import shutil

import pytest
import torch

from ganbench.data.base import Dataset, DatasetInfo, load_dataset
from ganbench.errors import AssetUnavailable, GanbenchError
from ganbench.metrics import mnist_classifier as mc
from ganbench.registry import DATASETS

MAX_BYTES = 2 * 1024 * 1024


@pytest.fixture(autouse=True)
def fresh_memory(monkeypatch):
    """Every test loads from disk (the in-process table is emptied before and after)."""
    monkeypatch.delenv(mc.TRAIN_ENV, raising=False)
    saved = dict(mc._loaded)
    mc._loaded.clear()
    yield
    mc._loaded.clear()
    mc._loaded.update(saved)


@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the default load must not train")

    monkeypatch.setattr(mc, "train_classifier", refuse)


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_shipped_file_is_small_and_its_weights_have_the_recorded_sha1(dataset):
    path = mc.shipped_path(dataset)
    assert path is not None and path.is_file()
    assert path.stat().st_size < MAX_BYTES
    blob = torch.load(path, map_location="cpu", weights_only=True)
    assert mc._state_sha1(blob["state_dict"]) == mc.SHIPPED[dataset]
    record = blob["record"]
    assert record["dataset"] == dataset and record["arch"] == "classifier28-v2"
    assert record["test_accuracy"] >= mc.MIN_ACCURACY[dataset]
    assert (record["epochs"], record["seed"]) == (mc.EPOCHS, mc.TRAIN_SEED)


def test_default_load_is_the_shipped_file_and_does_not_train(no_training, tmp_path, monkeypatch):
    monkeypatch.setattr(mc, "classifier_path", lambda dataset="mnist": tmp_path / f"{dataset}.pt")
    clf = mc.load_classifier("mnist")
    assert clf.source == "shipped" and clf.sha1 == mc.SHIPPED["mnist"]
    assert not list(tmp_path.iterdir())  # nothing written to the cache
    proto = mc.ClassifierExtractor("mnist").protocol()
    assert proto["weights_sha1"] == mc.SHIPPED["mnist"] and proto["classifier_source"] == "shipped"
    assert proto["extractor"] == "mnist-classifier28-v2"


def test_shipped_mnist_classifier_accuracy_on_a_test_subset(no_training):
    x, y = load_dataset("mnist", "test")
    clf = mc.load_classifier("mnist")
    # every 5th test image: 2,000 images; the full split gives the recorded 99.25 %
    assert mc.accuracy(clf.model, x[::5], y[::5]) >= 0.985


def test_shipped_fashion_classifier_accuracy_on_a_test_subset(no_training):
    try:
        x, y = load_dataset("fashion_mnist", "test")
    except AssetUnavailable as exc:  # no Debian package route on this machine
        pytest.skip(str(exc))
    clf = mc.load_classifier("fashion_mnist")
    assert mc.accuracy(clf.model, x[::5], y[::5]) >= 0.88  # full split: 90.86 %


def test_a_damaged_shipped_file_is_one_line_naming_it(no_training, tmp_path, monkeypatch):
    bad = tmp_path / "mnist.pt"
    shutil.copy(mc.shipped_path("mnist"), bad)
    blob = torch.load(bad, weights_only=True)
    blob["state_dict"]["fc2.bias"] += 1e-3
    torch.save(blob, bad)
    monkeypatch.setattr(mc, "shipped_path", lambda dataset: bad)
    with pytest.raises(GanbenchError, match="SHA1") as info:
        mc.load_classifier("mnist")
    assert str(bad) in str(info.value) and "\n" not in str(info.value)
    bad.write_bytes(b"not a torch file")
    with pytest.raises(GanbenchError, match="not a ganbench classifier file"):
        mc.load_classifier("mnist")


def test_training_anew_goes_to_the_cache_under_another_hash(tmp_path, monkeypatch):
    calls = []

    def fake_train(dataset, device="cpu"):  # stands in for 3 epochs of MNIST; the wiring is tested
        calls.append(dataset)
        torch.manual_seed(123)
        return mc.SmallClassifier(10).eval(), {"arch": mc.ARCH, "dataset": dataset, "input_shape": [1, 28, 28],
                                               "test_accuracy": 0.995}

    monkeypatch.setattr(mc, "train_classifier", fake_train)
    monkeypatch.setattr(mc, "classifier_path", lambda dataset="mnist": tmp_path / f"{dataset}.pt")
    monkeypatch.setenv(mc.TRAIN_ENV, "1")
    clf = mc.load_classifier("mnist")
    assert calls == ["mnist"] and (tmp_path / "mnist.pt").is_file()
    assert clf.source == "trained" and clf.sha1 != mc.SHIPPED["mnist"]
    proto = mc.ClassifierExtractor("mnist").protocol()
    assert proto["classifier_source"] == "trained" and proto["weights_sha1"] == clf.sha1
    mc._loaded.clear()
    assert mc.load_classifier("mnist").sha1 == clf.sha1 and calls == ["mnist"]  # cached, not retrained
    monkeypatch.delenv(mc.TRAIN_ENV)
    assert mc.load_classifier("mnist").source == "shipped"


# -- any labelled small image dataset -------------------------------------------------------------

class _Colours(Dataset):
    """A tiny labelled 3×12×12 dataset: class k lights channel k % 3 in the half k // 3."""

    info = DatasetInfo("_test_colours", "image", (3, 12, 12), num_classes=6,
                       extra=(("classifier_min_accuracy", 0.95),))

    def load_split(self, split):
        g = torch.Generator().manual_seed(0 if split == "train" else 1)
        n = 1024 if split == "train" else 300
        y = torch.randint(6, (n,), generator=g)
        x = torch.rand(n, 3, 12, 12, generator=g) * 0.6 - 1.0
        for i, k in enumerate(y.tolist()):
            rows = slice(0, 6) if k < 3 else slice(6, 12)
            x[i, k % 3, rows] += 1.2
        return x, y


if "_test_colours" not in DATASETS:
    DATASETS.register("_test_colours")(_Colours)


def test_classifier_adapts_to_a_three_channel_dataset_and_keeps_its_floor(one_thread, tmp_path, monkeypatch):
    monkeypatch.setattr(mc, "classifier_path", lambda dataset="mnist": tmp_path / f"{dataset}.pt")
    assert mc.min_accuracy("_test_colours") == 0.95  # from DatasetInfo.extras
    clf = mc.load_classifier("_test_colours")  # nothing shipped: trained and cached
    assert clf.source == "trained" and clf.in_shape == (3, 12, 12)
    assert clf.record["arch"] == "classifier-3x12x12-v2" and clf.record["test_accuracy"] >= 0.95
    ext = mc.ClassifierExtractor("_test_colours")
    x, y = load_dataset("_test_colours", "test")
    out = ext.extract(x[:7])
    assert out["features"].shape == (7, mc.FEATURE_DIM) and out["logits"].shape == (7, 6)
    assert ext.name == "_test_colours-classifier-3x12x12-v2"
    with pytest.raises(ValueError, match="3×12×12"):
        ext.extract(torch.zeros(2, 1, 28, 28))
    # the same recipe, run twice, gives the same weights (seeded, one thread)
    again, _ = mc.train_classifier("_test_colours")
    assert mc._state_sha1(again.state_dict()) == clf.sha1


def test_floor_is_enforced_and_unsuitable_datasets_are_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(mc, "classifier_path", lambda dataset="mnist": tmp_path / f"{dataset}.pt")
    monkeypatch.setitem(mc.MIN_ACCURACY, "_test_colours", 1.01)
    with pytest.raises(mc.ClassifierTooWeak, match="_test_colours"):
        mc.load_classifier("_test_colours")
    with pytest.raises(GanbenchError, match="labelled image dataset"):
        mc.load_classifier("grid25")
