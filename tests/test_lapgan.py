"""lapgan: the Laplacian pyramid, per-level sub-steps, top-down sampling, training, resume."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganbench.checkpoint import load_checkpoint, save_checkpoint
from ganbench.data.mnist import MNIST
from ganbench.errors import GanbenchError
from ganbench.methods.lapgan import LAPGAN, default_levels, downsample, laplacian_pyramid, reconstruct, upsample
from ganbench.train import Trainer
from tests.conftest import record_optimizer_steps

INFO = MNIST.info


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _method(**overrides) -> LAPGAN:
    params = LAPGAN.Params(**LAPGAN.resolve_params({"width": 4, "z_dim": 8, **overrides}, INFO))
    return LAPGAN(params, INFO)


def test_pyramid_reconstructs_its_image_exactly():
    torch.manual_seed(0)
    for size, sides in ((28, [28, 14, 7]), (32, [32, 16, 8])):
        x = torch.rand(3, 1, size, size) * 2 - 1
        pyramid = laplacian_pyramid(x, 3)
        assert [p.shape[-1] for p in pyramid] == sides
        assert torch.allclose(reconstruct(pyramid), x, atol=1e-6)
    assert [default_levels(s) for s in (28, 32, 64)] == [3, 3, 4]


def test_down_and_up_by_hand():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
    assert float(downsample(x)) == 2.5  # the 2×2 mean
    # bilinear doubling of [0, 4] (align_corners=False): 0, 1, 3, 4
    row = upsample(torch.tensor([[0.0, 4.0]]).view(1, 1, 1, 2))[0, 0, 0]
    assert torch.allclose(row, torch.tensor([0.0, 1.0, 3.0, 4.0]))
    # a constant image has zero band-pass residuals and its value as the low-pass image
    pyramid = laplacian_pyramid(torch.full((1, 1, 28, 28), 0.3), 3)
    assert all(float(h.abs().max()) < 1e-7 for h in pyramid[:-1])
    assert torch.allclose(pyramid[-1], torch.full((1, 1, 7, 7), 0.3))


class _Const(nn.Module):
    def __init__(self, value, shape=None):
        super().__init__()
        self.value, self.shape = value, shape

    def forward(self, noise, low=None):
        if low is None:
            return torch.full((noise.shape[0], *self.shape), self.value)
        return torch.full_like(low, self.value)


def test_sampling_runs_the_pyramid_top_down():
    m = _method()
    assert m.sizes == [28, 14, 7]
    m.G = nn.ModuleList([_Const(0.1), _Const(0.2), _Const(0.5, (1, 7, 7))])
    # Ĩ_2 = 0.5; Ĩ_1 = u(0.5) + 0.2 = 0.7; Ĩ_0 = u(0.7) + 0.1 = 0.8
    out = m.sample(2)
    assert out.shape == (2, 1, 28, 28) and torch.allclose(out, torch.full_like(out, 0.8))
    m.G = nn.ModuleList([_Const(0.6), _Const(0.2), _Const(0.5, (1, 7, 7))])
    assert float(m.sample(1).max()) == 1.0  # clipped to [-1, 1]


def _snapshot(nets):
    return [{k: v.detach().clone() for k, v in n.state_dict().items()} for n in nets]


def _moved(before, nets):
    return [i for i, (b, n) in enumerate(zip(before, nets))
            if any(not torch.equal(b[k], v) for k, v in n.state_dict().items())]


def test_each_sub_step_moves_only_its_own_level():
    torch.manual_seed(0)
    m = _method()
    targets = m._targets(torch.rand(8, 1, 28, 28) * 2 - 1)
    assert [t.shape[-1] for t, _ in targets] == [28, 14, 7] and targets[-1][1] is None
    for k, (target, low) in enumerate(targets):
        g0, d0 = _snapshot(m.G), _snapshot(m.D)
        m.d_step(k, target, low)
        assert _moved(d0, m.D) == [k] and _moved(g0, m.G) == []
        g0, d0 = _snapshot(m.G), _snapshot(m.D)
        m.g_step(k, 8, low)
        assert _moved(g0, m.G) == [k] and _moved(d0, m.D) == []


@pytest.mark.parametrize("n_critic", [1, 2])
def test_critic_steps_per_iteration(n_critic):
    m = _method(n_critic=n_critic)
    log = record_optimizer_steps(m)
    reals = []

    def next_real():
        reals.append(1)
        return torch.rand(8, 1, 28, 28) * 2 - 1

    stats = m.step(next_real)
    counts = {name: sum(1 for opt, _ in log if opt == name) for name in m.optimizers()}
    assert len(reals) == n_critic
    assert counts == {"G0": 1, "G1": 1, "G2": 1, "D0": n_critic, "D1": n_critic, "D2": n_critic}
    assert {"loss_d", "loss_g", "loss_d0", "loss_g2"} <= set(stats)


@pytest.mark.parametrize("d_norm", ["bn", "layer", "spectral"])
def test_every_level_discriminator_honours_d_norm_and_minibatch_std(d_norm):
    m = _method(d_norm=d_norm, minibatch_std=True)
    for d in m.D:
        kinds = {type(x).__name__ for x in d.modules()}
        assert "MinibatchStd" in kinds
        if d_norm == "spectral":
            assert all(hasattr(x, "weight_orig") for x in d.modules() if isinstance(x, (nn.Linear, nn.Conv2d)))
        else:
            assert {"bn": "BatchNorm", "layer": "LayerNorm"}[d_norm] in " ".join(kinds)
    stats = m.step(lambda: torch.rand(8, 1, 28, 28) * 2 - 1)
    assert all(math.isfinite(v) for v in stats.values())


def test_defaults_and_bad_levels():
    m = LAPGAN(LAPGAN.Params(**LAPGAN.resolve_params({}, INFO)), INFO)
    assert m.params.width == 128 and isinstance(m.opt_d[0], torch.optim.SGD) and m.opt_d[0].defaults["lr"] == 0.01
    with pytest.raises(GanbenchError, match="levels"):
        _method(levels=4)  # 28 / 8 is not a whole side


def test_trains_through_the_trainer():
    torch.manual_seed(0)
    data = MNIST().load_split("test")[0][:256]
    method = _method(optimizer="adam", lr_g=2e-4, lr_d=2e-4)
    seen = []

    def evaluate(m):
        x = m.sample(16, torch.Generator().manual_seed(0))
        seen.append(x)
        return {"finite": float(torch.isfinite(x).all())}, {}

    result = Trainer(method, data, 8, 200, 100, evaluate, lambda *a: None).run()
    assert result.status == "finished" and result.last_step == 200
    assert all(math.isfinite(v) for v in result.last_losses.values())
    assert [x.shape for x in seen] == [(16, 1, 28, 28)] * 2 and not torch.equal(seen[0], seen[1])


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    a = _method(momentum=0.5)
    batch = torch.rand(8, 1, 28, 28) * 2 - 1
    a.step(lambda: batch)
    save_checkpoint(tmp_path / "c.pt", a.state_dict())
    torch.manual_seed(99)
    b = _method(momentum=0.5)
    b.load_state_dict(load_checkpoint(tmp_path / "c.pt")["method"])
    torch.manual_seed(5)
    la = a.step(lambda: batch)
    torch.manual_seed(5)
    lb = b.step(lambda: batch)
    assert la == lb and b.iteration == 2
    g = torch.Generator()
    assert torch.equal(a.sample(4, g.manual_seed(1)), b.sample(4, g.manual_seed(1)))
