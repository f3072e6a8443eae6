"""Stacked MNIST: the dataset's construction and the stacked_modes metric on known labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganbench.data.base import get_dataset, load_dataset
from ganbench.data.stacked_mnist import stacked_indices
from ganbench.errors import GanbenchError
from ganbench.metrics.evaluate import compute_metrics, value_directions
from ganbench.metrics.mnist_classifier import load_classifier
from ganbench.metrics.stacked_modes import mode_scores, stacked_labels


@pytest.fixture(scope="module")
def stacked_test():
    return load_dataset("stacked_mnist", "test")


@pytest.fixture(scope="module")
def correct_digits():
    """MNIST test digits (first 50 per class) that the classifier labels correctly."""
    x, y = load_dataset("mnist", "test")
    _, logits = load_classifier("mnist")(x[:3000])
    ok = (logits.argmax(1) == y[:3000])
    return {d: x[:3000][ok & (y[:3000] == d)][:50] for d in range(10)}


def test_stacked_split_is_seeded_and_labelled(stacked_test):
    x, y = stacked_test
    info = get_dataset("stacked_mnist").info
    assert info.shape == (3, 28, 28) and info.num_classes == 1000 and info.kind == "image"
    assert x.shape == (10000, 3, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) == -1.0 and float(x.max()) == 1.0
    mx, my = load_dataset("mnist", "test")
    idx = stacked_indices("test")
    assert torch.equal(idx, stacked_indices("test"))  # same draw every time
    for i in (0, 1, 9999):
        for c in range(3):
            assert torch.equal(x[i, c], mx[idx[i, c], 0])
        assert int(y[i]) == 100 * int(my[idx[i, 0]]) + 10 * int(my[idx[i, 1]]) + int(my[idx[i, 2]])
    assert len(torch.unique(y)) > 990  # 10k draws cover almost all of the 1000 modes
    with pytest.raises(GanbenchError):
        compute_metrics(x[:10], "stacked_mnist", ["classes"])  # the 10-class metric does not apply


def test_seven_known_modes_are_seven_covered(correct_digits):
    modes = [(0, 1, 2), (3, 4, 5), (6, 7, 8), (9, 9, 9), (1, 1, 0), (5, 0, 5), (2, 8, 4)]
    images, labels = [], []
    for m in modes:
        for j in range(20):  # 20 different triples of real digits per mode
            images.append(torch.cat([correct_digits[m[c]][(j + 7 * c) % 50] for c in range(3)]))
            labels.append(100 * m[0] + 10 * m[1] + m[2])
    fake = torch.stack(images)
    assert fake.shape == (140, 3, 28, 28)
    assert stacked_labels(fake).tolist() == labels
    values, protocols = compute_metrics(fake, "stacked_mnist", ["stacked_modes"])
    assert values["stacked_modes_covered"] == 7
    assert values["stacked_kl"] == pytest.approx(math.log(1000 / 7), rel=1e-9)
    p = protocols["stacked_modes"]
    assert p["n_gen"] == 140 and p["n_ref"] == 0 and p["split"].startswith("none")
    assert p["extractor"].startswith("mnist-classifier28") and len(p["weights_sha1"]) == 40
    assert p["resize"].startswith("none") and p["recommended_n_gen"] == 25600
    assert value_directions()["stacked_modes_covered"] == "max" and value_directions()["stacked_kl"] == "min"


def test_real_stacked_digits_cover_many_modes(stacked_test):
    x, y = stacked_test
    labels = stacked_labels(x[:2000])
    assert (labels == y[:2000].numpy()).mean() > 0.96  # ~0.993³ per image
    covered, kl, counts = mode_scores(labels)
    # 2000 uniform draws over 1000 modes cover about 1000·(1 − e⁻²) ≈ 865
    assert 820 < covered < 910 and counts.sum() == 2000 and kl < 0.6


def test_mode_scores_edge_cases():
    covered, kl, _ = mode_scores(np.full(50, 123))
    assert covered == 1 and kl == pytest.approx(math.log(1000))
    covered, kl, _ = mode_scores(np.arange(1000))
    assert covered == 1000 and kl == pytest.approx(0.0, abs=1e-12)
