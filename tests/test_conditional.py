"""Class-conditional GANs (cgan, acgan, projection), their nets and metrics (cond_acc, intra_fcd).

Losses are checked on values worked out by hand (the computation is written next to each
assertion); the metrics on real MNIST test images whose answer is known (true labels: the
classifier's accuracy and a near-zero intra-class distance; shuffled labels: chance and a large
one). The classifier is the cached one of the real ganbench cache (trained once, as in
test_metrics_classifier); reference features go to a temporary folder.
"""

from __future__ import annotations

import json
import math
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

from ganbench.data.base import get_dataset, load_dataset
from ganbench.errors import GanbenchError
from ganbench.methods import acgan
from ganbench.metrics import reference
from ganbench.metrics.evaluate import compute_metrics
from ganbench.metrics.mnist_classifier import load_classifier
from ganbench.registry import METHODS, NETS

MNIST = (1, 28, 28)


@pytest.fixture(scope="module")
def private_refstats(tmp_path_factory):
    """Reference features in a folder of this module (built once here, never the user's cache)."""
    folder = tmp_path_factory.mktemp("refstats")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reference, "cache_dir", lambda: folder)
        reference.clear_memory_cache()
        yield
    reference.clear_memory_cache()


# ---------------------------------------------------------------------------------------------
# AC-GAN's losses
# ---------------------------------------------------------------------------------------------
def test_acgan_class_term_on_tiny_logits():
    # K = 3. Row 0: logits (0, ln 3, 0) -> softmax (1/5, 3/5, 1/5); label 1: −log(3/5) = log(5/3).
    # Row 1: logits (0, 0, 0) -> (1/3, 1/3, 1/3); label 2: −log(1/3) = log 3.
    # Mean: (log(5/3) + log 3) / 2 = log(5) / 2.
    logits = torch.tensor([[0.0, math.log(3.0), 0.0], [0.0, 0.0, 0.0]])
    y = torch.tensor([1, 2])
    assert acgan.class_term(logits, y).item() == pytest.approx(math.log(5.0) / 2, abs=1e-6)


def test_acgan_discriminator_and_generator_losses_by_hand():
    logits = torch.tensor([[0.0, math.log(3.0), 0.0], [0.0, 0.0, 0.0]])
    y = torch.tensor([1, 2])
    # source logits ln 3: P(real | x) = σ(ln 3) = 3/4.
    s_real = torch.full((2,), math.log(3.0))
    s_fake = torch.full((2,), math.log(3.0))
    # −L_S = −log P(real | x_real) − log P(fake | x_fake) = −log(3/4) − log(1/4) = log(4/3) + log 4
    # −L_C = CE(real) + CE(fake) = log(5)/2 + log(5)/2 = log 5  (same logits for both)
    loss_d, parts = acgan.discriminator_loss(s_real, logits, y, s_fake, logits, y)
    assert parts["d_source"] == pytest.approx(math.log(4 / 3) + math.log(4.0), abs=1e-6)
    assert parts["d_class"] == pytest.approx(math.log(5.0), abs=1e-6)
    assert loss_d.item() == pytest.approx(math.log(4 / 3) + math.log(4.0) + math.log(5.0), abs=1e-6)
    # G: −log P(real | x_fake) + CE(fake) = log(4/3) + log(5)/2  (non-saturating source term)
    loss_g = acgan.generator_loss(s_fake, logits, y)
    assert loss_g.item() == pytest.approx(math.log(4 / 3) + math.log(5.0) / 2, abs=1e-6)


def test_acgan_generator_gradient_lowers_the_class_loss_of_its_label():
    # L_C's generated half pulls the asked class's logit up and the others down (softmax − onehot)
    logits = torch.zeros(1, 3, requires_grad=True)
    acgan.generator_loss(torch.zeros(1), logits, torch.tensor([2])).backward()
    # d CE / d logits = softmax − onehot = (1/3, 1/3, 1/3 − 1)
    assert logits.grad[0].tolist() == pytest.approx([1 / 3, 1 / 3, -2 / 3], abs=1e-6)


# ---------------------------------------------------------------------------------------------
# the projection term and the nets' use of labels
# ---------------------------------------------------------------------------------------------
def test_projection_term_on_a_small_matrix(one_thread):
    d = NETS.get("projection_d")("dcgan", MNIST, 2, width=4, norm="none")
    dim = d.net.feature_dim
    V = torch.zeros(2, dim)
    V[0, :3] = torch.tensor([1.0, 2.0, 0.0])
    V[1, :3] = torch.tensor([0.0, -1.0, 3.0])
    with torch.no_grad():
        d.embed.weight.copy_(V)
    phi = torch.zeros(2, dim)
    phi[0, :3] = torch.tensor([1.0, 1.0, 1.0])
    phi[1, :3] = torch.tensor([2.0, 1.0, 1.0])
    y = torch.tensor([1, 0])
    # yᵀVφ: sample 0 (class 1): 0·1 − 1·1 + 3·1 = 2;  sample 1 (class 0): 1·2 + 2·1 + 0·1 = 4
    assert d.projection(phi, y).tolist() == pytest.approx([2.0, 4.0])
    # D(x, y) − D(x, y') = (V_y − V_y')ᵀ φ(x): only the projection depends on y
    d.eval()
    x = torch.rand(2, *MNIST) * 2 - 1
    with torch.no_grad():
        phi_x = d.net.features(x)
        diff = d(x, torch.tensor([1, 1])) - d(x, torch.tensor([0, 0]))
        assert torch.allclose(diff, ((V[1] - V[0]) * phi_x).sum(1), atol=1e-5)
        assert torch.allclose(d(x, y), d.net.head(phi_x).squeeze(1) + (V[y] * phi_x).sum(1), atol=1e-5)


@pytest.mark.parametrize("g_name", ["cond_concat_g", "cbn_resnet_g", "cbn_dcgan_g"])
def test_a_conditional_generator_with_fixed_z_changes_only_with_y(g_name, one_thread):
    torch.manual_seed(0)
    args = ("dcgan",) if g_name == "cond_concat_g" else ()
    g = NETS.get(g_name)(*args, 8, MNIST, 10, width=4)
    if g_name != "cond_concat_g":  # CBN tables start at γ = 1, β = 0 (plain BN): make the classes differ
        with torch.no_grad():
            for m in g.modules():
                if hasattr(m, "gamma_table"):
                    m.gamma_table.weight.normal_(1.0, 0.5)
                    m.beta_table.weight.normal_(0.0, 0.5)
    g.eval()
    z = torch.randn(1, 8).repeat(2, 1)
    with torch.no_grad():
        same = g(z, torch.tensor([3, 3]))
        other = g(z, torch.tensor([3, 7]))
    assert torch.equal(same[0], same[1])  # same z, same y: the same image
    assert torch.equal(same[0], other[0])
    # same z, another y: another image (untrained nets in eval mode give small outputs: compare
    # the change with the image's own scale)
    assert (other[0] - other[1]).abs().max() > 0.05 * other[0].abs().max()


@pytest.mark.parametrize("d_name,norm", [("cond_maps_d", "bn"), ("cond_maps_d", "spectral"),
                                         ("projection_d", "spectral")])
def test_the_discriminator_output_changes_with_y(d_name, norm, one_thread):
    torch.manual_seed(0)
    d = NETS.get(d_name)("dcgan", MNIST, 10, width=4, norm=norm).eval()
    x = torch.rand(1, *MNIST).repeat(2, 1, 1, 1) * 2 - 1
    with torch.no_grad():
        out = d(x, torch.tensor([1, 8]))
    assert (out[0] - out[1]).abs() > 1e-6


def test_acgan_d_has_a_source_and_a_class_head(one_thread):
    s, c = NETS.get("acgan_d")("sngan_cnn", (3, 32, 32), 10, width=4, norm="spectral")(torch.zeros(5, 3, 32, 32))
    assert s.shape == (5,) and c.shape == (5, 10)


def test_conditional_methods_train_a_step_and_sample_given_labels(one_thread):
    info = get_dataset("mnist").info
    x, y = torch.rand(8, *MNIST) * 2 - 1, torch.arange(8) % 10
    for name, extra in [("cgan", {}), ("acgan", {"d_norm": "spectral", "ema_g": 0.9}),
                        ("projection", {"net": "dcgan", "n_critic": 1})]:
        cls = METHODS.get(name)
        m = cls(cls.Params(**cls.resolve_params({"width": 4, **extra}, info)), info)
        stats = m.step(lambda: (x, y))
        assert all(math.isfinite(v) for v in stats.values()), (name, stats)
        labels = torch.tensor([4, 4, 2])
        assert m.sample(3, labels=labels).shape == (3, *MNIST)
        assert m.conditional and m.display_name


def test_a_conditional_method_on_unlabelled_points_is_one_line(tmp_path):
    from ganbench.suite import SuiteError, load_suite
    from tests.conftest import write_suite

    suite = write_suite(tmp_path, "name: c\ndatasets: [ring8]\nmethods: [cgan]\n")
    with pytest.raises(SuiteError) as err:
        load_suite(suite)
    assert "\n" not in str(err.value) and "cgan" in str(err.value) and "ring8" in str(err.value)


# ---------------------------------------------------------------------------------------------
# metrics on real images
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mnist_test():
    return load_dataset("mnist", "test")


def test_cond_acc_of_real_images_is_the_classifier_accuracy_and_chance_when_shuffled(mnist_test, private_refstats):
    x, y = mnist_test
    n = 1000
    clf = load_classifier("mnist")
    values, protocol = compute_metrics(x[:n], "mnist", ["cond_acc"], labels=y[:n])
    assert values["cond_acc"] == pytest.approx(clf.record["test_accuracy"], abs=0.015)
    assert protocol["cond_acc"]["n_gen"] == n and protocol["cond_acc"]["chance"] == 0.1
    shuffled = y[:n][torch.randperm(n, generator=torch.Generator().manual_seed(0))]
    values, _ = compute_metrics(x[:n], "mnist", ["cond_acc"], labels=shuffled)
    assert values["cond_acc"] == pytest.approx(0.1, abs=0.04)  # binomial sd at n=1000: ~0.01


def test_intra_fcd_averages_the_per_class_distances_by_hand():
    from ganbench.metrics.intra_fcd import per_class_frechet

    rng = np.random.default_rng(0)
    ref = rng.normal(size=(60, 4))
    ref_labels = np.repeat([0, 1, 2], 20)
    fake = ref.copy()
    fake[ref_labels == 1] += np.array([3.0, 0.0, 4.0, 0.0])  # class 1 shifted by c, ‖c‖² = 9 + 16 = 25
    # identical sets: d² = 0; a shifted set: the same covariance, d² = ‖c‖² = 25
    d = per_class_frechet(fake, ref_labels, ref, ref_labels, 3)
    assert d == pytest.approx([0.0, 25.0, 0.0], abs=1e-5)
    # intra_fcd is their unweighted mean, 25 / 3; a class with < 2 samples is one line
    with pytest.raises(GanbenchError, match="class 2"):
        per_class_frechet(fake[:41], ref_labels[:41], ref, ref_labels, 3)


def test_intra_fcd_real_vs_real_is_small_and_wrong_classes_are_far(mnist_test, private_refstats):
    x, y = mnist_test
    # 1,000 real images with their labels: a small sample-size bias; with shuffled labels each
    # class's set is a mixture of all digits: far from that class's images
    n = 1000
    real, _ = compute_metrics(x[:n], "mnist", ["intra_fcd"], labels=y[:n])
    shuffled = y[:n][torch.randperm(n, generator=torch.Generator().manual_seed(0))]
    wrong, protocol = compute_metrics(x[:n], "mnist", ["intra_fcd"], labels=shuffled)
    assert 0 < real["intra_fcd"] < 0.1 * wrong["intra_fcd"]
    assert "small_n_note" in protocol["intra_fcd"]


def test_label_metrics_on_unlabelled_samples_are_one_line(mnist_test, private_refstats):
    x, _ = mnist_test
    for name in ("cond_acc", "intra_fcd"):
        with pytest.raises(GanbenchError) as err:
            compute_metrics(x[:20], "mnist", [name])
        assert "\n" not in str(err.value) and name in str(err.value)


# ---------------------------------------------------------------------------------------------
# end to end
# ---------------------------------------------------------------------------------------------
def test_a_tiny_cgan_trial_evaluates_with_labels_and_draws_one_row_per_class(tmp_path, one_thread,
                                                                            private_refstats):
    from ganbench.suite import load_suite
    from ganbench.trial import TrialContext, train_trial
    from tests.conftest import write_suite

    suite = write_suite(tmp_path, textwrap.dedent("""\
        name: tiny_cgan
        datasets: [mnist]
        methods: [cgan]
        params: {width: 4}
        seeds: [0]
        train: {iterations: 4, batch_size: 16, eval_every: 4}
        eval: {metrics: [cond_acc, intra_fcd], num_samples: 100, reference: test}
        resources: {cpus_per_trial: 1, gpus_per_trial: 0}
    """))
    (spec,) = load_suite(suite).expand()
    ctx = TrialContext("tiny_cgan", str(tmp_path / "tiny_cgan"))
    assert train_trial(spec, ctx)["status"] == "finished"
    folder = tmp_path / "tiny_cgan" / "trials" / spec.trial_id
    (record,) = [json.loads(line) for line in (folder / "evals.jsonl").read_text().splitlines()]
    assert 0.0 <= record["values"]["cond_acc"] <= 1.0 and record["values"]["intra_fcd"] > 0
    assert record["protocol"]["intra_fcd"]["n_gen_per_class_min"] == 10  # balanced: 100 / 10
    with Image.open(folder / "samples.png") as im:
        # torchvision's grid: 8 columns, 10 rows (one per class) of 28 px tiles with 2 px padding
        assert im.size == (8 * 30 + 2, 10 * 30 + 2)
