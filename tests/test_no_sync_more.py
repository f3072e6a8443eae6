"""Issue 16 item 1, continued: EBGAN, BEGAN, LAPGAN, PGGAN, cGML, Dist-GAN and GN-GAN make no host sync between
logging windows, and G's moving average (``ema_g``) reads nothing back at its updates.

The counting is tests/test_no_sync.py's (its ``sync_calls`` fixture and helpers are imported):
every call, from ganbench code, of a tensor method that hands a value to Python. The EMA test
counts calls from *any* module, torch's included, because torch's ``AveragedModel`` (which the
EMA was built on) read its step counter inside torch.
"""

from __future__ import annotations

import sys

import pytest
import torch
from torch import nn

from ganbench.data.conditional import pair_dims
from ganbench.data.mnist import MNIST
from ganbench.data.toy2d import Ring8
from ganbench.data.toy3d import Toy3D
from ganbench.methods.ema import EMA
from ganbench.registry import METHODS
from tests.test_no_sync import FLUSH, SYNCING, _assert_six_steps_without_sync, _windowed_run, sync_calls  # noqa: F401


def _build(name, info, params):
    cls = METHODS.get(name)
    return cls(cls.Params(**cls.resolve_params(params, info)), info)


#: method, dataset info, params, the stats beyond loss_d/loss_g each window must carry
CASES = [
    ("ebgan", Ring8.info, {"width": 8, "ema_g": 0.9}, {"energy_real", "energy_fake", "pt"}),
    ("began", Ring8.info, {"width": 8, "ema_g": 0.9, "k_0": 0.5, "lambda_k": 0.1}, {"k", "m", "l_real", "l_fake_d"}),
    ("lapgan", MNIST.info, {"width": 2, "z_dim": 4}, {"loss_d0", "loss_g0", "loss_d2", "loss_g2"}),
    # phases of 2 iterations over 7, 14, 28 px: steps 1-2 stabilise 7 px, 3-4 fade 14 px in
    # (α = 0, then 0.5), 5-6 stabilise 14 px
    ("pggan", MNIST.info, {"width": 2, "z_dim": 4, "phase_iterations": 2, "ema_g": 0.9}, {"penalty", "drift"}),
    ("cgml", Toy3D.info, {"width": 8, "inner_steps": 2}, {"loss_rec", "loss_z", "z_norm", "lip_g"}),
    ("distgan", Ring8.info, {"width": 8}, {"loss_ae", "penalty", "ae_rec", "ae_reg"}),
    ("gngan", Ring8.info, {"width": 8}, {"ae_rec", "v_r", "gm_score", "gm_grad", "gm_dot"}),
]


@pytest.mark.parametrize("name, info, params, extra", CASES, ids=[c[0] for c in CASES])
def test_steps_make_no_sync_between_windows(one_thread, sync_calls, name, info, params, extra):
    torch.manual_seed(0)
    method = _build(name, info, params)
    if info.kind == "points":
        data = Ring8().load_split("test")[0]
    elif info.kind == "conditional":
        data = torch.rand(64, sum(pair_dims(info))) * 2 - 1  # rows [condition, target]
    else:
        data = torch.rand(64, *info.shape) * 2 - 1
    _, per_step, logged, steps_losses = _windowed_run(method, data, sync_calls)
    # the evaluation at step 6 (after the last flush) may read the method's progress values:
    # BEGAN's mean of M is its one host read, once per evaluation
    at_eval = [("ganbench.methods.began", "BEGAN.progress_values", "__float__")] if name == "began" else []
    _assert_six_steps_without_sync(per_step, logged, steps_losses, sync_calls[:len(sync_calls) - len(at_eval)])
    assert sync_calls[len(sync_calls) - len(at_eval):] == at_eval
    keys = set(logged[-1][1])
    assert extra <= keys and (name == "cgml" or {"loss_d", "loss_g"} <= keys), keys
    if name == "began":  # k_t moved on the device, inside [0, 1], and was logged as its window mean
        assert method.k.dtype == torch.float64 and 0.0 <= float(method.k) <= 1.0 and float(method.k) != 0.5
        assert logged[0][1]["k"] == pytest.approx(sum(float(s["k"]) for s in steps_losses[:3]) / 3)
    if name == "pggan":  # the schedule ran through a fade: next comes the 28 px fade
        assert method.G.res == [7, 14, 28] and method.growth() == (2, 0.0)


@pytest.fixture
def any_sync_calls(monkeypatch):
    """(caller module, function, method) of every syncing call, whoever makes it."""
    calls: list = []
    for name in SYNCING:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            frame = sys._getframe(1)
            calls.append((frame.f_globals.get("__name__", ""), frame.f_code.co_qualname, _name))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return calls


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def _train_a_little(net, generator):
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=generator))
    net(torch.randn(8, 3, generator=generator))  # moves the batch-norm statistics


def test_ema_update_reads_nothing_and_equals_torch_averaged_model(any_sync_calls):
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    net = _net()
    ema = EMA(net, 0.9)
    reference = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=False)
    reference.n_averaged.fill_(1)  # the EMA's start: θ_ema,0 = θ_0 counts as one average
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        _train_a_little(net, g)
        any_sync_calls.clear()
        ema.update(net)
        assert any_sync_calls == []  # no read of a counter or a weight, by ganbench or torch
        reference.update_parameters(net)
        # AveragedModel reads its counter in Python at every update: the counter sees it
        assert ("torch.optim.swa_utils", "AveragedModel.update_parameters", "__bool__") in any_sync_calls
    # bit-identical weights and buffers, the same state-dict keys (old checkpoints load), the same count
    ref_state, state = reference.state_dict(), ema.state_dict()
    assert list(ref_state) == list(state)
    for key in state:
        assert torch.equal(state[key], ref_state[key]), key
    assert int(ema.n_averaged) == 4 and ema.n_averaged.device == next(ema.module.parameters()).device
    # the first parameter by hand: e ← 0.9·e + 0.1·θ after each of the three updates
    w0 = _net()[0].weight.detach()
    g = torch.Generator().manual_seed(1)
    twin, expected = _net(), w0.clone()
    for _ in range(3):
        _train_a_little(twin, g)
        expected = 0.9 * expected + 0.1 * twin[0].weight.detach()
    assert torch.allclose(ema.module[0].weight, expected, atol=1e-6)
    other = EMA(_net(), 0.9)
    other.load_state_dict(ref_state)  # a checkpoint of the AveragedModel-based EMA
    assert torch.equal(other.module[2].bias, reference.module[2].bias) and int(other.n_averaged) == 4
