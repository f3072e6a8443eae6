"""Real runs through the whole path: suite -> Ray Tune -> train_trial -> MLflow -> report."""

from __future__ import annotations

import json
import math
import textwrap

import pandas as pd
import torch
from mlflow.tracking import MlflowClient

from ganbench.methods.gan import NonSaturatingGAN
from ganbench.registry import METHODS
from ganbench.runner import run_suite
from tests.conftest import write_suite

TOY = textwrap.dedent("""\
    name: tiny_toy
    datasets: [ring8]
    methods: [gan, {name: hinge, params: {lr_d: 1.0e-3}}]
    params: {width: 16}
    seeds: [0, 1]
    train: {iterations: 30, batch_size: 64, eval_every: 15}
    eval: {metrics: [modes], num_samples: 500, reference: train}
    resources: {cpus_per_trial: 1, gpus_per_trial: 0}
""")


def _children(client, parent):
    exp = client.get_run(parent).info.experiment_id
    return client.search_runs([exp], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'")


def test_tiny_suite_through_ray_tune_and_mlflow(tmp_path, ray_session):
    suite = write_suite(tmp_path, TOY)
    results = tmp_path / "results"
    outcome = run_suite(suite, results_root=results)
    assert len(outcome.specs) == 4
    assert {s["status"] for s in outcome.statuses.values()} == {"finished"}

    client = MlflowClient(outcome.tracking_uri)
    assert outcome.tracking_uri == f"sqlite:///{results.resolve() / 'mlflow.db'}"
    parent = client.get_run(outcome.parent_run_id)
    assert parent.info.status == "FINISHED" and parent.data.params["trials"] == "4"
    children = _children(client, outcome.parent_run_id)
    assert sorted(r.data.tags["ganbench.trial_id"] for r in children) == sorted(s.trial_id for s in outcome.specs)
    for run in children:
        assert run.info.status == "FINISHED"
        assert run.data.params["method"] in ("gan", "hinge") and run.data.params["param.width"] == "16"
        assert run.data.params["protocol.modes.n_gen"] == "500"
        history = client.get_metric_history(run.info.run_id, "modes_covered")
        assert [m.step for m in history] == [15, 30]
        assert all(0 <= m.value <= 8 for m in history)
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"samples.png", "checkpoint.pt", "samples.npy"} <= artifacts

    suite_dir = results / "tiny_toy"
    df = pd.read_csv(suite_dir / "results.csv")
    assert len(df) == 4 * 2 and set(df["step"]) == {15, 30}
    table = (suite_dir / "tables.md").read_text()
    assert "| GAN " in table and "| Hinge GAN " in table and "±" in table and "Modes (/8) ↑" in table  # display names
    assert "\\begin{tabular}" in (suite_dir / "tables.tex").read_text()
    assert any(p.name.endswith(".png") for p in (suite_dir / "plots").iterdir())
    # every Ray trial is named by the spec hash
    ray_dirs = {p.name for p in (suite_dir / "ray" / "tiny_toy").iterdir() if p.is_dir()}
    assert {s.trial_id for s in outcome.specs} <= ray_dirs

    # a second run recognises finished trials by their hash and does not train them again
    before = {s.trial_id: (suite_dir / "trials" / s.trial_id / "evals.jsonl").read_text() for s in outcome.specs}
    again = run_suite(suite, results_root=results, local=True)
    assert {s.trial_id: (suite_dir / "trials" / s.trial_id / "evals.jsonl").read_text()
            for s in again.specs} == before
    assert len(_children(client, again.parent_run_id)) == 0


class _DivergingGAN(NonSaturatingGAN):
    """A GAN whose loss becomes NaN after 12 iterations (test only)."""

    name = "test_diverging"

    def step(self, next_real):
        stats = super().step(next_real)
        if self.iteration > 12:
            stats["loss_g"] = math.nan
        return stats


def test_mnist_local_run_with_a_diverging_trial(tmp_path):
    if "test_diverging" not in METHODS:
        METHODS.register("test_diverging")(_DivergingGAN)
    suite = write_suite(tmp_path, textwrap.dedent("""\
        name: tiny_mnist
        datasets: [mnist]
        methods: [test_diverging, gan]
        params: {width: 8}
        seeds: [0]
        train: {iterations: 20, batch_size: 32, eval_every: 10}
        eval: {metrics: [fcd, cis, classes], num_samples: 200, reference: test}
    """))
    outcome = run_suite(suite, results_root=tmp_path / "r", local=True)
    by_method = {s.method: outcome.statuses[s.trial_id] for s in outcome.specs}
    assert by_method["gan"]["status"] == "finished"
    assert by_method["test_diverging"]["status"] == "diverged"
    assert "non-finite" in by_method["test_diverging"]["error"]
    diverged = next(s for s in outcome.specs if s.method == "test_diverging")
    evals = [json.loads(x) for x in (outcome.suite_dir / "trials" / diverged.trial_id / "evals.jsonl")
             .read_text().splitlines()]
    assert [e["step"] for e in evals] == [10]  # the last good metrics are kept
    assert evals[0]["values"]["fcd"] > 0 and 1 <= evals[0]["values"]["cis"] <= 10
    table = (outcome.suite_dir / "tables.md").read_text()
    assert "diverged 1/1" in table and "FCD ↓" in table
    run = MlflowClient(outcome.tracking_uri).search_runs(
        [MlflowClient(outcome.tracking_uri).get_run(outcome.parent_run_id).info.experiment_id],
        filter_string=f"tags.`ganbench.trial_id` = '{diverged.trial_id}'")[0]
    assert run.data.tags["ganbench.status"] == "diverged"
    grid = outcome.suite_dir / "trials" / diverged.trial_id / "samples.png"
    assert grid.exists() and grid.stat().st_size > 500
    ckpt = torch.load(outcome.suite_dir / "trials" / diverged.trial_id / "checkpoint.pt", weights_only=True)
    assert ckpt["method"]["iteration"] == 10 and "G" in ckpt["method"]["optimizers"]
