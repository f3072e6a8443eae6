"""Tiny sweeps through Ray Tune: every searcher and scheduler, the outputs, the MLflow runs.

(Running a sweep again without re-running anything is tests/test_tune_resume.py's.)"""

from __future__ import annotations

import json
import textwrap

import pandas as pd
from mlflow.tracking import MlflowClient

from ganbench.runner import run_suite
from tests.conftest import write_suite

SWEEP = textwrap.dedent("""\
    name: tiny_sweep
    datasets: [ring8]
    methods: [{name: gan, params: {lr_g: 1.0e-3, lr_d: 1.0e-3}}]
    params: {width: 16, d_norm: none}
    seeds: [0, 1]
    train: {iterations: 30, batch_size: 64, eval_every: 10}
    eval: {metrics: [modes], num_samples: 300, reference: test}
    resources: {cpus_per_trial: 1, gpus_per_trial: 0}
    tune:
      space:
        gan: {lr: {loguniform: [3.0e-4, 3.0e-3]}, log_ratio_d: {uniform: [-0.5, 0.5]}, beta1: {uniform: [0.0, 0.9]}}
      coupled:
        gan: {base: lr, targets: {lr_g: 0.0, lr_d: log_ratio_d}}
      searchers: [tpe, coordinate, pbt]
      budget: 3
      objective: {metric: modes_kl, reference: train}
""")
SEARCHERS = {"tpe": "fifo", "coordinate": "fifo", "pbt": "pbt"}


def _runs(client, parent):
    exp = client.get_run(parent).info.experiment_id
    return client.search_runs([exp], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'")


def test_tiny_sweep_every_searcher_and_scheduler(tmp_path, ray_session):
    path = write_suite(tmp_path, SWEEP)
    results = tmp_path / "results"
    outcome = run_suite(path, results_root=results)
    tune_dir = results / "tiny_sweep" / "tune"

    # budget: 3 search trials per (row, dataset, searcher), in proposal order, each once
    records = [json.loads(line) for line in (tune_dir / "trials.jsonl").read_text().splitlines()]
    assert len(records) == 3 * len(SEARCHERS)
    for searcher, scheduler in SEARCHERS.items():
        mine = [r for r in records if r["searcher"] == searcher]
        assert [r["order"] for r in mine] == [0, 1, 2]
        assert {r["scheduler"] for r in mine} == {scheduler}
        assert len({r["trial_id"] for r in mine}) == 3
    for r in records:
        assert r["status"] == "finished" and r["metric"] == "modes_kl" and r["reference"] == "train"
        assert r["config"]["lr_g"] == r["coords"]["lr"]  # the coupled group, expanded
        assert abs(r["config"]["lr_d"] / r["coords"]["lr"] - 2.718281828 ** r["coords"]["log_ratio_d"]) < 1e-9
        assert 0.0 <= r["objective"] <= 2.08 and r["iterations"] == 30
    for r in records:  # PBT never exploits at the last evaluation: each member ends as itself
        steps = [json.loads(line)["step"] for line in
                 (tune_dir / "trials" / r["trial_id"] / "evals.jsonl").read_text().splitlines()]
        assert steps.count(30) == 1 and steps[-1] == 30, (r["searcher"], steps)
    pbt_final = [(r["objective"], tuple(sorted(r["coords"].items()))) for r in records if r["searcher"] == "pbt"]
    assert len(set(pbt_final)) == 3  # no member reports a copy of another's final line
    coordinate = [r for r in records if r["searcher"] == "coordinate"]
    assert coordinate[0]["config"] == {"lr_g": 1e-3, "lr_d": 1e-3, "beta1": 0.5}  # the defaults first
    assert coordinate[1]["coords"]["log_ratio_d"] == coordinate[2]["coords"]["log_ratio_d"] == 0.0
    # search trials train with the first seed, measured against the objective's split
    spec = json.loads((tune_dir / "trials" / records[0]["trial_id"] / "spec.json").read_text())
    assert spec["seed"] == 0 and spec["reference"] == "train" and spec["metrics"] == ["modes"]

    sweep = json.loads((tune_dir / "sweep.json").read_text())
    assert sweep["budget"] == 3 and sweep["objective"] == {"metric": "modes_kl", "mode": "min", "reference": "train"}
    assert sweep["schedulers"] == SEARCHERS and sweep["defaults"]["gan"]["lr_g"] == 1e-3
    best = sweep["best"]["gan"]["ring8"]
    for searcher in SEARCHERS:
        mine = [r for r in records if r["searcher"] == searcher and r["status"] == "finished"]
        assert best[searcher]["objective"] == min(r["objective"] for r in mine)

    # Lucic et al.: defaults and each best re-run with both seeds on the test split
    labels = sorted({(s.label, s.seed) for s in outcome.specs})
    expected_rows = ["gan (default)"] + [f"gan (tuned: {s})" for s in SEARCHERS]
    assert labels == sorted((row, seed) for row in expected_rows for seed in (0, 1))
    for s in outcome.specs:
        assert s.reference == "test"
        if s.label != "gan (default)":
            searcher = s.label.split(": ")[1][:-1]
            for key, value in best[searcher]["config"].items():
                assert abs(s.param_dict[key] - value) < 1e-12
    assert {st["status"] for st in outcome.statuses.values()} == {"finished"}
    suite_dir = results / "tiny_sweep"
    df = pd.read_csv(suite_dir / "results.csv")
    assert sorted(df["method"].unique()) == sorted(expected_rows)
    tables = (suite_dir / "tables.md").read_text()
    assert "best of 3 trials found by each searcher (tpe (fifo), coordinate (fifo), pbt (pbt))" in tables
    assert "modes_kl (min) against the train split" in tables and "reports the test split" in tables
    for name in ("best.yaml", "tuned_vs_default.md", "budget.csv", "importances.csv"):
        assert (tune_dir / name).exists(), name

    # MLflow: one sweep parent with one child per search trial; the suite parent with the re-runs
    client = MlflowClient(outcome.tracking_uri)
    state = json.loads((tune_dir / "state.json").read_text())
    sweep_children = _runs(client, state["parent_run_id"])
    assert client.get_run(state["parent_run_id"]).info.status == "FINISHED"
    logged = {a.path for a in client.list_artifacts(state["parent_run_id"], "tune")}
    assert {"tune/trials.jsonl", "tune/sweep.json", "tune/best.yaml", "tune/plots"} <= logged
    assert sorted(r.data.tags["ganbench.trial_id"] for r in sweep_children) == sorted(r["trial_id"] for r in records)
    assert {run.info.status for run in sweep_children} == {"FINISHED"}
    assert len(_runs(client, outcome.parent_run_id)) == len(outcome.specs) == 8


ASHA = textwrap.dedent("""\
    name: asha_sweep
    datasets: [mnist]
    methods: [gan]
    params: {width: 8}
    seeds: [0]
    train: {iterations: 40, batch_size: 16, eval_every: 10}
    eval: {metrics: [fcd], num_samples: 200, reference: test}
    resources: {cpus_per_trial: 2, gpus_per_trial: 0}   # one trial at a time: ASHA's rungs see a fixed order
    tune:
      space:
        gan: {lr_g: {loguniform: [1.0e-5, 1.0e-2]}, lr_d: {loguniform: [1.0e-5, 1.0e-2]}}
      searchers: [{name: random, scheduler: asha}]
      budget: 4
      objective: {metric: fcd, reference: train}
      asha: {grace_period: 1, reduction_factor: 2}
""")


def test_asha_stops_the_weaker_trials_by_iterations(tmp_path, ray_session):
    """On MNIST (the 2D toys' objective is flat this early) FCD differs between configs at once."""
    outcome = run_suite(write_suite(tmp_path, ASHA), results_root=tmp_path / "results")
    tune_dir = tmp_path / "results" / "asha_sweep" / "tune"
    records = [json.loads(line) for line in (tune_dir / "trials.jsonl").read_text().splitlines()]
    assert [r["order"] for r in records] == [0, 1, 2, 3] and {r["scheduler"] for r in records} == {"asha"}
    stopped = [r for r in records if r["status"] == "stopped"]
    finished = [r for r in records if r["status"] == "finished"]
    assert stopped and finished and len(stopped) + len(finished) == 4
    for r in stopped:  # stopped at a rung (10 or 20 iterations), with the FCD it had there
        assert r["iterations"] in (10, 20) and r["objective"] > 0
        evals = (tune_dir / "trials" / r["trial_id"] / "evals.jsonl").read_text().splitlines()
        assert json.loads(evals[-1])["step"] == r["iterations"]
        assert json.loads((tune_dir / "trials" / r["trial_id"] / "status.json").read_text())["status"] == "stopped"
    assert all(r["iterations"] == 40 for r in finished)
    sweep = json.loads((tune_dir / "sweep.json").read_text())
    best = sweep["best"]["gan"]["mnist"]["random"]
    assert best["trial_id"] == min(finished, key=lambda r: r["objective"])["trial_id"]

    client = MlflowClient(outcome.tracking_uri)
    parent = json.loads((tune_dir / "state.json").read_text())["parent_run_id"]
    runs = {r.data.tags["ganbench.trial_id"]: r for r in _runs(client, parent)}
    assert sorted(runs) == sorted(r["trial_id"] for r in records)
    for r in records:
        run = runs[r["trial_id"]]
        assert run.info.status == ("KILLED" if r["status"] == "stopped" else "FINISHED")
        assert run.data.tags["ganbench.status"] == r["status"]
    assert sorted(s.label for s in outcome.specs) == ["gan (default)", "gan (tuned: random)"]
