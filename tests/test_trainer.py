"""The trainer: eval schedule, exact resume from a checkpoint, divergence handling."""

from __future__ import annotations

import torch

from ganbench.data.toy2d import Ring8
from ganbench.registry import METHODS
from ganbench.train import Trainer

INFO = Ring8.info


def _method(name="gan"):
    cls = METHODS.get(name)
    return cls(cls.Params(**cls.resolve_params({"width": 16}, INFO)), INFO)


def _trainer(method, data, iterations, ckpt, log):
    def evaluate(m):
        return {"mean_x": float(m.sample(64, torch.Generator().manual_seed(0))[:, 0].mean())}, {"toy": {"n": 64}}

    def on_eval(step, elapsed, values, protocol, losses):
        log.append((step, values["mean_x"]))

    return Trainer(method, data, 32, iterations, 5, evaluate, on_eval, ckpt)


def test_eval_schedule_and_exact_resume(tmp_path):
    data = Ring8().load_split("test")[0]
    torch.manual_seed(3)
    straight_log: list = []
    straight = _method()
    assert _trainer(straight, data, 12, tmp_path / "a.pt", straight_log).run().status == "finished"
    assert [s for s, _ in straight_log] == [5, 10, 12]

    torch.manual_seed(3)
    first_log: list = []
    _trainer(_method(), data, 10, tmp_path / "b.pt", first_log).run()
    torch.manual_seed(999)  # the RNG state must come from the checkpoint, not from here
    resumed = _method()
    resumed_log: list = []
    t = _trainer(resumed, data, 12, tmp_path / "b.pt", resumed_log)
    assert t.resume() and resumed.iteration == 10
    t.run()
    assert resumed_log == [straight_log[-1]]
    for a, b in zip(straight.G.parameters(), resumed.G.parameters()):
        assert torch.equal(a, b)


def test_non_finite_loss_ends_as_diverged(tmp_path):
    data = Ring8().load_split("test")[0]
    log: list = []
    method = _method()
    trainer = _trainer(method, data, 50, None, log)
    original = trainer.on_eval

    def poison_after_first_eval(step, *rest):
        original(step, *rest)
        trainer.data = torch.full_like(data, float("nan"))

    trainer.on_eval = poison_after_first_eval
    result = trainer.run()
    assert result.status == "diverged"
    # losses reach the host once per logging window (min(50, eval_every) = 5 iterations here):
    # the NaN from iteration 6 on is caught at the window's end, 10, and the error names the window
    assert result.last_step == 10 and "non-finite loss in iterations 6-10" in result.error
    assert [s for s, _ in log] == [5]
