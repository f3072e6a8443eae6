"""SN-GAN and SAGAN: the self-attention block by hand, σ(W) after power iterations, net shapes
and layouts, which nets each sub-step moves, per-net defaults, and short training runs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganbench.data.base import DatasetInfo
from ganbench.data.mnist import MNIST
from ganbench.data.toy2d import Ring8
from ganbench.errors import GanbenchError
from ganbench.nets.sagan import SelfAttention
from ganbench.registry import METHODS, NETS
from ganbench.train import Trainer
from tests.conftest import record_optimizer_steps

RGB32 = DatasetInfo(name="rgb32", kind="image", shape=(3, 32, 32))


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _make(name, info, **overrides):
    cls = METHODS.get(name)
    return cls(cls.Params(**cls.resolve_params(overrides, info)), info)


# -- self-attention --------------------------------------------------------------------------

def test_self_attention_with_gamma_zero_is_the_identity():
    torch.manual_seed(0)
    block = SelfAttention(16, sn=True)
    x = torch.randn(3, 16, 5, 4)
    for _ in range(2):  # train-mode forwards (power iterations) change nothing either
        assert torch.equal(block(x), x)
    assert block.gamma.item() == 0.0 and block.gamma.requires_grad


def _attention_by_hand(x, a, b, c, d, gamma):
    """One channel, positions x_1..x_n: s_ij = (a x_i)(b x_j), β_{j,i} = softmax_i s_ij,
    o_j = d Σ_i β_{j,i} (c x_i), y_j = γ o_j + x_j (Zhang et al. 2019, Eqs. 1-3)."""
    y = []
    for j in range(len(x)):
        weights = [math.exp((a * x[i]) * (b * x[j])) for i in range(len(x))]
        total = sum(weights)
        o_j = d * sum(w / total * c * x[i] for i, w in enumerate(weights))
        y.append(gamma * o_j + x[j])
    return y


@pytest.mark.parametrize("sn", [False, True])
def test_self_attention_matches_the_attention_worked_by_hand(sn):
    block = SelfAttention(1, sn=sn)
    weights = {"f": 1.0, "g": 2.0, "h": 3.0, "v": 0.5}
    with torch.no_grad():
        for name, w in weights.items():
            conv = getattr(block, name)
            getattr(conv, "weight_orig", conv.weight).fill_(w)
        block.gamma.fill_(0.7)
    x = torch.tensor([1.0, -0.5]).view(1, 1, 2, 1)  # 1 channel, 2×1 positions
    y = block(x).flatten().tolist()
    # with SN each 1×1 weight w becomes w / σ(w) = w / |w| = 1
    a, b, c, d = (1.0, 1.0, 1.0, 1.0) if sn else (1.0, 2.0, 3.0, 0.5)
    # worked out: without SN, j = 1: s = (2, -1); j = 2: s = (-1, 0.5)
    expected = _attention_by_hand([1.0, -0.5], a, b, c, d, 0.7)
    if not sn:
        e = math.exp
        beta1 = (e(2) / (e(2) + e(-1)), e(-1) / (e(2) + e(-1)))
        beta2 = (e(-1) / (e(-1) + e(0.5)), e(0.5) / (e(-1) + e(0.5)))
        literal = [0.7 * 1.5 * (beta1[0] - 0.5 * beta1[1]) + 1.0,
                   0.7 * 1.5 * (beta2[0] - 0.5 * beta2[1]) - 0.5]
        assert expected == pytest.approx(literal, abs=1e-12)
    assert y == pytest.approx(expected, abs=1e-6)


def test_self_attention_by_hand_with_asymmetric_scores():
    """2 channels, C̄ = 1: s_ij = (a·x_i)(b·x_j) is not symmetric, so a transposed β shows."""
    block = SelfAttention(2, sn=False)
    a, b, c, d = (1.0, 0.0), (0.0, 2.0), (1.0, 1.0), (1.0, -2.0)
    with torch.no_grad():
        block.f.weight.copy_(torch.tensor(a).view(1, 2, 1, 1))
        block.g.weight.copy_(torch.tensor(b).view(1, 2, 1, 1))
        block.h.weight.copy_(torch.tensor(c).view(1, 2, 1, 1))
        block.v.weight.copy_(torch.tensor(d).view(2, 1, 1, 1))
        block.gamma.fill_(0.5)
    pos = [(1.0, 0.5), (-1.0, 1.5), (0.5, -1.0)]  # three positions (1×3 map), two channels each
    x = torch.tensor(pos).T.reshape(1, 2, 1, 3)

    def dot(u, w):
        return sum(ui * wi for ui, wi in zip(u, w))

    expected = []
    for j in range(3):
        e = [math.exp(dot(a, pos[i]) * dot(b, pos[j])) for i in range(3)]
        pooled = sum(e[i] / sum(e) * dot(c, pos[i]) for i in range(3))  # Σ_i β_{j,i} h(x_i)
        expected.append([0.5 * d[k] * pooled + pos[j][k] for k in range(2)])
    y = block(x).reshape(2, 3).T.tolist()
    assert y == [pytest.approx(row, abs=1e-6) for row in expected]


# -- spectral normalisation ------------------------------------------------------------------

def _weighted_layers(net):
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]


@pytest.mark.parametrize("family,net_kind",
                         [("sngan_cnn", "d"), ("resnet", "d"), ("sagan", "d"), ("sagan", "g")])
def test_every_layer_has_unit_spectral_norm_after_power_iterations(one_thread, family, net_kind):
    torch.manual_seed(0)
    shape = (3, 28, 28)
    if net_kind == "d":
        net = NETS.get(f"{family}_d")(shape, width=4, norm="spectral")
        inputs = lambda: torch.randn(2, *shape)  # noqa: E731
    else:
        net = NETS.get(f"{family}_g")(16, shape, width=4)
        inputs = lambda: torch.randn(2, 16)  # noqa: E731
    layers = _weighted_layers(net)
    assert layers and all(hasattr(m, "weight_orig") for m in layers)  # SN on EVERY conv/linear
    with torch.no_grad():
        for m in layers:  # raw weights with σ = 2.5: SN must bring them back to 1
            raw = m.weight_orig.reshape(m.weight_orig.shape[0], -1)
            m.weight_orig.mul_(2.5 / torch.linalg.matrix_norm(raw, ord=2))
        net.train()
        for _ in range(60):  # one power iteration per train-mode forward
            net(inputs())
    for m in layers:
        matrix = m.weight.reshape(m.weight.shape[0], -1)  # (out, in·kh·kw), as SN-GAN reshapes
        assert float(torch.linalg.matrix_norm(matrix, ord=2)) == pytest.approx(1.0, abs=0.02)


def test_norm_bn_and_none_add_no_spectral_normalisation():
    for family in ("sngan_cnn", "resnet"):
        for norm in ("none", "bn", "layer"):
            d = NETS.get(f"{family}_d")((1, 28, 28), width=4, norm=norm)
            assert not any(hasattr(m, "weight_orig") for m in _weighted_layers(d))
            has_bn = any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
            has_ln = any(isinstance(m, nn.LayerNorm) for m in d.modules())
            assert (has_bn, has_ln) == (norm == "bn", norm == "layer")


# -- nets --------------------------------------------------------------------------------------

NET_SIZES = [(f, s) for f in ("sngan_cnn", "resnet", "sagan") for s in (28, 32, 48, 64)] + [("dcgan", 48)]


@pytest.mark.parametrize("family,size", NET_SIZES)
@pytest.mark.parametrize("channels", [1, 3])
def test_net_shapes(family, size, channels):
    shape = (channels, size, size)
    g = NETS.get(f"{family}_g")(16, shape, width=4)
    x = g(torch.randn(4, 16))
    assert x.shape == (4, *shape) and x.abs().max() <= 1.0
    for mbstd in (False, True):
        d = NETS.get(f"{family}_d")(shape, width=4, norm="spectral", minibatch_std=mbstd)
        assert d(x).shape == (4,)
        assert d.features(x).shape == (4, d.feature_dim)
        assert d.head.in_features == d.feature_dim


def test_standard_cnn_is_the_papers_layout_at_32px():
    w = 64
    d = NETS.get("sngan_cnn_d")((3, 32, 32), width=w, norm="spectral")
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.out_channels, m.kernel_size[0], m.stride[0]) for m in convs] == [
        (64, 3, 1), (64, 4, 2), (128, 3, 1), (128, 4, 2), (256, 3, 1), (256, 4, 2), (512, 3, 1)]
    assert {m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)} == {0.1}
    assert d.feature_dim == 512 * 4 * 4
    g = NETS.get("sngan_cnn_g")(128, (3, 32, 32), width=w)
    assert g.project[0].out_features == 4 * 4 * 512
    deconvs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0]) for m in deconvs] == [
        (512, 256, 4, 2), (256, 128, 4, 2), (128, 64, 4, 2)]
    last = [m for m in g.modules() if isinstance(m, nn.Conv2d)][-1]
    assert (last.in_channels, last.out_channels, last.kernel_size[0]) == (64, 3, 3)
    # STL-10 at 48 px starts from 6×6; other sizes are refused with a clear message
    assert NETS.get("sngan_cnn_g")(128, (3, 48, 48), width=w).base == 6
    with pytest.raises(ValueError, match="28, 32, 48, 64 px images, not 40"):
        NETS.get("resnet_d")((3, 40, 40), width=4)


def test_resnet_is_the_cifar_layout():
    g = NETS.get("resnet_g")(128, (3, 32, 32), width=64)
    assert g.ch == 256 and g.base == 4 and len(g.blocks) == 3
    d = NETS.get("resnet_d")((3, 32, 32), width=64, norm="spectral")
    assert d.feature_dim == 128 and [b.down for b in d.blocks] == [True, True, False, False]
    assert d.blocks[0].optimized and d.blocks[2].shortcut is None  # plain blocks: identity shortcut
    d.eval()  # fixed normalised weights for the two forwards
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(d.features(x), torch.relu(d.blocks(x)).sum(dim=(2, 3)))  # sum pooling


@pytest.mark.parametrize("size,expected", [(28, 14), (32, 16), (48, 24), (64, 32)])
def test_sagan_attention_sits_at_the_half_resolution_maps(size, expected):
    seen = []
    g = NETS.get("sagan_g")(16, (3, size, size), width=4)
    d = NETS.get("sagan_d")((3, size, size), width=4)
    for net in (g, d):
        for m in net.modules():
            if isinstance(m, SelfAttention):
                m.register_forward_hook(lambda mod, inp, out: seen.append(tuple(inp[0].shape[2:])))
    d(g(torch.randn(2, 16)))
    assert seen == [(expected, expected), (expected, expected)]  # one in G, one in D


# -- methods: defaults, sub-steps ----------------------------------------------------------

def test_per_net_defaults_and_overrides():
    cnn = METHODS.get("sngan").resolve_params({}, MNIST.info)
    keys = ("net", "d_norm", "n_critic", "beta1", "beta2", "lr_g", "lr_d", "z_dim")
    assert tuple(cnn[k] for k in keys) == ("sngan_cnn", "spectral", 1, 0.5, 0.999, 2e-4, 2e-4, 128)
    res = METHODS.get("sngan").resolve_params({"net": "resnet"}, MNIST.info)
    assert (res["n_critic"], res["beta1"], res["beta2"], res["lr_decay"]) == (5, 0.0, 0.9, "linear")
    res = METHODS.get("sngan").resolve_params({"net": "resnet", "n_critic": 2}, MNIST.info)
    assert res["n_critic"] == 2  # the suite's value wins over the net's default
    sa = METHODS.get("sagan").resolve_params({}, MNIST.info)
    assert (sa["net"], sa["d_norm"], sa["lr_g"], sa["lr_d"], sa["beta1"], sa["beta2"], sa["n_critic"]) == \
        ("sagan", "spectral", 1e-4, 4e-4, 0.0, 0.9, 1)
    assert METHODS.get("sngan").resolve_params({}, Ring8.info)["net"] == "mlp"
    with pytest.raises(GanbenchError, match="needs image data"):
        _make("sagan", Ring8.info)


@pytest.mark.parametrize("name,overrides,n_dis", [("sngan", {}, 1), ("sngan", {"net": "resnet"}, 5),
                                                   ("sagan", {}, 1)])
def test_sub_steps_move_only_their_network(one_thread, name, overrides, n_dis):
    torch.manual_seed(0)
    method = _make(name, MNIST.info, width=4, **overrides)
    events = record_optimizer_steps(method)
    calls = []

    def next_real():
        calls.append(1)
        return torch.rand(8, 1, 28, 28) * 2 - 1

    method.step(next_real)
    assert len(calls) == n_dis  # one fresh real batch per critic step
    assert events == [("D", frozenset({"D"}))] * n_dis + [("G", frozenset({"G"}))]


def test_linear_learning_rate_decay_over_the_run(one_thread):
    method = _make("sngan", MNIST.info, width=4, net="resnet", n_critic=1)
    method.total_iterations = 10
    x = torch.rand(8, 1, 28, 28) * 2 - 1
    for _ in range(5):
        method.step(lambda: x)
    # the 5th step (iteration 4) ran at lr · (1 − 4/10)
    assert method.opt_g.param_groups[0]["lr"] == pytest.approx(2e-4 * 0.6)
    assert method.opt_d.param_groups[0]["lr"] == pytest.approx(2e-4 * 0.6)
    still = _make("sngan", MNIST.info, width=4, net="resnet", n_critic=1, lr_decay="none")
    still.total_iterations = 10
    still.step(lambda: x)
    still.step(lambda: x)
    assert still.opt_g.param_groups[0]["lr"] == 2e-4


# -- training through the trainer ---------------------------------------------------------

def _train(method, data, iterations):
    log = []

    def evaluate(m):
        s = m.sample(16, torch.Generator().manual_seed(0))
        return {"mean": float(s.mean()), "finite": float(torch.isfinite(s).all())}, {"toy": {"n": 16}}

    def on_eval(step, elapsed, values, protocol, losses):
        log.append((step, values))

    result = Trainer(method, data, 8, iterations, iterations, evaluate, on_eval).run()
    return result, log


@pytest.fixture(scope="module")
def mnist_subset():
    return MNIST().load_split("test")[0][:256]


# iterations (G steps): 100 + 100 D steps; 20 + 100 (the ResNet's n_dis 5); 60 + 60
@pytest.mark.parametrize("name,overrides,iterations", [("sngan", {}, 100), ("sngan", {"net": "resnet"}, 20),
                                                       ("sagan", {}, 60)])
def test_trains_on_mnist(one_thread, mnist_subset, name, overrides, iterations):
    torch.manual_seed(0)
    method = _make(name, MNIST.info, width=4, **overrides)
    result, log = _train(method, mnist_subset, iterations)
    assert result.status == "finished" and result.last_step == iterations
    assert {"loss_d", "loss_g"} <= set(result.last_losses)
    assert all(math.isfinite(v) for v in result.last_losses.values())
    assert log[-1][1]["finite"] == 1.0
    if name == "sagan":  # γ is learned in both nets
        gammas = [m.gamma.item() for net in (method.G, method.D)
                  for m in net.modules() if isinstance(m, SelfAttention)]
        assert len(gammas) == 2 and all(g != 0.0 for g in gammas)


@pytest.mark.parametrize("name,overrides,iterations", [("sngan", {}, 10), ("sngan", {"net": "resnet"}, 3),
                                                       ("sagan", {}, 6)])
def test_trains_on_32px_rgb(one_thread, name, overrides, iterations):
    torch.manual_seed(0)
    data = torch.rand(64, 3, 32, 32) * 2 - 1
    method = _make(name, RGB32, width=4, **overrides)
    result, _ = _train(method, data, iterations)
    assert result.status == "finished"
    assert all(math.isfinite(v) for v in result.last_losses.values())
    assert method.sample(3).shape == (3, 3, 32, 32)
