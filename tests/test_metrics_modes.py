"""The VEEGAN/PacGAN mode metric on hand-made 2D points."""

from __future__ import annotations

import math

import pytest
import torch

from ganbench.data.base import get_dataset, load_dataset
from ganbench.metrics.evaluate import compute_metrics, evaluate
from ganbench.metrics.modes import mode_scores


def test_points_at_three_ring_centres_plus_far_points():
    info = get_dataset("ring8").info
    centres = torch.tensor(info.extras["centres"])
    std = info.extras["std"]
    on_modes = torch.cat([centres[[0, 3, 5]]] * 10)  # 30 points exactly at 3 centres
    near_miss = centres[1:2] + torch.tensor([[3.5 * std, 0.0]])  # just outside 3 sigma
    far = torch.tensor([[5.0, 5.0], [0.0, 0.0], [-3.0, 1.0]]).repeat(3, 1)  # 9 far points
    points = torch.cat([on_modes, near_miss, far])
    values, proto = compute_metrics(points, "ring8", ["modes"])
    assert values["modes_covered"] == 3
    assert values["modes_hq"] == pytest.approx(30 / 40)
    assert values["modes_kl"] == pytest.approx(math.log(8 / 3))  # uniform over 3 of 8 modes
    assert proto["modes"]["hq_counts"] == [10, 0, 0, 10, 0, 10, 0, 0]


def test_threshold_is_three_sigma_and_unbalanced_histogram():
    centres = [[0.0, 0.0], [10.0, 0.0]]
    pts = [[0.29, 0.0]] * 3 + [[10.0, 0.31]]  # std 0.1: inside, inside x3, outside
    values, counts = mode_scores(pts, centres, std=0.1)
    assert counts.tolist() == [3, 0] and values["modes_covered"] == 1 and values["modes_hq"] == 0.75
    assert values["modes_kl"] == pytest.approx(math.log(2))
    values, counts = mode_scores([[0.0, 0.0]] * 3 + [[10.0, 0.0]], centres, std=0.1)
    assert values["modes_kl"] == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5))


def test_no_high_quality_sample_is_total_collapse():
    values, counts = mode_scores([[100.0, 100.0]] * 5, [[0.0, 0.0], [1.0, 1.0]], std=0.01)
    assert values == {"modes_covered": 0.0, "modes_hq": 0.0, "modes_kl": pytest.approx(math.log(2))}


@pytest.mark.parametrize("name,modes", [("ring8", 8), ("grid25", 25)])
def test_real_data_covers_every_mode(name, modes):
    x, _ = load_dataset(name, "test")

    def sample_fn(n, generator):
        return x[torch.randint(len(x), (n,), generator=generator)]

    values, proto = evaluate(sample_fn, name, ["modes"], num_samples=2500, seed=0)
    assert values["modes_covered"] == modes
    assert values["modes_hq"] == pytest.approx(1 - math.exp(-4.5), abs=0.008)  # P(r < 3 sigma) in 2D
    assert values["modes_kl"] < 0.02
    assert proto["modes"]["n_gen"] == 2500
