"""Issue 16 items 1-2: no host sync between logging windows; train.compile with an eager fallback.

There is no GPU here, so "a host sync" is counted where it would happen: every call, made from
ganbench's own code, of a tensor method that hands a value to Python (``item``, ``__float__``,
``__int__``, ``__bool__``, ``tolist``, ``numpy``, ``cpu``). Torch's own internals (Adam reads its
CPU step counter with ``item``) are not counted: the caller's module must start with
``ganbench.``. A ``float(loss)`` or an ``if not torch.isfinite(loss):`` added to the step or the
loop makes these tests fail.
"""

from __future__ import annotations

import math
import sys

import pytest
import torch

from ganbench.data.toy2d import Ring8
from ganbench.registry import METHODS
from ganbench.train import Trainer

INFO = Ring8.info
SYNCING = ("item", "__float__", "__int__", "__bool__", "tolist", "numpy", "cpu")


def _method(name="gan"):
    cls = METHODS.get(name)
    return cls(cls.Params(**cls.resolve_params({"width": 8}, INFO)), INFO)


@pytest.fixture
def sync_calls(monkeypatch):
    """A list that gets one entry (caller module, caller function, method) per syncing call from
    ganbench code."""
    calls: list = []
    for name in SYNCING:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            frame = sys._getframe(1)
            caller = frame.f_globals.get("__name__", "")
            if caller.startswith("ganbench."):
                calls.append((caller, frame.f_code.co_qualname, _name))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return calls


def test_counter_sees_a_float_in_ganbench_code(sync_calls):
    """The counter is real: the float() a loop would add is counted, torch's own calls are not."""
    from ganbench import train

    loss = torch.tensor(1.5)
    assert math.isfinite(loss) and float(loss) == 1.5 and sync_calls == []  # this module: not counted
    train._clone({"a": loss})  # ganbench code that does not read values
    assert sync_calls == []
    train.Trainer._flush(type("W", (), {"_sums": {"x": loss}, "_counts": {"x": 1}})())
    assert [(where, name) for _, where, name in sync_calls] == [("Trainer._flush", "cpu"), ("Trainer._flush", "tolist")]


def _windowed_run(method, data, sync_calls, labels=None, batch=8, iterations=6, log_every=3):
    """Trains ``method`` through the Trainer; returns (its result, the syncing calls counted at
    each step's on_step, the windows logged, each step's returned losses)."""
    per_step: dict[int, list] = {}
    seen = [0]
    logged: list = []
    steps_losses: list = []
    original_step = method.step

    def recording_step(next_real):
        out = original_step(next_real)
        steps_losses.append(out)
        return out

    def on_step(step, elapsed):
        per_step[step] = sync_calls[seen[0]:]
        seen[0] = len(sync_calls)

    method.step = recording_step
    result = Trainer(method, data, batch, iterations, iterations, lambda m: ({}, {}), lambda *a: None,
                     labels=labels, log_every=log_every, on_step=on_step,
                     on_log=lambda step, losses: logged.append((step, losses))).run()
    assert result.status == "finished"
    return result, per_step, logged, steps_losses


def _assert_window_means(logged, steps_losses, log_every):
    """Each logged value is the mean of the steps of its window that returned that key."""
    for i, (_, window) in enumerate(logged):
        chunk = steps_losses[log_every * i: log_every * (i + 1)]
        for key, value in window.items():
            got = [float(c[key]) for c in chunk if key in c]
            assert value == pytest.approx(sum(got) / len(got), rel=1e-6), key


#: the one window flush's syncing calls: one transfer of the stacked window sums
FLUSH = [("ganbench.train", "Trainer._flush", "cpu"), ("ganbench.train", "Trainer._flush", "tolist")]


def test_no_sync_between_windows_and_window_means(one_thread, sync_calls):
    torch.manual_seed(0)
    data = Ring8().load_split("test")[0]
    result, per_step, logged, steps_losses = _windowed_run(_method(), data, sync_calls, batch=16, iterations=12,
                                                           log_every=4)
    # the adversarial step returns device tensors, not floats
    assert all(isinstance(v, torch.Tensor) and v.ndim == 0 for v in steps_losses[0].values())
    # syncs happen only in the flush after a window's last step (steps 4, 8, 12), which on_step
    # of the following step sees; step 12's flush comes after its on_step, so nothing is
    # counted at any step.
    assert per_step == {s: (FLUSH if s in (5, 9) else []) for s in range(1, 13)}
    assert sync_calls == FLUSH * 3  # cpu + tolist once per window, nothing else
    # the logged values are the window means of the per-step losses
    assert [s for s, _ in logged] == [4, 8, 12] and set(logged[0][1]) == {"loss_d", "loss_g"}
    _assert_window_means(logged, steps_losses, 4)
    assert result.last_losses == logged[-1][1]


def test_a_method_with_extra_d_stats_makes_no_sync(one_thread, sync_calls):
    """SAN's direction loss, an extra stat of its D step, stays on the device too."""
    torch.manual_seed(0)
    data = Ring8().load_split("test")[0]
    _, per_step, logged, steps_losses = _windowed_run(_method("san_hinge"), data, sync_calls, iterations=4,
                                                      log_every=2)
    assert per_step == {s: (FLUSH if s == 3 else []) for s in range(1, 5)} and sync_calls == FLUSH * 2
    assert set(logged[-1][1]) == {"loss_d", "loss_dir", "loss_g"}
    _assert_window_means(logged, steps_losses, 2)


# -- the conditional and translation loops -------------------------------------------------------
def _assert_six_steps_without_sync(per_step, logged, steps_losses, sync_calls):
    """Six steps in windows of 3: the only syncs are the flush of the window ending at step 3,
    seen by step 4's on_step (step 6's flush comes after its on_step); every step returned
    detached 0-d tensors; the logged values are their window means."""
    assert per_step == {s: (FLUSH if s == 4 else []) for s in range(1, 7)}, per_step
    assert sync_calls == FLUSH * 2
    for out in steps_losses:
        assert out and all(isinstance(v, torch.Tensor) and v.ndim == 0 and not v.requires_grad
                           for v in out.values()), out
    _assert_window_means(logged, steps_losses, 3)


@pytest.mark.parametrize("name, params", [
    ("acgan", {}),                     # extra stats from d_step_loss (d_source, d_class)
    ("biggan", {"ema_g": 0.9}),        # G's regulariser (g_reg), EMA with a start, SN
    ("icgan", {"encoder_start": 0.5}),  # the encoder steps in the trial's second half
])
def test_conditional_steps_make_no_sync_between_windows(one_thread, sync_calls, name, params):
    from ganbench.data.mnist import MNIST

    info = MNIST.info
    cls = METHODS.get(name)
    torch.manual_seed(0)
    method = cls(cls.Params(**cls.resolve_params({"width": 4, "z_dim": 8, **params}, info)), info)
    data = torch.rand(64, *info.shape) * 2 - 1
    labels = torch.randint(info.num_classes, (64,))
    _, per_step, logged, steps_losses = _windowed_run(method, data, sync_calls, labels=labels)
    _assert_six_steps_without_sync(per_step, logged, steps_losses, sync_calls)
    extra = {"acgan": {"d_source", "d_class"}, "biggan": {"g_reg"}, "icgan": {"loss_ez", "loss_ey"}}[name]
    assert {"loss_d", "loss_g"} | extra <= set(logged[-1][1])


@pytest.mark.parametrize("name, params", [
    ("cyclegan", {"pool_size": 0, "lambda_identity": 0.5}),
    ("dualgan", {}),
    ("discogan", {}),
])
def test_translation_steps_make_no_sync_between_windows(one_thread, sync_calls, name, params):
    from ganbench.data.base import get_dataset

    info = get_dataset("mnist2edges").info
    cls = METHODS.get(name)
    torch.manual_seed(0)
    method = cls(cls.Params(**cls.resolve_params({"width": 4, **params}, info)), info)
    data = torch.rand(64, 2 * info.shape[0], *info.shape[1:]) * 2 - 1  # pair rows: A channels, then B's
    _, per_step, logged, steps_losses = _windowed_run(method, data, sync_calls)
    _assert_six_steps_without_sync(per_step, logged, steps_losses, sync_calls)
    assert {"loss_d", "loss_g"} <= set(logged[-1][1])


def test_cyclegan_pool_reads_only_the_cpu_random_draws(one_thread, sync_calls):
    """With a history pool, CycleGAN's only host reads besides the flush are the pool's coin flips
    and indices, drawn from torch's CPU generator (so no wait on the device the nets run on)."""
    from ganbench.data.base import get_dataset

    info = get_dataset("mnist2edges").info
    cls = METHODS.get("cyclegan")
    torch.manual_seed(0)
    method = cls(cls.Params(**cls.resolve_params({"width": 4, "pool_size": 4}, info)), info)
    data = torch.rand(64, 2 * info.shape[0], *info.shape[1:]) * 2 - 1
    _windowed_run(method, data, sync_calls, iterations=3)
    pool = [c for c in sync_calls if c not in FLUSH]
    assert pool and {(m, where) for m, where, _ in pool} == {("ganbench.methods.cyclegan", "ImagePool.query")}
    assert {name for _, _, name in pool} <= {"__float__", "__int__"}
    assert len(method.pool_a.images) == len(method.pool_b.images) == 4


def test_divergence_is_caught_within_the_window(one_thread):
    torch.manual_seed(0)
    data = Ring8().load_split("test")[0]
    method = _method()
    original_step = method.step

    def step(next_real):
        out = original_step(next_real)
        if method.iteration == 7:  # one bad iteration, then finite again
            out["loss_g"] = out["loss_g"] * float("inf")
        return out

    method.step = step
    evals: list = []
    trainer = Trainer(method, data, 16, 40, 20, lambda m: ({}, {}), lambda s, *a: evals.append(s), log_every=5)
    result = trainer.run()
    assert result.status == "diverged" and result.last_step == 10
    assert "iterations 6-10" in result.error and "every 5 iterations" in result.error
    assert evals == []


def test_float_losses_of_other_methods_still_work(one_thread):
    """A method returning Python floats (and a key that appears only sometimes)."""
    torch.manual_seed(0)
    data = Ring8().load_split("test")[0]
    method = _method()
    original_step = method.step

    def step(next_real):
        out = {k: float(v) for k, v in original_step(next_real).items()}
        if method.iteration % 2 == 0:
            out["extra"] = float(method.iteration)
        return out

    method.step = step
    logged: list = []
    Trainer(method, data, 16, 6, 6, lambda m: ({}, {}), lambda *a: None, log_every=3,
            on_log=lambda s, losses: logged.append(losses)).run()
    assert logged[0]["extra"] == 2.0 and logged[1]["extra"] == 5.0  # (2)/1 and (4+6)/2


def test_bad_settings_are_one_line_errors():
    from ganbench.errors import GanbenchError

    data = Ring8().load_split("test")[0]
    with pytest.raises(GanbenchError, match="train.compile"):
        Trainer(_method(), data, 16, 4, 2, lambda m: ({}, {}), lambda *a: None, compile="max")
    with pytest.raises(GanbenchError, match="train.log_every"):
        Trainer(_method(), data, 16, 4, 2, lambda m: ({}, {}), lambda *a: None, log_every=-1)


def _run(compile_mode, iterations=3, name="gan"):
    torch.manual_seed(1)
    data = Ring8().load_split("test")[0]
    method = _method(name)
    trainer = Trainer(method, data, 16, iterations, iterations, lambda m: ({}, {}), lambda *a: None,
                      compile=compile_mode)
    return method, trainer, trainer.run()


def test_compile_fault_falls_back_to_the_exact_eager_run(one_thread, capsys, monkeypatch):
    """A compiler fault in the first compiled step: one line, the step undone and run eagerly."""
    import torch._dynamo.exc as dynamo_exc

    eager, _, _ = _run("none")
    from ganbench.methods.adversarial import AdversarialMethod

    def broken_compile(self, mode):
        def fail(*args, **kwargs):
            raise dynamo_exc.TorchDynamoException("no C++ compiler\ndetails")
        for net in self.compiled_nets().values():
            net._compiled_call_impl = fail

    monkeypatch.setattr(AdversarialMethod, "compile_nets", broken_compile)
    method, trainer, result = _run("default")
    assert result.status == "finished" and not trainer.compiled
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be compiled" in err[0] and "running eagerly" in err[0]
    for a, b in zip(eager.G.parameters(), method.G.parameters()):
        assert torch.equal(a, b)


def test_a_method_without_the_hook_says_so(one_thread, capsys, monkeypatch):
    from ganbench.methods.adversarial import AdversarialMethod

    monkeypatch.delattr(AdversarialMethod, "compile_nets")
    _, trainer, result = _run("reduce-overhead")
    assert result.status == "finished" and not trainer.compiled
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no compile_nets hook" in err[0]


def test_compile_default_runs_or_falls_back_cleanly(one_thread, capsys, monkeypatch):
    """The real torch.compile (dynamo tracing G and D, AOTAutograd for their backward) with
    mode "default": either it compiles and trains like the eager run, or one line and eager.

    The backend is swapped for ``aot_eager``: inductor's C++ code generation took 49 s cold on
    this 2-core machine (5.8 s with a warm cache, measured by hand, and it compiled), over the
    test budget; what a method can or cannot compile (graph breaks, hooks) is decided by the
    tracing, which this runs for real."""
    eager, _, eager_result = _run("none", iterations=2)
    original = torch.nn.Module.compile
    modes: list = []

    def compile_aot_eager(self, *args, mode=None, **kwargs):
        modes.append(mode)
        return original(self, backend="aot_eager")

    monkeypatch.setattr(torch.nn.Module, "compile", compile_aot_eager)
    torch._dynamo.reset()
    method, trainer, result = _run("default", iterations=2)
    torch._dynamo.reset()
    assert result.status == "finished" and method.iteration == 2 and modes == ["default", "default"]
    err = capsys.readouterr().err
    if trainer.compiled:
        assert method.G._compiled_call_impl is not None and "cannot be compiled" not in err
        for key, value in eager_result.last_losses.items():
            assert result.last_losses[key] == pytest.approx(value, rel=1e-4, abs=1e-6)
    else:
        assert "cannot be compiled" in err and method.G._compiled_call_impl is None


def test_suite_keys_reach_the_trial_spec_and_leave_default_ids_alone():
    from ganbench.errors import GanbenchError
    from ganbench.suite import parse_suite

    base = {"name": "s", "datasets": ["mnist"], "methods": ["gan"], "seeds": [0],
            "eval": {"metrics": ["fcd"], "num_samples": 50}}
    default = parse_suite(base, "s.yaml").expand()[0]
    assert (default.log_every, default.compile) == (None, "none")
    assert "log_every" not in default.to_dict() and "compile" not in default.to_dict()
    set_ = parse_suite({**base, "train": {"log_every": 10, "compile": "reduce-overhead"}}, "s.yaml").expand()[0]
    assert set_.to_dict()["log_every"] == 10 and set_.to_dict()["compile"] == "reduce-overhead"
    assert set_.trial_id != default.trial_id and type(set_).from_dict(set_.to_dict()) == set_
    with pytest.raises((GanbenchError, ValueError)):
        parse_suite({**base, "train": {"compile": "max-autotune"}}, "s.yaml")
