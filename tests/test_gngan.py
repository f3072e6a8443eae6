"""GN-GAN: neighbours embedding V_R, gradient matching V_G, presets, and short training runs."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from ganbench.data.mnist import MNIST
from ganbench.data.toy2d import Grid25, Ring8
from ganbench.methods.gradient_matching import (gradient_matching_loss, matching_terms,
                                                scores_and_gradients)
from ganbench.methods.neighbors_embedding import neighbors_embedding_kl
from ganbench.registry import METHODS
from ganbench.train import Trainer


# -- neighbours embedding -------------------------------------------------------------------

def _report_joint_affinities(points):
    """p_ij of the report, by hand: Student-t kernel with 2σ², σ² = variance of the distances."""
    n = len(points)
    dist = {(i, j): math.dist(points[i], points[j]) for i in range(n) for j in range(n)}
    pairs = [dist[i, j] for i in range(n) for j in range(i + 1, n)]
    mean = sum(pairs) / len(pairs)
    var = sum((d - mean) ** 2 for d in pairs) / len(pairs)

    def kernel(i, j):
        return 1.0 / (1.0 + dist[i, j] ** 2 / (2.0 * var))

    # cond[i, j] = p_{j|i}
    cond = {(i, j): kernel(i, j) / sum(kernel(i, k) for k in range(n) if k != i)
            for i in range(n) for j in range(n) if j != i}
    return {(i, j): (cond[i, j] + cond[j, i]) / (2 * n) for (i, j) in cond}


def test_neighbors_embedding_by_hand_on_three_points():
    z = [(0.0, 0.0), (1.0, 0.0), (0.0, 2.0)]
    x = [(0.0, 0.0), (2.0, 0.0), (0.0, 1.0)]  # not a similar copy of z: V_R > 0
    p, q = _report_joint_affinities(z), _report_joint_affinities(x)
    assert sum(p.values()) == pytest.approx(1.0)
    expected = sum(p[ij] * math.log(p[ij] / q[ij]) for ij in p)
    assert expected > 1e-3
    got = neighbors_embedding_kl(torch.tensor(z, dtype=torch.float64), torch.tensor(x, dtype=torch.float64))
    assert got.item() == pytest.approx(expected, rel=1e-9)


def test_neighbors_embedding_vanishes_on_a_similar_copy():
    # σ² = Var(distances) scales with the square of the data: a scaled, shifted copy of the
    # latents (even embedded in more dimensions) has the same affinities, so V_R = 0
    torch.manual_seed(0)
    z = torch.rand(16, 2, dtype=torch.float64) * 2 - 1
    copy = torch.cat([3.0 * z, torch.zeros(16, 5, dtype=torch.float64)], dim=1) + 0.7
    assert neighbors_embedding_kl(z, copy).item() == pytest.approx(0.0, abs=1e-12)
    distorted = torch.cat([z[:, :1] ** 3, z[:, 1:]], dim=1)
    assert neighbors_embedding_kl(z, distorted).item() > 1e-4
    # images are flattened; a collapsed batch gives finite V_R and finite gradients
    collapsed = torch.zeros(16, 1, 4, 4, requires_grad=True)
    v = neighbors_embedding_kl(z.float(), collapsed)
    v.backward()
    assert math.isfinite(v.item()) and torch.isfinite(collapsed.grad).all()


# -- gradient matching ---------------------------------------------------------------------

class LinearD(nn.Module):
    """l(x) = wᵀx + b: ∇_x l = w everywhere."""

    def __init__(self, w, b=0.0):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float64))
        self.b = nn.Parameter(torch.tensor(b, dtype=torch.float64))

    def forward(self, x):
        return x @ self.w + self.b


REAL = [(1.0, 0.0), (0.0, 2.0)]
FAKE = [(-1.0, 1.0), (0.5, -0.5)]
W, B = (0.5, -1.0), 0.25
sig = lambda t: 1.0 / (1.0 + math.exp(-t))  # noqa: E731
dot = lambda a, b: sum(u * v for u, v in zip(a, b))  # noqa: E731


def _terms(score, matching):
    d = LinearD(list(W), B)
    real = torch.tensor(REAL, dtype=torch.float64, requires_grad=True)
    fake = torch.tensor(FAKE, dtype=torch.float64, requires_grad=True)
    _, rg = scores_and_gradients(d, real, score)
    _, fg = scores_and_gradients(d, fake, score, create_graph=True)
    return {k: v.item() for k, v in matching_terms(real.detach(), rg, fake, fg, matching).items()}


def test_gradient_matching_on_a_linear_logit():
    # ∇l = w for every sample: the first-order term vanishes in both forms
    exp = _terms("logit", "expectation")
    assert exp["grad"] == pytest.approx(0.0, abs=1e-15)
    mean_r = [sum(c) / 2 for c in zip(*REAL)]
    mean_f = [sum(c) / 2 for c in zip(*FAKE)]
    assert exp["dot"] == pytest.approx((dot(W, mean_r) - dot(W, mean_f)) ** 2)
    norm = _terms("logit", "norm")
    assert norm["grad"] == pytest.approx(0.0, abs=1e-15)
    abs_r = sum(abs(dot(W, x)) for x in REAL) / 2
    abs_f = sum(abs(dot(W, x)) for x in FAKE) / 2
    assert norm["dot"] == pytest.approx((abs_r - abs_f) ** 2)


def test_gradient_matching_on_the_probability_of_a_linear_logit():
    # ∇σ(l(x)) = σ'(l(x))·w with σ' = σ(1 − σ)
    slope = lambda x: sig(dot(W, x) + B) * (1 - sig(dot(W, x) + B))  # noqa: E731
    sr = sum(slope(x) for x in REAL) / 2
    sf = sum(slope(x) for x in FAKE) / 2
    exp = _terms("prob", "expectation")
    assert exp["grad"] == pytest.approx((sr - sf) ** 2 * dot(W, W))
    dot_r = sum(slope(x) * dot(W, x) for x in REAL) / 2
    dot_f = sum(slope(x) * dot(W, x) for x in FAKE) / 2
    assert exp["dot"] == pytest.approx((dot_r - dot_f) ** 2)
    norm = _terms("prob", "norm")
    assert norm["grad"] == pytest.approx((sr - sf) ** 2 * dot(W, W))  # slopes > 0
    abs_r = sum(abs(slope(x) * dot(W, x)) for x in REAL) / 2
    abs_f = sum(abs(slope(x) * dot(W, x)) for x in FAKE) / 2
    assert norm["dot"] == pytest.approx((abs_r - abs_f) ** 2)


@pytest.mark.parametrize("matching", ["expectation", "norm"])
def test_gradient_matching_backpropagates_through_input_gradients(matching):
    # create_graph=True: the loss's gradient w.r.t. the generated points is exact (gradcheck)
    d = LinearD([0.5, -1.0], 0.25)
    real = torch.tensor(REAL, dtype=torch.float64)

    def loss(fake):
        return gradient_matching_loss(d, real, fake, 1.0, 1.0, matching, "prob")[0]

    fake = torch.tensor(FAKE, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(loss, (fake,))
    # logit score: ∂/∂fake_i of the dot term = −2 (wᵀm_r − wᵀm_f) w / n
    real_g = real.clone().requires_grad_(True)
    _, rg = scores_and_gradients(d, real_g, "logit")
    _, fg = scores_and_gradients(d, fake, "logit", create_graph=True)
    matching_terms(real, rg, fake, fg, "expectation")["dot"].backward()
    mean_r = [sum(c) / 2 for c in zip(*REAL)]
    mean_f = [sum(c) / 2 for c in zip(*FAKE)]
    gap = dot(W, mean_r) - dot(W, mean_f)
    expected = [[-2 * gap * wk / 2 for wk in W]] * 2
    assert torch.allclose(fake.grad, torch.tensor(expected, dtype=torch.float64))


# -- presets -----------------------------------------------------------------------------------

def test_report_preset_and_explicit_override():
    gngan = METHODS.get("gngan")
    info = MNIST.info
    paper = gngan.resolve_params({}, info)
    assert paper["preset"] == "paper" and paper["alpha"] == 0.05
    assert paper["lr_e"] == paper["lr_g"] == paper["lr_d"] == 2e-4
    assert (paper["beta1"], paper["beta2"], paper["lambda_p"]) == (0.5, 0.9, 1.0)
    report = gngan.resolve_params({"preset": "report"}, info)
    assert report["alpha"] == 0.06
    assert report["lr_e"] == report["lr_g"] == report["lr_d"] == 1.5e-4
    mixed = gngan.resolve_params({"preset": "report", "lr_d": 3e-4, "alpha": 0.1}, info)
    assert (mixed["lr_d"], mixed["alpha"], mixed["lr_g"]) == (3e-4, 0.1, 1.5e-4)
    # the preset also beats the data kind's defaults (toy lr 1e-3)
    assert gngan.resolve_params({"preset": "report"}, Ring8.info)["lr_g"] == 1.5e-4
    # fully concrete: re-validating the resolved dict changes nothing (stable trial hash)
    assert gngan.Params(**mixed).model_dump() == mixed
    with pytest.raises(ValidationError):
        gngan.resolve_params({"preset": "tuned"}, info)


def test_points_default_to_norm_matching_images_keep_the_expectation_form():
    gngan = METHODS.get("gngan")
    for info in (Ring8.info, Grid25.info):
        assert gngan.resolve_params({}, info)["matching"] == "norm"
        # a preset does not touch it; an explicit value wins over the data default
        assert gngan.resolve_params({"preset": "report"}, info)["matching"] == "norm"
        assert gngan.resolve_params({"matching": "expectation"}, info)["matching"] == "expectation"
    assert gngan.resolve_params({}, MNIST.info)["matching"] == "expectation"  # report Eq. (1)
    assert gngan.resolve_params({"preset": "report"}, MNIST.info)["matching"] == "expectation"
    # the rest of the 2D defaults are still Dist-GAN's toy settings
    points = gngan.resolve_params({}, Ring8.info)
    assert (points["lr_g"], points["n_critic"], points["lambda_p"], points["d_norm"]) == (1e-3, 5, 0.1, "none")


class RadialD(nn.Module):
    """l(x) = −‖x‖²/2: ∇_x l = −x, ‖∇l‖ = ‖x‖."""

    def forward(self, x):
        return -0.5 * x.pow(2).sum(1)


def test_expectation_matching_is_blind_to_samples_spread_symmetrically_far_from_the_data():
    # Real points (±2, 0); generated points (±a, 0) with a = 5, far outside the data.
    # First-order term, logit score:
    #   expectation: ‖E(−x) − E(−G(z))‖² = ‖0 − 0‖² = 0 for every a, and its gradient is 0:
    #                the samples are never pulled back (the failure seen on grid25, whose
    #                symmetric data also give E ∇D(x) ≈ 0);
    #   norm:        (E‖x‖ − E‖G(z)‖)² = (2 − a)² = 9; ∂/∂f_i = −2(2 − a)·(1/2)·f_i/‖f_i‖ = ±3 e1,
    #                so gradient descent moves both points inward, to the data's radius 2.
    d = RadialD()
    real = torch.tensor([[2.0, 0.0], [-2.0, 0.0]], dtype=torch.float64)
    _, rg = scores_and_gradients(d, real.clone().requires_grad_(True), "logit")
    for matching, value, grad in [("expectation", 0.0, [[0.0, 0.0], [0.0, 0.0]]),
                                  ("norm", 9.0, [[3.0, 0.0], [-3.0, 0.0]])]:
        fake = torch.tensor([[5.0, 0.0], [-5.0, 0.0]], dtype=torch.float64, requires_grad=True)
        _, fg = scores_and_gradients(d, fake, "logit", create_graph=True)
        term = matching_terms(real, rg, fake, fg, matching)["grad"]
        term.backward()
        assert term.item() == pytest.approx(value, abs=1e-12)
        assert torch.allclose(fake.grad, torch.tensor(grad, dtype=torch.float64))
    # descent on the norm term brings the points to radius 2 (the known fixed point)
    fake = torch.tensor([[5.0, 0.0], [-5.0, 0.0]], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([fake], lr=0.5)
    for _ in range(50):
        _, fg = scores_and_gradients(d, fake, "logit", create_graph=True)
        opt.zero_grad()
        matching_terms(real, rg, fake, fg, "norm")["grad"].backward()
        opt.step()
    assert torch.allclose(fake.detach(), real, atol=1e-6)


# -- training --------------------------------------------------------------------------------

def _make(name, info, **overrides):
    cls = METHODS.get(name)
    return cls(cls.Params(**cls.resolve_params(overrides, info)), info)


def train_on_ring8(name, **overrides):
    torch.manual_seed(0)
    method = _make(name, Ring8.info, width=32, **overrides)
    data = Ring8().load_split("test")[0]
    shapes = []

    def evaluate(m):
        shapes.append(tuple(m.sample(50, torch.Generator().manual_seed(1)).shape))
        return {}, {}

    result = Trainer(method, data, 64, 200, 100, evaluate, lambda *a: None).run()
    return method, result, shapes


def test_gngan_trains_on_ring8(one_thread):
    method, result, shapes = train_on_ring8("gngan")
    assert result.status == "finished" and result.last_step == 200
    assert all(math.isfinite(v) for v in result.last_losses.values())
    assert {"loss_ae", "v_r", "loss_d", "penalty", "loss_g", "gm_grad", "gm_dot"} <= set(result.last_losses)
    assert shapes == [(50, 2), (50, 2)]
    assert set(method.modules()) == {"E", "G", "D"} and set(method.optimizers()) == {"E", "G", "D"}
    assert torch.isfinite(method.sample(100)).all()


@pytest.mark.parametrize("overrides", [{}, {"preset": "report", "matching": "norm", "score": "logit",
                                            "ne_batch": "prior_and_encoded", "loss": "hinge"}])
def test_gngan_one_step_on_mnist_shaped_data(one_thread, overrides):
    torch.manual_seed(0)
    method = _make("gngan", MNIST.info, width=8, **overrides)
    x = torch.rand(16, 1, 28, 28) * 2 - 1
    before = [p.clone() for p in method.E.parameters()]
    stats = method.step(lambda: x)
    assert all(math.isfinite(v) for v in stats.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, method.E.parameters()))
    samples = method.sample(5)
    assert samples.shape == (5, 1, 28, 28) and samples.abs().max() <= 1.0
