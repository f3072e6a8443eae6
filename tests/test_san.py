"""SAN (Takida et al., ICLR 2024): the last layer, the detach pattern, the losses, training."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganbench.data.mnist import MNIST
from ganbench.data.toy2d import Ring8
from ganbench.methods import gan, hinge, san_losses
from ganbench.nets.san_head import SANHead, attach_san_head
from ganbench.registry import METHODS, NETS
from ganbench.train import Trainer

SAN_METHODS = ["san_hinge", "san_gan", "san_gan_minimax"]


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny nets: one intra-op thread avoids oversubscription on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
sp = lambda t: math.log1p(math.exp(t))  # noqa: E731  softplus


def _method(name, info=Ring8.info, **overrides):
    cls = METHODS.get(name)
    return cls(cls.Params(**cls.resolve_params(overrides, info)), info)


def _batch(info, n=16):
    if info.kind == "image":
        return torch.rand(n, *info.shape) * 2 - 1
    x = Ring8().load_split("test")[0]
    return x[torch.randint(len(x), (n,))]


def _grads(params):
    return [torch.zeros_like(p) if p.grad is None else p.grad for p in params]


def _body_params(m):
    return [p for n, p in m.D.named_parameters() if not n.startswith("head.")]


# -- the last layer ---------------------------------------------------------------------------
def test_head_keeps_the_initial_output_without_bias():
    torch.manual_seed(0)
    lin = nn.Linear(5, 1)
    san = SANHead.from_linear(lin)
    h = torch.randn(7, 5)
    assert san.weight.norm().item() == pytest.approx(1.0, abs=1e-6)
    assert san.scale.item() == pytest.approx(lin.weight.norm().item(), rel=1e-6)
    expected = h @ lin.weight.T  # the old head minus its bias
    torch.testing.assert_close(san(h), expected)
    fun, dir_ = san.split(h)
    torch.testing.assert_close(fun, expected.squeeze(1))
    torch.testing.assert_close(dir_, expected.squeeze(1))


def test_spectral_head_starts_with_scale_one():
    lin = nn.utils.spectral_norm(nn.Linear(6, 1))
    san = SANHead.from_linear(lin)
    assert san.scale.item() == pytest.approx(1.0)
    assert san.weight.norm().item() == pytest.approx(1.0, abs=1e-6)


def test_head_is_registered_and_wraps_both_discriminators():
    assert NETS.get("san_head") is SANHead
    for info in (Ring8.info, MNIST.info):
        m = _method("san_hinge", info, width=8)
        assert isinstance(m.D.head, SANHead) and m.san_head is m.D.head
        # the D optimiser holds the SAN head's parameters, not the replaced layer's
        opt_params = {id(p) for g in m.opt_d.param_groups for p in g["params"]}
        assert opt_params == {id(p) for p in m.D.parameters()}
    with pytest.raises(TypeError):
        attach_san_head(nn.Linear(3, 1))


# -- the detach pattern, checked through gradients -----------------------------------------------
@pytest.mark.parametrize("info", [Ring8.info, MNIST.info], ids=["mlp", "dcgan"])
def test_feature_loss_reaches_features_and_scale_not_direction(info):
    torch.manual_seed(1)
    m = _method("san_hinge", info, width=8)
    real, fake = _batch(info), m.sample(16)
    (fr, _), (ff, _) = m.d_outputs(real), m.d_outputs(fake)
    m.D.zero_grad(set_to_none=True)
    m.d_loss(fr, ff).backward()
    head = m.san_head
    assert head.weight.grad is None or torch.count_nonzero(head.weight.grad) == 0
    assert head.scale.grad is not None and head.scale.grad.abs().item() > 0
    assert any(g.abs().sum() > 0 for g in _grads(_body_params(m)))


@pytest.mark.parametrize("info", [Ring8.info, MNIST.info], ids=["mlp", "dcgan"])
def test_direction_loss_reaches_direction_only(info):
    torch.manual_seed(2)
    m = _method("san_gan", info, width=8)
    real, fake = _batch(info), m.sample(16)
    (_, dr), (_, df) = m.d_outputs(real), m.d_outputs(fake)
    m.D.zero_grad(set_to_none=True)
    san_losses.direction_loss(dr, df).backward()
    head = m.san_head
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0
    assert head.scale.grad is None or head.scale.grad.abs().item() == 0
    assert all(torch.count_nonzero(g) == 0 for g in _grads(_body_params(m)))


@pytest.mark.parametrize("info", [Ring8.info, MNIST.info], ids=["mlp", "dcgan"])
def test_generator_step_output_is_plain_and_passes_gradient(info):
    torch.manual_seed(3)
    m = _method("san_hinge", info, width=8)
    z = m.prior(8).requires_grad_(True)
    out = m.D(m.G(z))
    assert out.shape == (8,)
    m.D.zero_grad(set_to_none=True)
    m.g_loss(out).backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    # plain output: no detach inside D, so the direction gets a gradient too
    assert m.san_head.weight.grad.abs().sum() > 0
    # and it equals the D-step outputs in value
    m.D.eval()
    x = _batch(info, 4)
    fun, dir_ = m.d_outputs(x)
    torch.testing.assert_close(m.D(x), fun)
    torch.testing.assert_close(m.D(x), dir_)


def test_direction_step_finds_the_mean_difference_of_the_features():
    # on fixed features, max_ω E<ω,h_r> - E<ω,h_f> over the sphere is ω = (μ_r - μ_f)/‖μ_r - μ_f‖
    g = torch.Generator().manual_seed(7)
    mu_r, mu_f = torch.tensor([1.0, 2.0, 0.0, -1.0]), torch.tensor([0.0, -1.0, 1.0, 0.0])
    h_r = torch.randn(256, 4, generator=g) + mu_r
    h_f = torch.randn(256, 4, generator=g) + mu_f
    head = SANHead(4, torch.tensor([[-1.0, 0.0, 0.0, 0.0]]))
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    for _ in range(200):
        (_, dr), (_, df) = head.split(h_r), head.split(h_f)
        opt.zero_grad()
        san_losses.direction_loss(dr, df).backward()
        opt.step()
        head.normalize_()
    target = (h_r.mean(0) - h_f.mean(0)) / (h_r.mean(0) - h_f.mean(0)).norm()
    assert torch.dot(head.weight[0].detach(), target).item() > 0.999
    assert head.scale.item() == pytest.approx(1.0)  # the direction loss leaves the scale alone
    # with ω separating the classes, the feature loss asks for a larger scale
    fr, _ = head.split(h_r)
    ff, _ = head.split(h_f)
    opt.zero_grad()
    gan.discriminator_loss(fr, ff).backward()
    assert head.scale.grad.item() < 0


def test_direction_is_unit_norm_after_each_d_step():
    torch.manual_seed(4)
    m = _method("san_hinge", lr_d=0.5, width=8)  # a big step leaves the sphere without renormalising
    x = _batch(Ring8.info, 32)
    before = m.san_head.weight.detach().clone()
    stats = m.step(lambda: x)
    after = m.san_head.weight.detach()
    assert after.norm().item() == pytest.approx(1.0, abs=1e-6)
    assert not torch.allclose(before, after)
    assert {"loss_d", "loss_dir", "loss_g"} <= set(stats)


# -- loss values on hand-made outputs ---------------------------------------------------------------
FUN_REAL = torch.tensor([2.0, 0.0])
FUN_FAKE = torch.tensor([-1.0, 1.0])
DIR_REAL = torch.tensor([0.5, 1.5])  # mean 1
DIR_FAKE = torch.tensor([1.0, -3.0])  # mean -1


def test_direction_loss_is_linear():
    # E dir_fake - E dir_real = -1 - 1
    assert san_losses.direction_loss(DIR_REAL, DIR_FAKE).item() == pytest.approx(-2.0)


def test_san_hinge_discriminator_loss():
    # relu(1-2)=0, relu(1-0)=1 -> 0.5 ; relu(1-1)=0, relu(1+1)=2 -> 1.0 ; direction -2
    got = san_losses.hinge_discriminator_loss(FUN_REAL, FUN_FAKE, DIR_REAL, DIR_FAKE)
    assert got.item() == pytest.approx(0.5 + 1.0 - 2.0)


def test_san_non_saturating_discriminator_loss():
    expected = (sp(-2) + sp(0)) / 2 + (sp(-1) + sp(1)) / 2 - 1.0 + (-1.0)
    got = san_losses.gan_discriminator_loss(FUN_REAL, FUN_FAKE, DIR_REAL, DIR_FAKE)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_san_methods_reuse_the_base_losses():
    t = torch.tensor([3.0, 1.0])
    assert _method("san_hinge").g_loss(t).item() == pytest.approx(hinge.generator_loss(t).item())
    assert _method("san_gan").g_loss(torch.tensor([0.0])).item() == pytest.approx(math.log(2))
    assert _method("san_gan_minimax").g_loss(t).item() == pytest.approx(-(sp(3) + sp(1)) / 2, rel=1e-6)
    m = _method("san_gan")
    assert m.d_loss(FUN_REAL, FUN_FAKE).item() == pytest.approx(gan.discriminator_loss(FUN_REAL, FUN_FAKE).item())


def test_step_loss_is_feature_plus_direction_part():
    torch.manual_seed(5)
    m = _method("san_hinge", lr_d=0.0, lr_g=0.0, width=8)
    x = _batch(Ring8.info, 32)
    torch.manual_seed(6)
    stats = m.step(lambda: x)
    torch.manual_seed(6)
    with torch.no_grad():
        fake = m.G(m.prior(32))
        (fr, dr), (ff, df) = m.d_outputs(x), m.d_outputs(fake)
    assert stats["loss_dir"] == pytest.approx(san_losses.direction_loss(dr, df).item(), rel=1e-5)
    assert stats["loss_d"] == pytest.approx(san_losses.hinge_discriminator_loss(fr, ff, dr, df).item(), rel=1e-5)


# -- training --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SAN_METHODS)
def test_trains_200_steps_on_ring8(name):
    torch.manual_seed(0)
    m = _method(name, width=32)
    data = Ring8().load_split("test")[0]
    evals = []
    trainer = Trainer(m, data, 64, 200, 100, lambda _m: ({}, {}), lambda *a: evals.append(a[0]))
    result = trainer.run()
    assert result.status == "finished" and result.last_step == 200 and evals == [100, 200]
    assert all(math.isfinite(v) for v in result.last_losses.values())
    assert m.san_head.weight.norm().item() == pytest.approx(1.0, abs=1e-5)
    assert torch.isfinite(m.sample(100)).all()


@pytest.mark.parametrize("name", SAN_METHODS)
@pytest.mark.parametrize("d_norm", ["bn", "spectral"])
def test_one_step_on_mnist_shaped_data(name, d_norm):
    torch.manual_seed(0)
    m = _method(name, MNIST.info, width=8, d_norm=d_norm)
    x = torch.rand(16, 1, 28, 28) * 2 - 1
    stats = m.step(lambda: x)
    assert all(math.isfinite(v) for v in stats.values())
    assert m.sample(4).shape == (4, 1, 28, 28)


def test_checkpoint_round_trip():
    torch.manual_seed(0)
    m = _method("san_hinge", width=8)
    x = _batch(Ring8.info, 32)
    m.step(lambda: x)
    other = _method("san_hinge", width=8)
    other.load_state_dict(m.state_dict())
    m.D.eval()
    other.D.eval()
    torch.testing.assert_close(m.D(x), other.D(x))
