"""The translation family: domains, pairs, CycleGAN/DualGAN/DiscoGAN losses by hand, the
translation metrics on constructed translators with known answers, a tiny CycleGAN trial.

Classifier use is limited to the MNIST classifier (shared with the other metric tests): the
known-answer checks run the B→A direction of ``mnist2edges`` (edges → MNIST)."""

from __future__ import annotations

import json
import math
import textwrap

import pytest
import torch
from PIL import Image
from torch import nn

from ganbench.data.base import get_dataset, load_dataset
from ganbench.data.mnist import load_mnist_uint8
from ganbench.data.mnist_domains import MIN_CONTRAST, colored_uint8, edges_uint8, morphological_gradient
from ganbench.data.pairs import from_common, split_domains, to_common
from ganbench.errors import GanbenchError
from ganbench.metrics.base import EvalContext
from ganbench.registry import METHODS, METRICS


class Fn(nn.Module):
    """A stand-in network computing a fixed function."""

    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(x)


def _method(name: str, **params):
    info = get_dataset("mnist2edges").info
    cls = METHODS.get(name)
    return cls(cls.Params(**cls.resolve_params({"width": 4, **params}, info)), info)


def _stand_ins(method):
    """G_ab(x) = x + 0.5, G_ba(x) = 2x, D_a(x) = D_b(x) = x (the image itself as the score map)."""
    method.G_ab, method.G_ba = Fn(lambda x: x + 0.5), Fn(lambda x: 2 * x)
    method.D_a, method.D_b = Fn(lambda x: x), Fn(lambda x: x)
    a = torch.tensor([0.0, 1.0]).view(1, 1, 1, 2)
    b = torch.tensor([-1.0, 1.0]).view(1, 1, 1, 2)
    return a, b


# ---------------------------------------------------------------------------------------------
# losses by hand
# ---------------------------------------------------------------------------------------------
def test_cycle_loss_by_hand():
    from ganbench.methods.cyclegan import cycle_loss, lsgan_d_loss, lsgan_g_loss

    a, a_cyc = torch.tensor([0.0, 1.0]), torch.tensor([0.5, 0.5])
    b, b_cyc = torch.tensor([-1.0, 1.0]), torch.tensor([-1.0, 0.0])
    # |0 − 0.5|, |1 − 0.5| -> mean 0.5;  |−1 − (−1)|, |1 − 0| -> mean 0.5;  sum 1.0
    assert cycle_loss(a, a_cyc, b, b_cyc).item() == pytest.approx(1.0)
    # ½ (mean((D(real) − 1)²) + mean(D(fake)²)) = ½ ((1 + 0)/2 + (4 + 4)/2) = 2.25
    assert lsgan_d_loss(torch.tensor([0.0, 1.0]), torch.tensor([-2.0, 2.0])).item() == pytest.approx(2.25)
    assert lsgan_g_loss(torch.tensor([0.0, 3.0])).item() == pytest.approx((1 + 4) / 2)


def test_cyclegan_objective_by_hand():
    m = _method("cyclegan")
    a, b = _stand_ins(m)
    g = m.generator_losses(a, b)
    # G(a) = [0.5, 1.5], F(b) = [−2, 2]
    # GAN: mean((G(a) − 1)²) = (0.25 + 0.25)/2 = 0.25;  mean((F(b) − 1)²) = (9 + 1)/2 = 5  -> 5.25
    assert g["gan"].item() == pytest.approx(5.25)
    # cycle: F(G(a)) = 2a + 1 = [1, 3]: |1 − 0|, |3 − 1| -> 1.5;  G(F(b)) = 2b + 0.5 = [−1.5, 2.5]:
    # |−1.5 + 1|, |2.5 − 1| -> (0.5 + 1.5)/2 = 1.0;  sum 2.5
    assert g["cycle"].item() == pytest.approx(2.5)
    assert g["total"].item() == pytest.approx(5.25 + 10 * 2.5)
    assert "identity" not in g
    # critics on real a, b and translations F(b), G(a), each ½-weighted:
    # D_A: ½((1 + 0)/2 + (4 + 4)/2) = 2.25;  D_B: ½((4 + 0)/2 + (0.25 + 2.25)/2) = 1.625
    assert m.critic_loss(a, b, g["fake_a"], g["fake_b"]).item() == pytest.approx(2.25 + 1.625)

    m = _method("cyclegan", lambda_identity=0.5)
    a, b = _stand_ins(m)
    g = m.generator_losses(a, b)
    # identity: |G(b) − b| = 0.5 everywhere -> 0.5;  |F(a) − a| = |a| -> (0 + 1)/2 = 0.5;  sum 1.0
    assert g["identity"].item() == pytest.approx(1.0)
    assert g["total"].item() == pytest.approx(5.25 + 10 * 2.5 + 0.5 * 10 * 1.0)


def test_dualgan_terms_by_hand_and_clipping():
    from ganbench.methods.dualgan import reconstruction_loss, wgan_critic_loss

    u, u_rec = torch.tensor([0.0, 1.0]), torch.tensor([0.5, 0.5])
    v, v_rec = torch.tensor([-1.0, 1.0]), torch.tensor([-1.0, 0.0])
    # λ_U · 0.5 + λ_V · 0.5 = 100 · 0.5 + 1000 · 0.5
    assert reconstruction_loss(u, u_rec, v, v_rec, 100.0, 1000.0).item() == pytest.approx(550.0)
    # E[D(fake)] − E[D(real)] = (0 − 2)/2 − (1 + 3)/2 = −3
    assert wgan_critic_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])).item() == pytest.approx(-3.0)

    m = _method("dualgan")
    u, v = _stand_ins(m)
    g = m.generator_losses(u, v)
    # G_B(G_A(u)) = 2u + 1: |u − (2u + 1)| = |u + 1| -> (1 + 2)/2 = 1.5;
    # G_A(G_B(v)) = 2v + 0.5: |v + 0.5| -> (0.5 + 1.5)/2 = 1.0;  100 · 1.5 + 100 · 1.0 = 250
    assert g["reconstruction"].item() == pytest.approx(250.0)
    # −E[D_B(G_B(v))] − E[D_A(G_A(u))] = −mean(2v) − mean(u + 0.5) = 0 − 1 = −1
    assert g["adversarial"].item() == pytest.approx(-1.0)
    assert g["total"].item() == pytest.approx(249.0)

    m = _method("dualgan")
    with torch.no_grad():
        for w in m.D_a.parameters():
            w.fill_(0.5)
    m.clip_critics()
    assert all(w.abs().max().item() <= 0.01 for w in [*m.D_a.parameters(), *m.D_b.parameters()])
    assert isinstance(m.opt_d, torch.optim.RMSprop) and m.opt_d.param_groups[0]["lr"] == 5e-5


def test_discogan_terms_by_hand():
    from ganbench.methods.discogan import gan_d_loss, gan_g_loss, reconstruction_loss

    a, a_rec = torch.tensor([0.0, 1.0]), torch.tensor([0.5, 0.5])
    b, b_rec = torch.tensor([-1.0, 1.0]), torch.tensor([-1.0, 0.0])
    # MSE: (0.25 + 0.25)/2 + (0 + 1)/2 = 0.75
    assert reconstruction_loss(a, a_rec, b, b_rec).item() == pytest.approx(0.75)
    # logit ln 3 -> D = 0.75:  −log 0.75 − log(1 − 0.75)
    logit = torch.tensor([math.log(3.0)])
    assert gan_d_loss(logit, logit).item() == pytest.approx(-math.log(0.75) - math.log(0.25), rel=1e-6)
    assert gan_g_loss(logit).item() == pytest.approx(-math.log(0.75), rel=1e-6)

    m = _method("discogan")
    a, b = _stand_ins(m)
    g = m.generator_losses(a, b)
    # x_ABA = 2a + 1 = [1, 3]: ((1)² + (2)²)/2 = 2.5;  x_BAB = 2b + 0.5: ((−0.5)² + (1.5)²)/2 = 1.25
    assert g["reconstruction"].item() == pytest.approx(3.75)


# ---------------------------------------------------------------------------------------------
# domains and pairs
# ---------------------------------------------------------------------------------------------
def test_cyclegan_learning_rate_is_constant_then_decays_linearly(one_thread):
    """decay_from 0.5 of T = 4 iterations: lr · (1 − (t − 2)⁺ / 2) before iteration t's step,
    i.e. 1, 1, 1, ½ of lr at t = 0..3 (the paper: constant for 100 epochs, then linearly to 0)."""
    from ganbench.methods.sngan import linear_decay

    m = _method("cyclegan", pool_size=0, lr_g=2e-4, lr_d=1e-4)
    m.total_iterations = 4
    x = torch.rand(4, 2, 28, 28) * 2 - 1
    seen = []
    for _ in range(4):
        m.step(lambda: x)
        seen.append((m.opt_g.param_groups[0]["lr"], m.opt_d.param_groups[0]["lr"]))
    assert seen == [pytest.approx((2e-4, 1e-4))] * 3 + [pytest.approx((1e-4, 0.5e-4))]
    # the same helper by hand, T = 10: from 0 on, t = 3 -> 0.7; from half, t = 8 -> 1 − 3/5 = 0.4
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    linear_decay([opt], [2.0], 3, 10)
    assert opt.param_groups[0]["lr"] == pytest.approx(1.4)
    linear_decay([opt], [2.0], 8, 10, start=0.5)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.8)
    linear_decay([opt], [2.0], 12, 10, start=0.5)  # past the end: 0, never negative
    assert opt.param_groups[0]["lr"] == 0.0
    linear_decay([opt], [2.0], 8, 10, start=1.0)  # decay_from 1: never (lr left as it was)
    assert opt.param_groups[0]["lr"] == 0.0


def test_domains_are_deterministic_keep_labels_and_contrast():
    mnist = load_mnist_uint8()
    x1, y1 = colored_uint8("test")
    x2, _ = colored_uint8("test")
    assert x1.shape == (10000, 3, 32, 32) and x1.dtype == torch.uint8
    assert x1.numpy().tobytes() == x2.numpy().tobytes()
    assert torch.equal(y1, mnist["test_y"])
    # where the digit is fully on (255) the pixel is the digit colour; the padded corner is the
    # background: every channel differs by at least MIN_CONTRAST
    i, r, c = (mnist["test_x"][:200] == 255).nonzero()[0].tolist()
    assert (x1[i, :, r + 2, c + 2].int() - x1[i, :, 0, 0].int()).abs().min() >= MIN_CONTRAST

    e1, ye = edges_uint8("test")
    assert e1.numpy().tobytes() == edges_uint8("test")[0].numpy().tobytes()
    assert torch.equal(ye, mnist["test_y"])
    # a 3×3 block of 255 in a 5×5 image: dilation covers all 25 pixels, erosion only the centre
    block = torch.zeros(1, 5, 5, dtype=torch.uint8)
    block[0, 1:4, 1:4] = 255
    expected = torch.full((5, 5), 255, dtype=torch.uint8)
    expected[2, 2] = 0
    assert torch.equal(morphological_gradient(block)[0], expected)


def test_pairs_take_disjoint_indices_and_convert_to_a_common_shape():
    mnist = load_mnist_uint8()
    x, y = get_dataset("mnist2colored").load_split("test")
    info = get_dataset("mnist2colored").info
    assert info.kind == "pair" and x.shape == (5000, 6, 32, 32) and y.shape == (5000, 2)
    a, b = split_domains(x, info)
    # A: MNIST's even test images, grey -> RGB, padded with −1; B: mnist_colored's odd ones
    even = mnist["test_x"][0::2].float().div(127.5).sub(1)[:, None]
    assert torch.equal(a, to_common(even, (3, 32, 32)))
    assert torch.allclose(from_common(a, (1, 28, 28)), even, atol=1e-6)  # the mean of three equal channels
    assert torch.equal(b, colored_uint8("test")[0][1::2].float().div(127.5).sub(1))
    assert torch.equal(y[:, 0], mnist["test_y"][0::2]) and torch.equal(y[:, 1], mnist["test_y"][1::2])

    pair = get_dataset("pair", {"a": "mnist_edges", "b": "mnist"})
    assert pair.info.name == "pair-mnist_edges-mnist" and pair.info.shape == (1, 28, 28)
    for params, key in [({"a": "mnist"}, "b: missing"), ({"a": "mnist", "b": "ring8"}, "b: 'ring8' holds points"),
                        ({"a": "mnist", "b": "mnist", "c": 1}, "c: unknown key")]:
        with pytest.raises(GanbenchError, match=key):
            get_dataset("pair", params)
    # generic image metrics refuse pair data; translation metrics refuse image data
    assert not METRICS.get("fcd").applies_to(info) and METRICS.get("class_kept").applies_to(info)
    assert not METRICS.get("cycle_l1").applies_to(get_dataset("mnist").info)
    with pytest.raises(GanbenchError, match="not a pair"):
        METHODS.get("cyclegan").resolve_params({}, get_dataset("mnist").info)
    with pytest.raises(GanbenchError, match="does not translate"):
        METHODS.get("gan").resolve_params({}, info)


def test_a_suite_pairing_a_method_with_the_wrong_kind_of_data_fails_in_one_line(tmp_path):
    from ganbench.suite import SuiteError, load_suite
    from tests.conftest import write_suite

    for dataset, method, metric, words in [("mnist", "cyclegan", "fcd", "not a pair"),
                                           ("mnist2edges", "gan", "cycle_l1", "does not translate")]:
        suite = write_suite(tmp_path, f"name: bad\ndatasets: [{dataset}]\nmethods: [{method}]\n"
                                      f"eval: {{metrics: [{metric}]}}\n")
        with pytest.raises(SuiteError, match=rf"suite.yaml: methods\[0\]: method '{method}' .*{words}"):
            load_suite(suite)


# ---------------------------------------------------------------------------------------------
# metrics on constructed translators
# ---------------------------------------------------------------------------------------------
class Identity:
    name, iteration = "identity", 0

    def translate(self, x, direction="ab"):
        return x.clone()


class Oracle:
    """The perfect B→A translator of mnist2edges' test split: each edge map's own MNIST image."""

    name, iteration = "oracle", 0

    def __init__(self):
        x, _ = load_dataset("mnist2edges", "test")
        self.edges = split_domains(x, get_dataset("mnist2edges").info)[1]
        self.originals = load_mnist_uint8()["test_x"][1::2].float().div(127.5).sub(1)[:, None]

    def translate(self, x, direction="ab"):
        assert direction == "ba" and torch.equal(x, self.edges[:len(x)])
        return self.originals[:len(x)].clone()


def test_identity_keeps_the_class_but_misses_the_target_domain(one_thread):
    from ganbench.metrics.translation import class_kept, target_fcd

    info = get_dataset("mnist2edges").info
    ctx = lambda m: EvalContext(dataset=info, reference="test", num_samples=1000, method=m)  # noqa: E731
    kept_oracle, clf = class_kept(ctx(Oracle()), "ba")
    fcd_oracle, _ = target_fcd(ctx(Oracle()), "ba")
    kept_id, _ = class_kept(ctx(Identity()), "ba")
    fcd_id, _ = target_fcd(ctx(Identity()), "ba")
    # the oracle's "translations" are real MNIST test digits: the classifier's own accuracy
    assert kept_oracle == pytest.approx(clf.record["test_accuracy"], abs=0.02)
    assert kept_oracle > 0.97
    # the identity keeps the digit (an edge map is still legible: measured 0.88) ...
    assert kept_id > 0.7
    # ... but stays in the edge domain: far from MNIST (measured 92) where the oracle's set, real
    # MNIST digits against 1,000 other real ones, is at FCD's sampling floor for n = 1,000 (10.8)
    assert fcd_oracle < 20.0 and fcd_id > 4 * fcd_oracle and fcd_id > 40.0


def test_metric_values_keys_and_protocol(monkeypatch, one_thread):
    import ganbench.metrics.translation as tr
    from ganbench.metrics.evaluate import compute_metrics
    from ganbench.metrics.mnist_classifier import load_classifier

    mnist_clf = load_classifier("mnist")
    monkeypatch.setattr(tr, "classifier", lambda domain: mnist_clf)  # both domains are 1×28×28
    values, protocol = compute_metrics(torch.zeros(2), "mnist2edges", ["class_kept", "target_fcd", "cycle_l1"],
                                       num_samples=200, method=Identity())
    assert set(values) == {"class_kept", "class_kept_ba", "target_fcd", "target_fcd_ba", "cycle_l1", "cycle_l1_ba"}
    assert values["cycle_l1"] == 0.0 and values["cycle_l1_ba"] == 0.0  # F(G(x)) = x
    # A→B of the identity: MNIST digits as "edge maps", MNIST's classifier: kept
    assert values["class_kept"] > 0.95 and all(math.isfinite(v) for v in values.values())
    assert protocol["class_kept"]["n"] == 200 and protocol["class_kept"]["classifier_sha1_ab"] == mnist_clf.sha1
    assert protocol["target_fcd"]["domain_b"] == "mnist_edges"
    with pytest.raises(GanbenchError, match="judges a translation method"):
        compute_metrics(torch.zeros(2), "mnist2edges", ["cycle_l1"], num_samples=10)


# ---------------------------------------------------------------------------------------------
# a tiny trial
# ---------------------------------------------------------------------------------------------
def test_a_tiny_cyclegan_trial_writes_its_strip_and_metrics(tmp_path, one_thread):
    from ganbench.suite import load_suite
    from ganbench.trial import TrialContext, train_trial
    from tests.conftest import write_suite

    suite = write_suite(tmp_path, textwrap.dedent("""\
        name: tiny_cyclegan
        datasets: [mnist2colored]
        methods: [cyclegan]
        params: {width: 4, n_res: 0}
        seeds: [0]
        train: {iterations: 4, batch_size: 8, eval_every: 2}
        eval: {metrics: [cycle_l1], num_samples: 50, reference: test}
        resources: {cpus_per_trial: 1, gpus_per_trial: 0}
    """))
    (spec,) = load_suite(suite).expand()
    ctx = TrialContext("tiny_cyclegan", str(tmp_path / "tiny_cyclegan"))
    result = train_trial(spec, ctx)
    folder = tmp_path / "tiny_cyclegan" / "trials" / spec.trial_id
    assert result["status"] == "finished", (folder / "error.txt").read_text() if (folder / "error.txt").exists() else ""
    records = [json.loads(line) for line in (folder / "evals.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    assert 0.0 < records[-1]["values"]["cycle_l1"] < 2.0 and "cycle" in records[-1]["losses"]
    assert records[-1]["protocol"]["cycle_l1"]["n"] == 50
    with Image.open(folder / "samples.png") as im:
        # one column per digit class, six rows (A, G(A), F(G(A)), B, F(B), G(F(B))) of 32 px + 2 px padding
        assert im.size == (10 * 34 + 2, 6 * 34 + 2)
