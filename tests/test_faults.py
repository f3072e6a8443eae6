"""Faults inside a real suite run through Ray Tune: a trial that raises, one that diverges,
one that runs out of memory, one with a transient fault; the suite completes and shows them."""

from __future__ import annotations

import json
import textwrap

import pytest
from mlflow.tracking import MlflowClient

from ganbench.errors import GanbenchError
from ganbench.faults import parse_plan
from ganbench.runner import run_suite
from ganbench.tracking import TRIAL_TAG
from ganbench.trial import TrialContext, train_trial
from tests.conftest import write_suite

SUITE = textwrap.dedent("""\
    name: faulty
    datasets: [ring8]
    methods: [gan]
    params: {width: 16}
    seeds: [0, 1, 2, 3]
    train: {iterations: 40, batch_size: 64, eval_every: 10}
    eval: {metrics: [modes], num_samples: 200, reference: train}
    resources: {cpus_per_trial: 1, gpus_per_trial: 0, max_failures: 1}
""")
PLAN = "gan/ring8/seed0:raise:25,gan/ring8/seed1:nan:25,gan/ring8/seed2:oom:25,gan/ring8/seed3:raise_once:25"


def _evals(folder):
    return [json.loads(line) for line in (folder / "evals.jsonl").read_text().splitlines()]


def test_faults_are_recorded_retried_and_tabled(tmp_path, ray_session, monkeypatch):
    monkeypatch.setenv("GANBENCH_FAULT_INJECT", PLAN)
    outcome = run_suite(write_suite(tmp_path, SUITE), results_root=tmp_path / "r")
    monkeypatch.delenv("GANBENCH_FAULT_INJECT")
    by_seed = {s.seed: s for s in outcome.specs}
    status = {seed: outcome.statuses[s.trial_id] for seed, s in by_seed.items()}
    trials = outcome.suite_dir / "trials"

    # a raise: retried once (max_failures: 1) from the checkpoint, then recorded as failed
    assert status[0]["status"] == "failed" and status[0]["attempt"] == 2
    assert "InjectedFault: injected fault at iteration 25" in status[0]["error"]
    assert "Traceback" in (trials / by_seed[0].trial_id / "error.txt").read_text()
    assert len(status[0]["notes"]) == 1 and "retrying from the checkpoint" in status[0]["notes"][0]
    # a divergence is deterministic: not retried, last good evaluations kept
    assert status[1]["status"] == "diverged" and status[1]["attempt"] == 1
    assert "non-finite loss in iterations 21-30" in status[1]["error"]  # checked every log_every = 10
    assert [e["step"] for e in _evals(trials / by_seed[1].trial_id)] == [10, 20]
    # out of memory: its own status, retried like a raise
    assert status[2]["status"] == "oom" and status[2]["attempt"] == 2
    assert "OutOfMemoryError" in status[2]["error"]
    # a transient fault: the retry resumes from the step-20 checkpoint and ends exactly like a clean run
    assert status[3]["status"] == "finished" and status[3]["attempt"] == 2 and status[3]["error"] is None
    clean = TrialContext("clean", str(tmp_path / "clean"), fault_inject=None)
    train_trial(by_seed[3], clean)
    resumed = _evals(trials / by_seed[3].trial_id)
    straight = _evals(tmp_path / "clean" / "trials" / by_seed[3].trial_id)
    assert [e["step"] for e in resumed] == [10, 20, 30, 40]
    assert [(e["values"], e["losses"]) for e in resumed] == [(e["values"], e["losses"]) for e in straight]
    # the Ray node each trial ran on is recorded
    assert all(st.get("node_id") for st in status.values())

    # the tables say what happened instead of dropping the seeds
    table = (outcome.suite_dir / "tables.md").read_text()
    assert "(diverged 1/4, failed 1/4, oom 1/4)" in table
    assert "oom" in (outcome.suite_dir / "tables.tex").read_text()
    # one MLflow child run per trial, retries included, with the status as a tag
    client = MlflowClient(outcome.tracking_uri)
    exp = client.get_run(outcome.parent_run_id).info.experiment_id
    runs = client.search_runs([exp], filter_string=f"tags.`mlflow.parentRunId` = '{outcome.parent_run_id}'")
    assert sorted(r.data.tags[TRIAL_TAG] for r in runs) == sorted(s.trial_id for s in outcome.specs)
    tags = {r.data.tags[TRIAL_TAG]: (r.data.tags["ganbench.status"], r.info.status) for r in runs}
    assert tags[by_seed[0].trial_id] == ("failed", "FAILED")
    assert tags[by_seed[1].trial_id] == ("diverged", "FINISHED")
    assert tags[by_seed[2].trial_id] == ("oom", "FAILED")
    assert tags[by_seed[3].trial_id] == ("finished", "FINISHED")


def test_a_malformed_fault_plan_is_one_line():
    assert parse_plan("gan/ring8/seed0:nan:5,abc123def:oom_once:7")[1].kind == "oom_once"
    for bad in ("gan:explode:5", "gan:nan", "gan:nan:soon"):
        with pytest.raises(GanbenchError, match="GANBENCH_FAULT_INJECT: expected <selector>:<kind>:<iteration>"):
            parse_plan(bad)
