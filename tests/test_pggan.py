"""pggan: equalised lr, pixel norm, drift, the growth schedule, fade-in, sub-steps, resume."""

from __future__ import annotations

import math

import pydantic
import pytest
import torch
import torch.nn.functional as F

from ganbench.checkpoint import load_checkpoint, save_checkpoint
from ganbench.data.mnist import MNIST
from ganbench.methods.pggan import PGGAN, drift_penalty, growth_state
from ganbench.nets.layers import MinibatchStd, PixelNorm
from ganbench.nets.pggan import EqualizedConv2d, EqualizedLinear, PGGANDiscriminator, PGGANGenerator
from ganbench.train import Trainer

INFO = MNIST.info


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _method(total=500, **overrides) -> PGGAN:
    params = PGGAN.Params(**PGGAN.resolve_params({"width": 4, "z_dim": 8, **overrides}, INFO))
    method = PGGAN(params, INFO)
    method.total_iterations = total
    return method


def test_equalized_lr_scale_by_hand():
    conv = EqualizedConv2d(3, 5, 3)  # fan_in = 3·3·3 = 27
    assert conv.scale == pytest.approx(0.2721655269759087)  # sqrt(2/27)
    dense = EqualizedLinear(8, 4, gain=1.0)  # 1/sqrt(8)
    assert dense.scale == pytest.approx(0.3535533905932738)
    x = torch.randn(2, 3, 6, 6)
    expected = F.conv2d(x, conv.weight * 0.2721655269759087, conv.bias, padding=1)
    assert torch.allclose(conv(x), expected, atol=1e-6)
    # the stored weights are N(0, 1), not He-scaled
    big = EqualizedConv2d(64, 64, 3)
    assert abs(float(big.weight.detach().std()) - 1.0) < 0.03 and float(big.bias.detach().abs().max()) == 0.0


def test_pixel_norm_of_a_hand_vector():
    x = torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)  # mean square (9 + 16)/2 = 12.5
    out = PixelNorm()(x).flatten()
    assert torch.allclose(out, torch.tensor([3 / math.sqrt(12.5), 4 / math.sqrt(12.5)]), atol=1e-6)
    assert torch.allclose(out, torch.tensor([0.8485281, 1.1313709]), atol=1e-6)


def test_drift_term_by_hand():
    assert float(drift_penalty(torch.tensor([1.0, -2.0, 3.0]))) == pytest.approx(14 / 3)  # (1 + 4 + 9)/3
    assert PGGAN.Params(**PGGAN.resolve_params({}, INFO)).drift == 0.001


def test_critic_objective_is_wgan_gp_plus_drift():
    """The D step's gradient is that of E D(G(z)) - E D(x) + 10·GP + 0.001·E D(x)², worked out here."""
    torch.manual_seed(0)
    m = _method()
    m.iteration = 130  # fading 14 px in, α = 0.3
    stage, alpha = m.growth()
    real = m.real_at(torch.rand(8, 1, 28, 28) * 2 - 1, stage, alpha)
    recorded = {}
    m.opt_d.step = lambda: recorded.update({n: p.grad.clone() for n, p in m.D.named_parameters() if p.grad is not None})
    torch.manual_seed(3)
    stats = m.d_step(real, stage, alpha)

    torch.manual_seed(3)  # the same draws in the same order: z, then the interpolation weights
    fake = m.G(torch.randn(8, 8), stage, alpha).detach()
    critic = lambda x: m.D(x, stage, alpha)  # noqa: E731
    real_out, fake_out = critic(real), critic(fake)
    eps = torch.rand(8, 1, 1, 1)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    gp = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    drift = (real_out ** 2).mean()
    total = fake_out.mean() - real_out.mean() + 10.0 * gp + 0.001 * drift
    m.D.zero_grad(set_to_none=True)
    total.backward()
    assert stats["drift"] == pytest.approx(float(drift.detach()), rel=1e-5)
    assert stats["loss_d"] == pytest.approx(float((fake_out.mean() - real_out.mean()).detach()), rel=1e-5, abs=1e-6)
    assert recorded and all(torch.allclose(recorded[n], p.grad, atol=1e-5)
                            for n, p in m.D.named_parameters() if p.grad is not None)


def test_growth_schedule_by_hand():
    # 28 px: 3 stages -> 5 phases of 100 iterations in 500: stab 7 | fade 14 | stab 14 | fade 28 | stab 28
    assert growth_state(0, 3, 500) == (0, 1.0)
    assert growth_state(99, 3, 500) == (0, 1.0)
    assert growth_state(100, 3, 500) == (1, 0.0)
    assert growth_state(150, 3, 500) == (1, 0.5)
    assert growth_state(250, 3, 500) == (1, 1.0)
    assert growth_state(325, 3, 500) == (2, 0.25)
    assert growth_state(499, 3, 500) == (2, 1.0)
    assert growth_state(500, 3, 500) == (2, 1.0)
    # 32 px: 4 stages -> 7 phases of 100 in 700
    assert growth_state(390, 4, 700) == (2, 0.9)
    assert growth_state(650, 4, 700) == (3, 1.0)
    # fixed phase length: the last stage runs on to any length
    assert growth_state(35, 3, None, phase=10) == (2, 0.5)
    assert growth_state(10_000, 3, 500, phase=10) == (2, 1.0)


def test_growth_ladders_and_minibatch_std_at_lowest_block():
    assert PGGANGenerator(8, (1, 28, 28), width=4).res == [7, 14, 28]
    assert PGGANGenerator(8, (3, 32, 32), width=4).res == [4, 8, 16, 32]
    d = PGGANDiscriminator((1, 28, 28), width=4)
    assert isinstance(d.last[0], MinibatchStd)
    assert sum(isinstance(m, MinibatchStd) for m in d.modules()) == 1


def test_generator_fade_in_ends():
    torch.manual_seed(0)
    g = PGGANGenerator(8, (1, 28, 28), width=4)
    z = torch.randn(4, 8)
    for stage in (1, 2):
        lower = g(z, stage - 1, 1.0)
        up = F.interpolate(lower, scale_factor=2, mode="nearest")
        assert torch.equal(g(z, stage, 0.0), up)
        new_block = g.to_rgb[stage](g.blocks[stage](g.features(z, stage - 1)))
        assert torch.equal(g(z, stage, 1.0), new_block)
        assert torch.allclose(g(z, stage, 0.25), 0.75 * up + 0.25 * new_block, atol=1e-6)
    assert g(z).shape == (4, 1, 28, 28) and g(z, 0).shape == (4, 1, 7, 7)


def test_discriminator_fade_in_ends():
    torch.manual_seed(0)
    d = PGGANDiscriminator((1, 28, 28), width=4)
    x = torch.randn(8, 1, 28, 28)
    assert torch.allclose(d(x, 2, 0.0), d(F.avg_pool2d(x, 2), 1, 1.0), atol=1e-6)
    h = d.blocks[1](d.blocks[2](d.from_rgb[2](x)))
    assert torch.allclose(d(x, 2, 1.0), d.head(d.last(h)).squeeze(1), atol=1e-6)


def test_optimisers_cover_every_parameter_from_the_start():
    m = _method()
    for net, opt in ((m.G, m.opt_g), (m.D, m.opt_d)):
        covered = {id(p) for group in opt.param_groups for p in group["params"]}
        assert covered == {id(p) for p in net.parameters()}
    assert m.opt_d.defaults["lr"] == 1e-3 and m.opt_d.defaults["betas"] == (0.0, 0.99)


def _snapshot(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _moved(before, net, prefix=""):
    after = net.state_dict()
    return {k for k in before if k.startswith(prefix) and not torch.equal(before[k], after[k])}


def test_sub_steps_move_their_own_network_and_only_the_active_blocks():
    torch.manual_seed(0)
    m = _method()
    m.iteration = 150  # fading 14 px in
    stage, alpha = m.growth()
    assert (stage, alpha) == (1, 0.5)
    real = m.real_at(torch.rand(8, 1, 28, 28) * 2 - 1, stage, alpha)
    assert real.shape == (8, 1, 14, 14)
    g0, d0 = _snapshot(m.G), _snapshot(m.D)
    m.d_step(real, stage, alpha)
    assert not _moved(g0, m.G)
    moved = _moved(d0, m.D)
    assert any(k.startswith("blocks.1.") for k in moved) and any(k.startswith("from_rgb.0.") for k in moved)
    assert not any(k.startswith(("blocks.2.", "from_rgb.2.")) for k in moved)
    g0, d0 = _snapshot(m.G), _snapshot(m.D)
    m.g_step(8, stage, alpha)
    assert not _moved(d0, m.D)
    moved = _moved(g0, m.G)
    assert any(k.startswith("blocks.1.") for k in moved) and any(k.startswith("to_rgb.0.") for k in moved)
    assert not any(k.startswith(("blocks.2.", "to_rgb.2.")) for k in moved)


@pytest.mark.parametrize("n_critic", [1, 3])
def test_critic_steps_per_iteration(n_critic):
    m = _method(n_critic=n_critic)
    counts = {"real": 0, "d": 0, "g": 0}
    for key, opt in (("d", m.opt_d), ("g", m.opt_g)):
        original = opt.step

        def counted(*a, _key=key, _original=original, **kw):
            counts[_key] += 1
            return _original(*a, **kw)

        opt.step = counted

    def next_real():
        counts["real"] += 1
        return torch.rand(8, 1, 28, 28) * 2 - 1

    stats = m.step(next_real)
    assert counts == {"real": n_critic, "d": n_critic, "g": 1}
    assert {"loss_d", "loss_g", "penalty", "drift"} <= set(stats) and m.iteration == 1


def test_bad_options_are_validation_errors():
    with pytest.raises(pydantic.ValidationError, match="does not support d_norm"):
        PGGAN.resolve_params({"d_norm": "bn"}, INFO)
    with pytest.raises(pydantic.ValidationError, match="does not support pack"):
        PGGAN.resolve_params({"pack": 2}, INFO)
    with pytest.raises(pydantic.ValidationError):
        PGGAN.Params(**PGGAN.resolve_params({"phase_iterations": 0}, INFO))


def test_trains_through_the_trainer_across_growth_phases():
    torch.manual_seed(0)
    data = MNIST().load_split("test")[0][:256]
    method = _method(total=200)
    log = []

    def evaluate(m):
        x = m.sample(16, torch.Generator().manual_seed(0))
        assert x.shape == (16, 1, 28, 28) and float(x.abs().max()) <= 1.0
        return {"finite": float(torch.isfinite(x).all())}, {}

    def on_eval(step, elapsed, values, protocol, losses):
        log.append((step, method.progress_values()["pggan_resolution"], values["finite"]))

    result = Trainer(method, data, 8, 200, 100, evaluate, on_eval).run()
    assert result.status == "finished" and result.last_step == 200
    assert all(math.isfinite(v) for v in result.last_losses.values())
    assert log == [(100, 14.0, 1.0), (200, 28.0, 1.0)]  # 40 iterations a phase: 7 -> 14 -> 28


def test_checkpoint_round_trip_mid_fade(tmp_path):
    torch.manual_seed(0)
    a = _method(ema_g=0.5)  # the averaged G (used for sampling) travels in the checkpoint too
    a.iteration = 120  # fading 14 px in, α = 0.2
    batch = torch.rand(8, 1, 28, 28) * 2 - 1
    a.step(lambda: batch)
    save_checkpoint(tmp_path / "c.pt", a.state_dict())
    torch.manual_seed(99)
    b = _method(ema_g=0.5)
    b.load_state_dict(load_checkpoint(tmp_path / "c.pt")["method"])
    assert b.iteration == 121 and b.growth() == a.growth() == (1, 0.21)
    torch.manual_seed(5)
    la = a.step(lambda: batch)
    torch.manual_seed(5)
    lb = b.step(lambda: batch)
    assert la == lb
    g = torch.Generator()
    assert torch.equal(a.sample(4, g.manual_seed(1)), b.sample(4, g.manual_seed(1)))
    # a checkpoint alone (ganbench eval) knows the schedule: the trainer's total travels with it
    c = _method(total=None, ema_g=0.5)
    c.load_state_dict(load_checkpoint(tmp_path / "c.pt")["method"])
    assert c.total_iterations == 500 and c.growth() == (1, 0.21)
    averaged, live = dict(b.ema.module.named_parameters()), dict(b.G.named_parameters())
    assert not torch.equal(averaged["blocks.1.1.weight"], live["blocks.1.1.weight"])
