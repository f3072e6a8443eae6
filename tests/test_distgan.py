"""Dist-GAN: its penalty, reconstruction-weight schedule, D losses, λ_w, and short training runs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganbench.data.mnist import MNIST
from ganbench.data.toy2d import Ring8
from ganbench.methods.distgan import (d_loss_hinge, d_loss_log, distgan_penalty,
                                      recon_weight_schedule)
from ganbench.methods.penalties import wgan_gp_penalty
from tests.test_gngan import _make, train_on_ring8

sp = lambda t: math.log1p(math.exp(t))  # noqa: E731  softplus


class LinearCritic(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(w, dtype=torch.float32))

    def forward(self, x):
        return (x.flatten(1) * self.w.flatten()).sum(1)


def test_distgan_penalty_is_the_rms_slope_on_a_linear_critic():
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    # RMS of w = (3, 4) is 5/√2 (its L2 norm, WGAN-GP's slope, is 5)
    assert distgan_penalty(LinearCritic([3.0, 4.0]), real, fake).item() == pytest.approx((5 / math.sqrt(2) - 1) ** 2, rel=1e-6)
    assert distgan_penalty(LinearCritic([1.0, -1.0]), real, fake).item() == pytest.approx(0.0, abs=1e-10)
    assert wgan_gp_penalty(LinearCritic([1.0, -1.0]), real, fake).item() == pytest.approx((math.sqrt(2) - 1) ** 2, rel=1e-6)
    # on 28×28 images a constant slope of 0.5 per pixel has RMS 0.5 (L2 norm 14)
    images = torch.randn(4, 1, 28, 28), torch.randn(4, 1, 28, 28)
    assert distgan_penalty(LinearCritic(torch.full((784,), 0.5)), *images).item() == pytest.approx(0.25, rel=1e-5)


def test_recon_weight_schedule_matches_the_official_formula():
    assert [recon_weight_schedule(t) for t in (0.0, 0.5, 0.625, 0.75, 1.0)] == pytest.approx([0.05, 0.05, 0.025, 0.0, 0.0])
    for k in range(101):
        t = k / 100
        official = 0.05 - max(min((t * 0.1 - 0.05) * 2, 0.05), 0.0)
        assert recon_weight_schedule(t) == pytest.approx(official, abs=1e-12)


def test_recon_weight_follows_the_schedule_length():
    m = _make("distgan", Ring8.info, width=8, schedule_iterations=400)
    m.iteration = 250
    assert m.recon_weight() == pytest.approx(0.025)
    m = _make("distgan", Ring8.info, width=8)  # no param: the trainer's budget, else 100k
    m.iteration = 50_000
    assert m.recon_weight() == pytest.approx(0.05)
    m.total_iterations = 80_000
    assert m.recon_weight() == pytest.approx(0.05 * (1 - (4 * 50_000 / 80_000 - 2)))
    m = _make("distgan", Ring8.info, width=8, recon_decay=False, w_recon=0.1)
    m.iteration = 10**9
    assert m.recon_weight() == 0.1


def test_discriminator_losses_count_reconstructions_as_real():
    real, recon, fake = torch.tensor([2.0, 0.0]), torch.tensor([0.5, -0.5]), torch.tensor([-1.0, 1.0])
    w = 0.05
    expected = (1 - w) * (sp(-2) + sp(0)) / 2 + w * (sp(-0.5) + sp(0.5)) / 2 + (sp(-1) + sp(1)) / 2
    assert d_loss_log(real, recon, fake, w).item() == pytest.approx(expected, rel=1e-6)
    # hinge on logits: relu(1-2)=0, relu(1-0)=1; relu(0.5), relu(1.5); relu(0), relu(2)
    expected = (1 - w) * 0.5 + w * 1.0 + 1.0
    assert d_loss_hinge(real, recon, fake, w).item() == pytest.approx(expected, rel=1e-6)


def test_hinge_step_minimises_the_penalty(one_thread):  # noqa: F811
    # the official hinge code negates λ_p·V_P with the rest; ganbench adds it (minimised)
    torch.manual_seed(0)
    m = _make("distgan", Ring8.info, width=16, loss="hinge", lambda_p=1e3, lr_d=1e-3)
    x = Ring8().load_split("test")[0][:64]
    z = m.prior(64)

    def penalty():
        torch.manual_seed(5)
        return distgan_penalty(m.D, x, m.G(z).detach()).item()

    before = penalty()
    for _ in range(5):
        m.d_step(x, z)
    assert penalty() < before


def test_lambda_w_is_resolved_from_the_feature_size():
    from ganbench.registry import METHODS

    cls = METHODS.get("distgan")
    image = cls.resolve_params({"width": 64}, MNIST.info)
    assert image["ae_space"] == "feature"
    assert image["lambda_w"] == pytest.approx(math.sqrt(100 / (128 * 7 * 7)))
    points = cls.resolve_params({}, Ring8.info)
    assert points["ae_space"] == "data" and points["lambda_w"] == pytest.approx(1.0)
    assert points["n_critic"] == 5 and points["lambda_p"] == 0.1
    assert cls.resolve_params({"lambda_w": 0.15625}, MNIST.info)["lambda_w"] == 0.15625
    assert cls.Params(**image).model_dump() == image


def test_distgan_trains_on_ring8(one_thread):  # noqa: F811
    method, result, shapes = train_on_ring8("distgan")
    assert result.status == "finished" and result.last_step == 200
    assert all(math.isfinite(v) for v in result.last_losses.values())
    assert {"loss_ae", "ae_reg", "loss_d", "penalty", "loss_g", "w_recon"} <= set(result.last_losses)
    assert shapes == [(50, 2), (50, 2)]
    assert set(method.modules()) == {"E", "G", "D"} and set(method.optimizers()) == {"E", "G", "D"}


@pytest.mark.parametrize("overrides", [{}, {"loss": "hinge", "ae_space": "data", "ae_updates_g": False}])
def test_distgan_one_step_on_mnist_shaped_data(one_thread, overrides):  # noqa: F811
    torch.manual_seed(0)
    method = _make("distgan", MNIST.info, width=8, **overrides)
    x = torch.rand(16, 1, 28, 28) * 2 - 1
    stats = method.step(lambda: x)
    assert all(math.isfinite(v) for v in stats.values())
    samples = method.sample(5)
    assert samples.shape == (5, 1, 28, 28) and samples.abs().max() <= 1.0
