"""The options every adversarial method shares: d_norm, minibatch_std, pack, ema_g, net.

Numbers are worked out by hand in the comments; none comes from the function under test.
"""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from ganbench.data.toy2d import Ring8
from ganbench.errors import GanbenchError
from ganbench.methods.base import generate
from ganbench.methods.ema import EMA
from ganbench.nets.layers import MinibatchStd, PixelNorm, pack
from ganbench.registry import METHODS, NETS
from ganbench.suite import SuiteError, load_suite
from ganbench.train import Trainer
from tests.conftest import write_suite

INFO = Ring8.info


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _method(name="gan", **overrides):
    cls = METHODS.get(name)
    return cls(cls.Params(**cls.resolve_params({"width": 8, **overrides}, INFO)), INFO)


# -- minibatch standard deviation ------------------------------------------------------------

def test_minibatch_std_of_a_hand_made_batch():
    # 4 images of 1×1×2 pixels; group size 2 -> M = 2 strided groups: {0, 2} and {1, 3}
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 4.0], [3.0, 9.0]]).reshape(4, 1, 1, 2)
    out = MinibatchStd(group_size=2)(x)
    assert out.shape == (4, 2, 1, 2) and torch.equal(out[:, :1], x)
    # group {0, 2}: pixel stds std(0, 2) = 1, std(0, 4) = 2 -> mean 1.5
    # group {1, 3}: std(1, 3) = 1, std(1, 9) = 4 -> mean 2.5; tiled over the 1×2 map
    expected = torch.tensor([1.5, 2.5, 1.5, 2.5]).reshape(4, 1, 1, 1).expand(4, 1, 1, 2)
    assert torch.allclose(out[:, 1:], expected, atol=1e-6)


def test_minibatch_std_on_vectors_and_one_group():
    # points (N, d): one group of 4 (min(4, N)); stds per feature: std(0,2,4,6) = √5, std(0,0,0,0) = 0
    x = torch.tensor([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0], [6.0, 1.0]])
    out = MinibatchStd()(x)
    assert out.shape == (4, 3)
    assert torch.allclose(out[:, 2], torch.full((4,), math.sqrt(5.0) / 2), atol=1e-4)


def test_pixel_norm_by_hand():
    x = torch.tensor([3.0, 4.0]).reshape(1, 2, 1, 1)  # mean square 12.5
    assert torch.allclose(PixelNorm()(x).flatten(), torch.tensor([3.0, 4.0]) / math.sqrt(12.5))


# -- packing ------------------------------------------------------------------------------

def test_pack_groups_consecutive_samples_along_channels():
    x = torch.arange(6 * 2).float().reshape(6, 1, 1, 2)  # sample k holds [2k, 2k+1]
    p = pack(x, 3)
    assert p.shape == (2, 3, 1, 2)
    assert p[0].flatten().tolist() == [0, 1, 2, 3, 4, 5]   # samples 0, 1, 2
    assert p[1].flatten().tolist() == [6, 7, 8, 9, 10, 11]  # samples 3, 4, 5
    points = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    assert pack(points, 2).tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    with pytest.raises(GanbenchError, match="not a multiple"):
        pack(points, 3)


def test_packed_method_feeds_d_the_packed_real_batch():
    m = _method("gan", pack=2)
    assert m.D.body[0].in_features == 4  # two 2D points per input
    seen = []
    forward = m.D.forward
    m.D.forward = lambda x: (seen.append(x.detach().clone()), forward(x))[1]
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    m.step(lambda: real)
    assert torch.equal(seen[0], torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]))
    assert all(t.shape == (2, 4) for t in seen)  # real, fake and the G step's fake: all packed


# -- discriminator normalisation ------------------------------------------------------------

def _count(net, kind):
    return sum(isinstance(m, kind) for m in net.modules())


def _spectral_layers(net):
    return [m for m in net.modules() if hasattr(m, "weight_orig")]


@pytest.mark.parametrize("norm", ["none", "bn", "layer", "spectral"])
def test_mlp_discriminator_honours_every_norm(norm):
    d = NETS.get("mlp_d")((2,), width=8, depth=3, norm=norm)
    linears = _count(d, nn.Linear)
    assert _count(d, nn.BatchNorm1d) == (2 if norm == "bn" else 0)  # hidden layers 2 and 3
    assert _count(d, nn.LayerNorm) == (2 if norm == "layer" else 0)
    assert len(_spectral_layers(d)) == (linears if norm == "spectral" else 0)  # head included
    assert d(torch.randn(4, 2)).shape == (4,)


def test_method_builds_the_requested_norm_and_minibatch_std():
    assert len(_spectral_layers(_method("gan", d_norm="spectral").D)) == 4
    assert _count(_method("gan").D, nn.BatchNorm1d) == 0  # points: DCGAN's BN is not the default
    assert _count(_method("gan", d_norm="bn").D, nn.BatchNorm1d) == 2
    assert _count(_method("gan", minibatch_std=True).D, MinibatchStd) == 1
    d = NETS.get("dcgan_d")((1, 28, 28), width=4, norm="layer", minibatch_std=True)
    assert _count(d, nn.LayerNorm) == 1 and _count(d, MinibatchStd) == 1
    assert d(torch.randn(4, 1, 28, 28)).shape == (4,)


def test_spectral_norm_gives_unit_spectral_norm_after_power_iterations():
    torch.manual_seed(0)
    d = NETS.get("dcgan_d")((1, 28, 28), width=8, norm="spectral")
    x = torch.randn(4, 1, 28, 28)
    for _ in range(30):  # one power iteration per training forward pass
        d(x)
    layers = _spectral_layers(d)
    assert len(layers) == 3  # two convs and the head
    for layer in layers:
        w = layer.weight.detach().reshape(layer.weight.shape[0], -1)
        assert float(torch.linalg.matrix_norm(w, 2)) == pytest.approx(1.0, abs=1e-2)
        raw = layer.weight_orig.detach().reshape(w.shape[0], -1)
        assert abs(float(torch.linalg.matrix_norm(raw, 2)) - 1.0) > 0.1  # it did normalise


# -- EMA of G -------------------------------------------------------------------------------

def test_ema_matches_the_hand_computed_average_and_survives_a_round_trip():
    net = nn.Linear(1, 1, bias=False)
    nn.init.constant_(net.weight, 1.0)
    ema = EMA(net, 0.9)
    # e0 = 1; e1 = .9·1 + .1·2 = 1.1; e2 = .9·1.1 + .1·4 = 1.39; e3 = .9·1.39 + .1·0 = 1.251
    for w in (2.0, 4.0, 0.0):
        nn.init.constant_(net.weight, w)
        ema.update(net)
    assert ema.module.weight.item() == pytest.approx(1.251, abs=1e-6)
    state = ema.state_dict()
    other = EMA(nn.Linear(1, 1, bias=False), 0.9)
    other.load_state_dict(state)
    assert other.module.weight.item() == pytest.approx(1.251, abs=1e-6)
    assert int(other.n_averaged) == int(ema.n_averaged) == 4
    nn.init.constant_(net.weight, 10.0)
    other.update(net)  # .9·1.251 + .1·10 = 2.1259
    assert other.module.weight.item() == pytest.approx(2.1259, abs=1e-6)


def test_ema_copies_buffers():
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = EMA(net, 0.99)
    net(torch.randn(8, 2) + 3.0)
    ema.update(net)
    assert torch.equal(ema.module[1].running_mean, net[1].running_mean)


def _trainer(method, data, iterations, ckpt):
    return Trainer(method, data, 16, iterations, 3, lambda m: ({}, {}), lambda *a: None, ckpt)


def test_ema_g_samples_and_resumes_exactly(tmp_path):
    data = torch.randn(256, 2)
    torch.manual_seed(1)
    straight = _method("gan", ema_g=0.9)
    _trainer(straight, data, 6, tmp_path / "a.pt").run()
    z = torch.Generator().manual_seed(5)
    samples = straight.sample(5, z)
    assert torch.equal(samples, generate(straight.G_ema.module, straight.prior(5, torch.Generator().manual_seed(5))))
    assert not torch.allclose(samples, generate(straight.G, straight.prior(5, torch.Generator().manual_seed(5))))

    torch.manual_seed(1)
    _trainer(_method("gan", ema_g=0.9), data, 3, tmp_path / "b.pt").run()
    resumed = _method("gan", ema_g=0.9)
    t = _trainer(resumed, data, 6, tmp_path / "b.pt")
    assert t.resume() and resumed.iteration == 3
    t.run()
    for a, b in zip(straight.G_ema.module.parameters(), resumed.G_ema.module.parameters()):
        assert torch.equal(a, b)


# -- validation -----------------------------------------------------------------------------

SUITE = """
name: opts
datasets: [ring8]
methods:
  - {{name: {method}, params: {params}}}
seeds: [0]
train: {{iterations: 10, batch_size: 8, eval_every: 10}}
eval: {{metrics: [modes], num_samples: 100}}
"""


@pytest.mark.parametrize("method, params, message", [
    ("gan", "{d_norm: spectrl}", "methods[0].params.d_norm: expected 'none', 'bn', 'layer' or 'spectral', got 'spectrl'"),
    ("gan", "{pack: 3}", "methods[0].params.pack: train.batch_size 8 is not a multiple of pack 3"),
    ("gan", "{pack: 0}", "methods[0].params.pack:"),
    ("gan", "{ema_g: 1.5}", "methods[0].params.ema_g:"),
    ("gan", "{net: resnett}", "methods[0].params.net: unknown net family 'resnett'"),
    ("cgml", "{pack: 2}", "methods[0].params.pack: method 'cgml' does not support pack"),
])
def test_bad_options_are_one_line_suite_errors(tmp_path, method, params, message):
    path = write_suite(tmp_path, SUITE.format(method=method, params=params))
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{path}: ") and message in text


def test_subclass_str_annotation_still_checks_d_norm():
    with pytest.raises(ValidationError):
        METHODS.get("wgan_gp").resolve_params({"d_norm": "batch"}, INFO)


@pytest.mark.parametrize("name", ["san_hinge", "swgan", "wgan_gp", "lsgan"])
def test_methods_with_their_own_loss_hooks_work_packed(name):
    torch.manual_seed(0)
    m = _method(name, pack=2, num_projections=50) if name == "swgan" else _method(name, pack=2)
    data = torch.randn(64, 2)
    losses = m.step(lambda: data[:8])
    assert all(math.isfinite(v) for v in losses.values())


@pytest.mark.parametrize("name", ["distgan", "gngan", "cgml"])
@pytest.mark.parametrize("option", [{"pack": 2}, {"ema_g": 0.99}])
def test_methods_with_their_own_loop_reject_pack_and_ema(name, option):
    with pytest.raises(ValidationError, match=f"does not support {next(iter(option))}"):
        METHODS.get(name).resolve_params(option, INFO)
