"""Each method's losses on small inputs whose values can be checked by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganbench.data.toy2d import Ring8
from ganbench.methods import gan, gan_minimax, hinge, lsgan, wgan
from ganbench.methods.penalties import wgan_gp_penalty
from ganbench.registry import METHODS

REAL = torch.tensor([2.0, 0.0])
FAKE = torch.tensor([-1.0, 1.0])
sp = lambda t: math.log1p(math.exp(t))  # noqa: E731  softplus


def test_non_saturating_gan():
    # D: mean softplus(-real) + mean softplus(fake)
    expected_d = (sp(-2) + sp(0)) / 2 + (sp(-1) + sp(1)) / 2
    assert gan.discriminator_loss(REAL, FAKE).item() == pytest.approx(expected_d, rel=1e-6)
    # G: mean softplus(-fake) = -mean log sigmoid(fake)
    assert gan.generator_loss(FAKE).item() == pytest.approx((sp(1) + sp(-1)) / 2, rel=1e-6)
    assert gan.generator_loss(torch.tensor([0.0])).item() == pytest.approx(math.log(2), rel=1e-6)


def test_minimax_gan_generator_is_log_one_minus_d():
    d = torch.sigmoid(FAKE)
    expected = torch.log(1 - d).mean().item()
    assert gan_minimax.generator_loss(FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_lsgan_codings():
    # (a, b, c) = (0, 1, 1): ½E(D(x)-1)² + ½E(D(G(z)))²
    assert lsgan.discriminator_loss(REAL, FAKE).item() == pytest.approx(0.5 * (1 + 1) / 2 + 0.5 * (1 + 1) / 2)
    assert lsgan.generator_loss(FAKE).item() == pytest.approx(0.5 * (4 + 0) / 2)
    # (-1, 1, 0)
    assert lsgan.discriminator_loss(REAL, FAKE, a=-1.0, b=1.0).item() == pytest.approx(0.5 * 1 + 0.5 * (0 + 4) / 2)
    assert lsgan.generator_loss(FAKE, c=0.0).item() == pytest.approx(0.5 * 1)


def test_hinge():
    # relu(1-2)=0, relu(1-0)=1 -> 0.5 ; relu(1-1)=0, relu(1+1)=2 -> 1.0
    assert hinge.discriminator_loss(REAL, FAKE).item() == pytest.approx(1.5)
    assert hinge.generator_loss(FAKE).item() == pytest.approx(0.0)
    assert hinge.generator_loss(torch.tensor([3.0, 1.0])).item() == pytest.approx(-2.0)


def test_wgan_critic_and_generator():
    assert wgan.critic_loss(REAL, FAKE).item() == pytest.approx(0.0 - 1.0)
    assert wgan.generator_loss(torch.tensor([3.0, 1.0])).item() == pytest.approx(-2.0)


class Linear2D(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x):
        return x @ self.w


def test_wgan_gp_penalty_on_a_linear_critic():
    # the gradient of w·x is w everywhere: penalty = (‖w‖ - 1)²
    critic = Linear2D([3.0, 4.0])
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert wgan_gp_penalty(critic, real, fake).item() == pytest.approx((5.0 - 1.0) ** 2, rel=1e-6)
    assert wgan_gp_penalty(Linear2D([0.6, 0.8]), real, fake).item() == pytest.approx(0.0, abs=1e-10)


def _method(name, **overrides):
    cls = METHODS.get(name)
    return cls(cls.Params(**cls.resolve_params(overrides, Ring8.info)), Ring8.info)


def test_wgan_clips_weights_and_boosts_critic():
    m = _method("wgan", lr_d=1.0)  # a huge step would leave the box without clipping
    data = torch.randn(256, 2)
    calls = []

    def next_real():
        calls.append(1)
        return data[:32]

    m.step(next_real)
    assert all(p.abs().max() <= 0.01 + 1e-12 for p in m.D.parameters())
    assert len(calls) == 100  # first 25 generator iterations: 100 critic steps
    m.iteration = 30
    calls.clear()
    m.step(next_real)
    assert len(calls) == 5


@pytest.mark.parametrize("name", ["gan", "gan_minimax", "lsgan", "hinge", "wgan", "wgan_gp",
                                  "san_hinge", "san_gan", "swgan", "gngan", "distgan"])
def test_every_method_steps_and_samples(name):
    torch.manual_seed(0)
    m = _method(name, width=16)
    x = Ring8().load_split("test")[0]
    before = [p.clone() for p in m.G.parameters()]
    stats = m.step(lambda: x[torch.randint(len(x), (32,))])
    assert {"loss_d", "loss_g"} <= set(stats) and all(math.isfinite(v) for v in stats.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, m.G.parameters()))
    assert m.sample(10).shape == (10, 2)
