"""A trial trains and evaluates with the CPU threads it was given (issue 16 item 4).

A plugin method records ``torch.get_num_threads()`` at every training step and a plugin metric
reports, at each evaluation, the count it sees then and the ones the steps saw: a real (tiny)
trial run by ``run_suite`` in-process (``--local``) and in a Ray worker. ``status.json`` says
the count too. ``resources.cpus_per_trial`` rounds down, to at least one thread.
"""

from __future__ import annotations

import json
import sys
import textwrap

import pandas as pd
import pytest
import torch

from ganbench.dispatch import resolve_resources
from ganbench.registry import METHODS, METRICS
from ganbench.runner import run_suite
from ganbench.suite import Resources
from ganbench.trial import trial_threads
from tests.conftest import write_suite

PLUGIN = '''\
"""threads_gan: the non-saturating GAN recording torch's thread count at each step, and the
torch_threads metric reporting it (test plugins)."""
import torch

from ganbench.methods.gan import NonSaturatingGAN
from ganbench.metrics.base import HIGHER, Metric
from ganbench.registry import METHODS, METRICS


@METHODS.register("threads_gan")
class ThreadsGAN(NonSaturatingGAN):
    name = "threads_gan"

    def step(self, next_real):
        self.__dict__.setdefault("step_threads", set()).add(torch.get_num_threads())
        return super().step(next_real)


@METRICS.register("torch_threads")
class TorchThreads(Metric):
    name = "torch_threads"
    outputs = {"eval_threads": HIGHER, "step_threads_min": HIGHER, "step_threads_max": HIGHER}
    kinds = frozenset({"points"})
    summary = "torch threads at evaluation and during the training steps"

    def compute(self, fake, ctx):
        seen = ctx.method.__dict__.get("step_threads") or {0}
        return {"eval_threads": torch.get_num_threads(), "step_threads_min": min(seen),
                "step_threads_max": max(seen)}, {"n_gen": len(fake)}
'''

SUITE = textwrap.dedent("""\
    name: {name}
    imports: [threads_plugin.py]
    datasets: [ring8]
    methods: [threads_gan]
    params: {{width: 8}}
    seeds: [0]
    train: {{iterations: 4, batch_size: 16, eval_every: 2}}
    eval: {{metrics: [torch_threads], num_samples: 32, reference: train}}
    resources: {{cpus_per_trial: {cpus}, gpus_per_trial: 0}}
""")


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("threads_suites")
    (folder / "threads_plugin.py").write_text(PLUGIN)
    yield folder
    METHODS._items.pop("threads_gan", None)
    METRICS._items.pop("torch_threads", None)
    for name in [m for m in sys.modules if "threads_plugin" in m]:
        del sys.modules[name]


def _threads_seen(results, name) -> tuple[pd.DataFrame, dict]:
    suite_dir = results / name
    df = pd.read_csv(suite_dir / "results.csv")
    (trial,) = list((suite_dir / "trials").iterdir())
    status = json.loads((trial / "status.json").read_text())
    assert status["status"] == "finished", status
    assert sorted(df["step"]) == [2, 4]
    return df, status


def test_rounding_of_cpus_per_trial():
    assert [trial_threads(c) for c in (0.25, 0.5, 1, 1.5, 1.99, 2, 3.7)] == [1, 1, 1, 1, 1, 2, 3]
    per_trial = resolve_resources(Resources(cpus_per_trial=1.5, gpus_per_trial=0), {"CPU": 2.0}, "s.yaml")
    assert per_trial["cpu"] == 1.5 and trial_threads(per_trial["cpu"]) == 1


@pytest.mark.parametrize("cpus, threads", [(2, 2), (1.5, 1)])
def test_a_local_trial_trains_and_evaluates_with_its_threads(plugin_dir, tmp_path, one_thread, cpus, threads):
    torch.set_num_threads(3)  # the driver's own count: neither trial's...
    before = torch.get_num_threads()
    name = f"threads_local_{threads}"
    run_suite(write_suite(plugin_dir, SUITE.format(name=name, cpus=cpus), f"{name}.yaml"),
              results_root=tmp_path / "r", local=True)
    df, status = _threads_seen(tmp_path / "r", name)
    assert set(df["eval_threads"]) == {threads}
    assert set(df["step_threads_min"]) == {threads} and set(df["step_threads_max"]) == {threads}
    assert status["torch_threads"] == threads
    assert torch.get_num_threads() == before  # ...and restored once the trial ended


def test_a_ray_trial_trains_and_evaluates_with_its_threads(plugin_dir, tmp_path, ray_session):
    name = "threads_ray"
    run_suite(write_suite(plugin_dir, SUITE.format(name=name, cpus=2), f"{name}.yaml"),
              results_root=tmp_path / "r")
    df, status = _threads_seen(tmp_path / "r", name)
    assert set(df["eval_threads"]) == {2}
    assert set(df["step_threads_min"]) == {2} and set(df["step_threads_max"]) == {2}
    assert status["torch_threads"] == 2 and status.get("node_id")
