"""BigGAN, IcGAN and the class-conditional SAN (issue 11): conditional BN, the orthogonal
regulariser, truncation, IcGAN's encoders and re-generation, the per-class SAN direction."""

from __future__ import annotations

import pytest
import torch

from ganbench.nets.conditional_norm import ConditionalBatchNorm2d


# -- conditional batch norm ---------------------------------------------------------------------
def test_conditional_bn_picks_the_class_gamma_beta(one_thread):
    bn = ConditionalBatchNorm2d(2, num_classes=3)
    with torch.no_grad():
        bn.gamma_table.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
        bn.beta_table.weight.copy_(torch.tensor([[0.0, 0.5], [-1.0, 1.0], [10.0, 20.0]]))
    # two samples, 2 channels, 1x1 maps: channel 0 = (1, 3) -> mean 2, var 1 -> normalised (-1, +1)
    #                                     channel 1 = (0, 4) -> mean 2, var 4 -> normalised (-1, +1)
    x = torch.tensor([[1.0, 0.0], [3.0, 4.0]]).reshape(2, 2, 1, 1)
    bn.bn.eps = 1e-12  # (x − μ)/σ exactly, to float precision
    out = bn(x, torch.tensor([2, 0])).reshape(2, 2)
    # sample 0, class 2: γ = (5, 6), β = (10, 20): (5·(−1)+10, 6·(−1)+20) = (5, 14)
    # sample 1, class 0: γ = (1, 2), β = (0, 0.5): (1·1+0, 2·1+0.5) = (1, 2.5)
    torch.testing.assert_close(out, torch.tensor([[5.0, 14.0], [1.0, 2.5]]))
    fresh = ConditionalBatchNorm2d(2, num_classes=3)  # starts as plain BN: γ = 1, β = 0
    fresh.bn.eps = 1e-12
    torch.testing.assert_close(fresh(x, torch.tensor([1, 1])).reshape(2, 2),
                               torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))


def test_conditional_bn_from_a_vector(one_thread):
    bn = ConditionalBatchNorm2d(2, cond_dim=3)
    with torch.no_grad():
        bn.gain.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]))
        bn.bias.weight.copy_(torch.tensor([[0.0, 0.0, 1.0], [1.0, 1.0, 1.0]]))
    bn.bn.eps = 1e-12  # (x − μ)/σ exactly, to float precision
    x = torch.tensor([[1.0, 0.0], [3.0, 4.0]]).reshape(2, 2, 1, 1)  # normalised: (-1,-1), (1,1)
    c = torch.tensor([[1.0, 1.0, 2.0], [0.0, -1.0, 3.0]])
    # sample 0: γ = 1 + (1, 2) = (2, 3), β = (2, 4): (−2+2, −3+4) = (0, 1)
    # sample 1: γ = 1 + (0, −2) = (1, −1), β = (3, 2): (1+3, −1+2) = (4, 1)
    torch.testing.assert_close(bn(x, c).reshape(2, 2), torch.tensor([[0.0, 1.0], [4.0, 1.0]]))
    with pytest.raises(ValueError):
        ConditionalBatchNorm2d(2)


# -- BigGAN -------------------------------------------------------------------------------------
def _method(name, info=None, **overrides):
    from ganbench.data.mnist import MNIST
    from ganbench.registry import METHODS

    info = info or MNIST.info
    cls = METHODS.get(name)
    return cls(cls.Params(**cls.resolve_params(overrides, info)), info)


def _labelled_batch(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g) * 2 - 1, torch.arange(n) % 10


def test_orthogonal_regulariser_by_hand():
    from ganbench.methods.biggan import orthogonal_penalty

    # W (rows = filters) = [[1, 2], [3, 4]]: W Wᵀ = [[5, 11], [11, 25]]; off the diagonal 11 and 11:
    # ‖W Wᵀ ⊙ (1 − I)‖²_F = 11² + 11² = 242
    w22 = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert orthogonal_penalty([w22], 1e-4).item() == pytest.approx(242e-4)
    # 3 filters of 2: rows (1, 0), (0, 1), (1, 1): W Wᵀ = [[1, 0, 1], [0, 1, 1], [1, 1, 2]];
    # off-diagonal entries 0, 1, 0, 1, 1, 1 -> squares sum to 4
    w32 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert orthogonal_penalty([w32], 0.5).item() == pytest.approx(0.5 * 4)
    # a conv kernel 2×1×1×2 is the 2×2 matrix above, filter by filter; terms add over weights
    assert orthogonal_penalty([w22.reshape(2, 1, 1, 2), w32], 1.0).item() == pytest.approx(246.0)
    # orthogonal rows (any norms) cost nothing: only the off-diagonal is penalised
    assert orthogonal_penalty([torch.tensor([[3.0, 0.0], [0.0, -2.0]])], 1.0).item() == 0.0


def test_biggan_regularises_g_but_not_its_shared_embedding(one_thread):
    m = _method("biggan", width=2, shared_dim=4, z_dim=6)
    weights = m.ortho_weights()
    assert all(w is not m.G.shared.weight for w in weights)
    assert any(w is m.G.blocks[0].bn1.gain.weight_orig for w in weights)  # CBN's SN'd linear, raw weight
    assert m.G.chunks == [2, 2, 2]  # 28 px: two blocks, three chunks of z
    # the class enters G through the shared embedding: G(z, y) changes with y only
    z = torch.randn(4, 6)
    m.G.eval()
    assert not torch.allclose(m.G(z, torch.tensor([0, 1, 2, 3])), m.G(z, torch.tensor([5, 5, 5, 5])))


def test_truncation_keeps_z_inside(one_thread):
    from ganbench.methods.biggan import truncated_normal

    z = truncated_normal(500, 12, 0.5, "cpu", torch.Generator().manual_seed(1))
    assert z.abs().max().item() <= 0.5 and z.std().item() > 0.2  # not collapsed to 0
    again = truncated_normal(500, 12, 0.5, "cpu", torch.Generator().manual_seed(1))
    torch.testing.assert_close(z, again)  # the evaluation noise stays seeded
    m = _method("biggan", width=2, shared_dim=4, truncation=0.3)
    assert m.eval_prior(200).abs().max().item() <= 0.3
    assert m.prior(200).abs().max().item() > 0.3  # training keeps the plain prior
    off = _method("biggan", width=2, shared_dim=4)
    assert off.params.truncation is None and off.eval_prior(200).abs().max().item() > 0.3
    assert off.sample(10).shape == (10, 1, 28, 28)


def test_biggan_ema_copies_g_before_its_start(one_thread):
    m = _method("biggan", width=2, shared_dim=4, ema_g=0.9, ema_start=0.5)
    m.total_iterations = 4
    batches = iter([_labelled_batch(seed=i) for i in range(8)])
    m.step(lambda: next(batches))  # iteration 1 of 4: before the start, the average is G
    for a, b in zip(m.G_ema.module.parameters(), m.G.parameters()):
        torch.testing.assert_close(a, b)
    m.step(lambda: next(batches))
    m.step(lambda: next(batches))  # iteration 3: averaging, no longer equal
    assert any(not torch.allclose(a, b) for a, b in zip(m.G_ema.module.parameters(), m.G.parameters()))


# -- IcGAN --------------------------------------------------------------------------------------
def test_icgan_reconstruct_regenerates_with_the_new_label(one_thread):
    torch.manual_seed(0)
    m = _method("icgan", width=4, z_dim=8)
    x, _ = _labelled_batch(4)
    same = m.reconstruct(x, torch.tensor([3, 3, 3, 3]))
    torch.testing.assert_close(same, m.reconstruct(x, torch.tensor([3, 3, 3, 3])))  # deterministic
    other = m.reconstruct(x, torch.tensor([7, 7, 7, 7]))
    assert (same - other).abs().amax(dim=(1, 2, 3)).min().item() > 1e-4  # every image changed with y
    z, y_hat = m.encode(x)
    assert z.shape == (4, 8) and y_hat.shape == (4,)
    # no new label: E_y's prediction is the label, so the reconstruction equals re-generation with it
    torch.testing.assert_close(m.reconstruct(x), m.reconstruct(x, y_hat))
    with pytest.raises(ValueError):
        m.reconstruct(x, torch.tensor([1, 2]))


def test_icgan_encoder_losses_decrease(one_thread):
    from ganbench.methods.icgan import label_loss, latent_loss

    # the losses by hand: ‖(1, 2) − (0, 0)‖² = 5 and ‖(0, 0) − (1, 1)‖² = 2 -> mean 3.5
    assert latent_loss(torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[0.0, 0.0], [1.0, 1.0]])).item() \
        == pytest.approx(3.5)
    # uniform logits over K = 4 classes: cross-entropy log 4
    assert label_loss(torch.tensor([2]), torch.zeros(1, 4)).item() == pytest.approx(1.3862944)
    torch.manual_seed(0)
    m = _method("icgan", width=4, z_dim=4, lr_e=1e-3)
    x, y = _labelled_batch(16)
    losses = [m.encoder_step(x, y) for _ in range(25)]
    first = sum(s["loss_ez"] for s in losses[:5]) / 5
    last = sum(s["loss_ez"] for s in losses[-5:]) / 5
    assert last < first, (first, last)
    assert losses[-1]["loss_ey"] < losses[0]["loss_ey"]


def test_icgan_encoders_train_in_the_last_part(one_thread):
    m = _method("icgan", width=4, z_dim=4, encoder_start=0.5)
    m.total_iterations = 4
    keys = [set(m.step(lambda: _labelled_batch())) for _ in range(4)]
    assert ["loss_ez" in k for k in keys] == [False, False, True, True]
    assert {"E_z", "E_y"} <= set(m.modules()) and {"E_z", "E_y"} <= set(m.optimizers())


# -- conditional SAN ----------------------------------------------------------------------------
def test_san_cond_uses_the_class_direction():
    from ganbench.nets.san_cond import ClassSANHead

    head = ClassSANHead(3, 2)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[3.0, 4.0, 0.0], [0.0, 0.0, 2.0]]))  # ω_0 = (.6, .8, 0), ω_1 = (0, 0, 1)
        head.scale.fill_(2.0)
    phi = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 2.0, 3.0]], requires_grad=True)
    y = torch.tensor([0, 1, 1])
    # s·⟨ω_y, φ⟩: 2·(.6 + .8) = 2.8;  2·1 = 2;  2·3 = 6
    torch.testing.assert_close(head(phi, y), torch.tensor([2.8, 2.0, 6.0]))
    fun, dir_ = head.split(phi, y)
    torch.testing.assert_close(fun, dir_)  # same values, different gradients
    dir_.sum().backward()
    assert phi.grad is None and head.weight.grad[0].abs().sum() > 0  # dir: to the directions only
    head.weight.grad = None
    fun[2].backward()  # a class-1 sample's fun output: no gradient to any direction
    assert head.weight.grad is None or head.weight.grad.abs().sum() == 0
    torch.testing.assert_close(phi.grad[2], torch.tensor([0.0, 0.0, 2.0]))  # s·ω_1


def test_san_cond_directions_stay_unit_and_move_per_class(one_thread):
    torch.manual_seed(0)
    m = _method("san_cond", width=4, z_dim=8)
    before = m.D.head.weight.detach().clone()
    x = torch.rand(8, 1, 28, 28) * 2 - 1
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])  # only classes 0 and 1 in the batch
    m.step(lambda: (x, y))
    norms = m.D.head.weight.detach().norm(dim=1)
    torch.testing.assert_close(norms, torch.ones(10))
    moved = (m.D.head.weight.detach() - before).abs().amax(dim=1) > 1e-5  # renormalising: float noise only
    assert moved.tolist() == [True, True] + [False] * 8


# -- a whole trial of each method ---------------------------------------------------------------
TRIAL = """\
name: cond_b
datasets: [mnist]
methods: [{{name: {method}, params: {params}}}]
seeds: [0]
train: {{iterations: 4, batch_size: 8, eval_every: 4}}
eval: {{metrics: [cond_acc, fcd], num_samples: 50}}
resources: {{cpus_per_trial: 1, gpus_per_trial: 0}}
"""


@pytest.mark.parametrize("method, params", [
    ("biggan", "{width: 2, shared_dim: 8, truncation: 1.0, ema_g: 0.9}"),
    ("icgan", "{width: 4, z_dim: 16}"),
    ("san_cond", "{width: 4, z_dim: 16}"),
])
def test_tiny_trial_finishes(tmp_path, one_thread, method, params):
    import json

    from ganbench.suite import load_suite
    from ganbench.trial import TrialContext, train_trial
    from tests.conftest import write_suite

    spec = load_suite(write_suite(tmp_path, TRIAL.format(method=method, params=params))).expand()[0]
    ctx = TrialContext("cond_b", str(tmp_path / "r"))
    assert train_trial(spec, ctx)["status"] == "finished"
    folder = tmp_path / "r" / "trials" / spec.trial_id
    last = json.loads((folder / "evals.jsonl").read_text().splitlines()[-1])
    assert 0.0 <= last["values"]["cond_acc"] <= 1.0 and last["values"]["fcd"] > 0
    assert (folder / "samples.png").exists()
    if method == "icgan":  # its edit strip: 10 test images × (image, reconstruction, 10 re-generations)
        from PIL import Image

        width, height = Image.open(folder / "edits.png").size
        assert (width - 2) // 30 == 12 and (height - 2) // 30 == 10  # 28 px tiles with 2 px padding
