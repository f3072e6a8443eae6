"""SW-GAN (Deshpande et al., CVPR 2018): the sliced Wasserstein loss and training."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from pydantic import ValidationError

from ganbench.data.mnist import MNIST
from ganbench.data.toy2d import Ring8
from ganbench.methods.swgan import _sort_rows, random_directions, sliced_wasserstein
from ganbench.registry import METHODS
from ganbench.train import Trainer


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny nets: one intra-op thread avoids oversubscription on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _method(name="swgan", info=Ring8.info, **overrides):
    cls = METHODS.get(name)
    return cls(cls.Params(**cls.resolve_params(overrides, info)), info)


def _brute_force(x, y, directions):
    """Mean over directions of the best matching's mean squared gap, over all N! matchings."""
    total = 0.0
    for w in directions:
        px, py = (x @ w).tolist(), (y @ w).tolist()
        total += min(sum((a - py[j]) ** 2 for a, j in zip(px, perm)) / len(px)
                     for perm in itertools.permutations(range(len(py))))
    return total / len(directions)


def test_random_directions_are_unit_rows():
    d = random_directions(500, 7, generator=torch.Generator().manual_seed(0))
    assert d.shape == (500, 7)
    torch.testing.assert_close(d.norm(dim=1), torch.ones(500))


def test_identical_and_permuted_sets_give_zero():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 5, generator=g)
    dirs = random_directions(64, 5, generator=g)
    assert sliced_wasserstein(x, x, dirs).item() == 0.0
    assert sliced_wasserstein(x, x[torch.randperm(32, generator=g)], dirs).item() == 0.0


def test_one_dimensional_sets_by_hand():
    x = torch.tensor([[0.0], [1.0], [2.0]])
    y = torch.tensor([[5.0], [3.0], [4.0]])
    # sorted pairs (0,3), (1,4), (2,5): every gap is 3
    assert sliced_wasserstein(x, y, torch.tensor([[1.0]])).item() == pytest.approx(9.0)
    assert sliced_wasserstein(x, y, torch.tensor([[-1.0]])).item() == pytest.approx(9.0)
    # one outlier: x = {0, 0, 0}, y = {0, 0, 3} -> (0 + 0 + 9)/3
    assert sliced_wasserstein(torch.zeros(3, 1), torch.tensor([[3.0], [0.0], [0.0]]),
                              torch.tensor([[1.0]])).item() == pytest.approx(3.0)


def test_two_dimensional_sets_by_hand():
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    y = torch.tensor([[0.0, 2.0], [1.0, 2.0]])
    s = 1 / math.sqrt(2)
    dirs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [s, s]])
    # e1: {0,1} vs {0,1} -> 0 ; e2: {0,0} vs {2,2} -> 4 ; diagonal: {0, s} vs {2s, 3s} -> (2s)² = 2
    assert sliced_wasserstein(x, y, dirs).item() == pytest.approx((0 + 4 + 2) / 3, rel=1e-6)


def test_shift_gives_the_squared_projected_shift():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(50, 3, generator=g)
    v = torch.tensor([1.0, -2.0, 0.5])
    dirs = random_directions(20000, 3, generator=g)
    got = sliced_wasserstein(x, x + v, dirs).item()
    # each direction sees the shift <ω, v>: exactly mean_k <ω_k, v>²
    assert got == pytest.approx(((dirs @ v) ** 2).mean().item(), rel=1e-4)
    # and over uniform directions E<ω, v>² = ‖v‖²/d
    assert got == pytest.approx(v.pow(2).sum().item() / 3, rel=0.03)


def test_matches_brute_force_over_all_matchings():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(6, 3, generator=g), torch.randn(6, 3, generator=g) * 2 + 1
    dirs = random_directions(4, 3, generator=g)
    assert sliced_wasserstein(x, y, dirs).item() == pytest.approx(_brute_force(x, y, dirs), rel=1e-5)


def test_gradient_reaches_the_generated_set_only_through_sorting():
    x = torch.tensor([[0.0], [1.0]])
    y = torch.tensor([[3.0], [1.0]], requires_grad=True)
    sliced_wasserstein(x, y, torch.tensor([[1.0]])).backward()
    # matched: 1 <-> 0 and 3 <-> 1; d/dy mean (y - x)² = (y - x) for N = 2
    torch.testing.assert_close(y.grad, torch.tensor([[2.0], [1.0]]))


def test_cpu_sort_matches_torch_sort_in_value_and_gradient():
    g = torch.Generator().manual_seed(3)
    p = torch.randn(50, 33, generator=g, dtype=torch.float64)
    w = torch.randn(50, 33, generator=g, dtype=torch.float64)
    a, b = p.clone().requires_grad_(True), p.clone().requires_grad_(True)
    (_sort_rows(a) * w).sum().backward()
    (torch.sort(b, dim=-1).values * w).sum().backward()
    torch.testing.assert_close(_sort_rows(p), torch.sort(p, dim=-1).values)
    torch.testing.assert_close(a.grad, b.grad)


def test_rejects_sets_of_different_sizes():
    with pytest.raises(ValueError):
        sliced_wasserstein(torch.zeros(3, 2), torch.zeros(4, 2), torch.eye(2))


def test_params_defaults_and_validation():
    p = METHODS.get("swgan").Params()
    assert (p.lr_g, p.lr_d, p.beta1, p.num_projections, p.features, p.d_norm) == (1e-4, 1e-4, 0.5, 10000, "d", "layer")
    with pytest.raises(ValidationError):
        METHODS.get("swgan").Params(features="pixels")
    with pytest.raises(ValidationError):
        METHODS.get("swgan").Params(num_projections=0)


def test_discriminator_is_trained_only_in_feature_mode():
    torch.manual_seed(0)
    x = Ring8().load_split("test")[0][:32]
    for features, d_changes in (("d", True), ("data", False)):
        m = _method(features=features, width=8, num_projections=64)
        d_before = [p.clone() for p in m.D.parameters()]
        g_before = [p.clone() for p in m.G.parameters()]
        stats = m.step(lambda: x)
        assert ("loss_d" in stats) == d_changes
        assert any(not torch.equal(a, b) for a, b in zip(d_before, m.D.parameters())) == d_changes
        assert any(not torch.equal(a, b) for a, b in zip(g_before, m.G.parameters()))


@pytest.mark.parametrize("features", ["d", "data"])
def test_trains_200_steps_on_ring8(features):
    torch.manual_seed(0)
    # the raw-data variant with fewer projections: the 2D distance needs few, and it keeps this test short
    m = _method(width=32, features=features, **({"num_projections": 1000} if features == "data" else {}))
    data = Ring8().load_split("test")[0]
    trainer = Trainer(m, data, 64, 200, 200, lambda _m: ({}, {}), lambda *a: None)
    result = trainer.run()
    assert result.status == "finished" and result.last_step == 200
    assert result.last_losses and all(math.isfinite(v) for v in result.last_losses.values())
    assert torch.isfinite(m.sample(100)).all()


@pytest.mark.parametrize("features", ["d", "data"])
def test_one_step_on_mnist_shaped_data(features):
    torch.manual_seed(0)
    m = _method(info=MNIST.info, width=8, features=features)
    x = torch.rand(16, 1, 28, 28) * 2 - 1
    stats = m.step(lambda: x)
    assert all(math.isfinite(v) for v in stats.values())
    assert m.sample(4).shape == (4, 1, 28, 28)
