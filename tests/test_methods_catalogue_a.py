"""dragan, pacgan and dcgan: the DRAGAN penalty by hand, which networks each sub-step moves,
how many critic steps an iteration takes, and a few hundred trainer steps without divergence."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganbench.data.mnist import MNIST
from ganbench.data.toy2d import Ring8
from ganbench.methods.penalties import dragan_penalty, dragan_perturb
from ganbench.registry import METHODS
from ganbench.train import Trainer

NEW = ["dragan", "pacgan", "dcgan"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _make(name, info=Ring8.info, **overrides):
    cls = METHODS.get(name)
    return cls(cls.Params(**cls.resolve_params({"width": 8, **overrides}, info)), info)


class Linear2D(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float64))

    def forward(self, x):
        return x @ self.w


def test_dragan_penalty_on_a_linear_critic():
    # ∇(w·x) = w at every x̂, wherever the perturbation lands: (sqrt(1e-4 + ‖w‖²) - 1)²
    real = torch.randn(16, 2, dtype=torch.float64)
    assert dragan_penalty(Linear2D([3.0, 4.0]), real).item() == pytest.approx((math.sqrt(25.0001) - 1) ** 2, rel=1e-6)
    assert dragan_penalty(Linear2D([0.6, 0.8]), real).item() == pytest.approx((math.sqrt(1.0001) - 1) ** 2, rel=1e-6)


def test_dragan_perturbs_real_data_by_half_its_std_times_uniform_noise():
    # batch values {0, 0, 2, 2}: mean 1, population std 1 -> x_p - x = 0.5·u
    x = torch.tensor([[0.0, 0.0], [2.0, 2.0]])
    u = torch.rand(2, 2, generator=torch.Generator().manual_seed(7))
    assert torch.allclose(dragan_perturb(x, torch.Generator().manual_seed(7)) - x, 0.5 * u)


def test_defaults_of_the_rows():
    dragan = METHODS.get("dragan").resolve_params({}, MNIST.info)
    assert (dragan["lambda_dragan"], dragan["lr_d"], dragan["beta1"], dragan["n_critic"], dragan["d_norm"]) \
        == (10.0, 1e-4, 0.5, 1, "bn")
    pacgan = METHODS.get("pacgan").resolve_params({}, MNIST.info)
    assert pacgan["pack"] == 2
    dcgan = METHODS.get("dcgan").resolve_params({}, MNIST.info)
    assert (dcgan["lr_g"], dcgan["beta1"], dcgan["d_norm"], dcgan["z_dim"]) == (2e-4, 0.5, "bn", 100)
    z = _make("dcgan").prior(1000)
    assert z.min() >= -1 and z.max() <= 1 and z.mean().abs() < 0.1  # U(-1, 1)
    for name in NEW:
        assert METHODS.get(name).paper and METHODS.get(name).description()


def _snapshot(net):
    return [p.detach().clone() for p in net.parameters()]


def _same(net, snap):
    return all(torch.equal(p, q) for p, q in zip(net.parameters(), snap))


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("n_critic", [1, 3])
def test_sub_steps_move_only_their_network(name, n_critic):
    torch.manual_seed(0)
    m = _make(name, n_critic=n_critic)
    data = torch.randn(64, 2)
    events = []
    snap = {"G": _snapshot(m.G), "D": _snapshot(m.D)}
    d_step, g_step = m.opt_d.step, m.opt_g.step

    def checked(which, other, step):
        def run(*args, **kwargs):
            out = step(*args, **kwargs)
            net, fixed = getattr(m, which), getattr(m, other)
            assert _same(fixed, snap[other]), f"the {which} step moved {other}"
            assert not _same(net, snap[which]), f"the {which} step did not move {which}"
            snap[which] = _snapshot(net)
            events.append(which)
            return out
        return run

    m.opt_d.step = checked("D", "G", d_step)
    m.opt_g.step = checked("G", "D", g_step)
    draws = []
    m.step(lambda: (draws.append(1), data[:16])[1])
    assert events == ["D"] * n_critic + ["G"]
    assert len(draws) == n_critic


@pytest.mark.parametrize("name", NEW)
def test_trains_200_steps_on_ring8_without_diverging(name):
    torch.manual_seed(0)
    data = Ring8().load_split("test")[0]
    m = _make(name)
    result = Trainer(m, data, 32, 200, 200, lambda _: ({}, {}), lambda *a: None).run()
    assert result.status == "finished" and result.last_step == 200
    assert all(math.isfinite(v) for v in result.last_losses.values())
    assert torch.isfinite(m.sample(64)).all()


def test_dragan_and_pacgan_train_on_an_mnist_subset():
    data = MNIST().load_split("test")[0][:256]  # in [-1, 1]
    for name in ("dragan", "pacgan"):
        torch.manual_seed(0)
        m = _make(name, MNIST.info, width=4, z_dim=8)
        result = Trainer(m, data, 8, 30, 30, lambda _: ({}, {}), lambda *a: None).run()
        assert result.status == "finished", result.error
        assert m.sample(4).shape == (4, 1, 28, 28)
    assert m.D.body[0].in_channels == 2  # pacgan's D sees pairs of images


def test_list_methods_prints_description_and_paper():
    from typer.testing import CliRunner

    from ganbench.cli import app

    out = CliRunner().invoke(app, ["list", "methods"], env={"COLUMNS": "250"}).output
    row = next(line for line in out.splitlines() if " dragan " in line)
    assert "DRAGAN: the non-saturating GAN" in row and "Kodali et al. 2017" in row
    assert "Gulrajani et al. 2017, Improved Training of Wasserstein GANs" in out
