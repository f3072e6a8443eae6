"""A sweep killed part-way (SIGKILL of the whole `ganbench run` process group) resumes without
re-running finished trials and without duplicate MLflow runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

from mlflow.tracking import MlflowClient

from ganbench.runner import run_suite
from tests.conftest import REPO, kill_process_tree, write_suite

SWEEP = textwrap.dedent("""\
    name: killed_sweep
    datasets: [ring8]
    methods: [gan]
    params: {width: 16, d_norm: none}
    seeds: [0]
    train: {iterations: 200, batch_size: 64, eval_every: 50}
    eval: {metrics: [modes], num_samples: 300, reference: test}
    resources: {cpus_per_trial: 1, gpus_per_trial: 0}
    tune:
      space:
        gan: {lr_g: {loguniform: [1.0e-4, 3.0e-3]}, beta1: {uniform: [0.0, 0.9]}}
      searchers: [coordinate]
      budget: 5
      objective: {metric: modes_kl, reference: train}
""")


def _finished(trials_dir):
    out = {}
    for status in trials_dir.glob("*/status.json"):
        try:
            if json.loads(status.read_text())["status"] == "finished":
                out[status.parent.name] = status
        except (ValueError, KeyError):
            continue
    return out


def test_killed_sweep_resumes_without_rerunning_finished_trials(tmp_path, ray_session):
    path = write_suite(tmp_path, SWEEP)
    results = tmp_path / "results"
    tune_dir = results / "killed_sweep" / "tune"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "GANBENCH_OFFLINE": "1",
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with open(tmp_path / "run.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ganbench", "run", str(path), "--results", str(results)],
                                cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 1800  # catches a hang only: the condition decides
            while not _finished(tune_dir / "trials"):
                assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "no search trial finished in 1800 s"
                time.sleep(0.1)
        finally:
            kill_process_tree(proc)
    assert proc.returncode == -signal.SIGKILL
    assert not (tune_dir / "cells" / "gan-ring8-coordinate.json").exists()  # killed part-way
    done_before = _finished(tune_dir / "trials")
    snapshot = {tid: (p.read_bytes(), p.stat().st_mtime_ns, (p.parent / "evals.jsonl").read_bytes())
                for tid, p in done_before.items()}
    assert snapshot and len(snapshot) < 5

    outcome = run_suite(path, results_root=results)

    for tid, (status, mtime, evals) in snapshot.items():
        folder = tune_dir / "trials" / tid
        assert (folder / "status.json").read_bytes() == status
        assert (folder / "status.json").stat().st_mtime_ns == mtime
        assert (folder / "evals.jsonl").read_bytes() == evals
    records = [json.loads(line) for line in (tune_dir / "trials.jsonl").read_text().splitlines()]
    assert [r["order"] for r in records] == [0, 1, 2, 3, 4]
    assert {r["status"] for r in records} == {"finished"}
    assert set(snapshot) <= {r["trial_id"] for r in records}
    assert len({r["trial_id"] for r in records}) == 5

    client = MlflowClient(outcome.tracking_uri)
    parent = json.loads((tune_dir / "state.json").read_text())["parent_run_id"]
    exp = client.get_run(parent).info.experiment_id
    sweeps = client.search_runs([exp], filter_string="tags.`ganbench.kind` = 'sweep'")
    assert [r.info.run_id for r in sweeps] == [parent]  # the resumed run kept its parent
    children = client.search_runs([exp], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'")
    assert sorted(r.data.tags["ganbench.trial_id"] for r in children) == sorted(r["trial_id"] for r in records)
    assert {r.info.status for r in children} == {"FINISHED"}
    assert {s.label for s in outcome.specs} == {"gan (default)", "gan (tuned: coordinate)"}
    assert {st["status"] for st in outcome.statuses.values()} == {"finished"}
