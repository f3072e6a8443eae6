"""Resume after SIGKILL: a real ``ganbench run`` (default Ray path) killed with its Ray
processes mid-suite, then run again: finished trials are not re-run, the interrupted trial
continues from its checkpoint exactly as if it had not stopped, MLflow has one run each."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from ganbench.suite import load_suite
from ganbench.tracking import TRIAL_TAG, SUITE_TAG, default_tracking_uri
from ganbench.trial import TrialContext, read_status, train_trial
from tests.conftest import REPO, kill_process_tree, write_suite


SUITE = textwrap.dedent("""\
    name: resume_kill
    datasets: [ring8]
    methods: [gan, wgan_gp]
    params: {width: 16}
    seeds: [0]
    train: {iterations: 400, batch_size: 64, eval_every: 50}
    eval: {metrics: [modes], num_samples: 300, reference: train}
    resources: {cpus_per_trial: 1, gpus_per_trial: 0}
""")
# a WGAN-GP step (5 critic steps with a gradient penalty) costs ~5 GAN steps: whether the two
# trials run side by side or one after the other, the GAN trial finishes while the WGAN-GP
# trial is mid-training, with a checkpoint every 50 iterations
ITERATIONS, EVAL_EVERY = 400, 50
#: a deadline that only catches a hang: a loaded 2-core machine (load ~15) is 5-10x slower than idle
HANG_S = 1800
STEPS = list(range(EVAL_EVERY, ITERATIONS + 1, EVAL_EVERY))


def _command(suite: Path, results: Path) -> list[str]:
    return [sys.executable, "-m", "ganbench", "run", str(suite), "--results", str(results)]


def _env() -> dict[str, str]:
    return {**os.environ, "GANBENCH_OFFLINE": "1", "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1"}


def _trial_states(trials: Path) -> dict[str, tuple[str, int]]:
    """trial id -> (status, evaluations written so far)."""
    states = {}
    if trials.is_dir():
        for folder in trials.iterdir():
            status = read_status(folder) or {}
            try:
                evals = len((folder / "evals.jsonl").read_text().splitlines())
            except OSError:
                evals = 0
            states[folder.name] = (status.get("status", "none"), evals)
    return states


def _mid_training(state: tuple[str, int], trial_folder: Path) -> bool:
    status, evals = state
    return status == "running" and 0 < evals < len(STEPS) and (trial_folder / "checkpoint.pt").exists()


def _wait_for_kill_window(proc: subprocess.Popen, trials: Path, log: Path, timeout: float = HANG_S) -> None:
    """Until one trial has finished and another has a checkpoint but is still training (the
    condition decides; the deadline only catches a hang, and holds on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be killed:\n{log.read_text()[-3000:]}")
        states = _trial_states(trials)
        if (any(s == "finished" for s, _ in states.values())
                and any(_mid_training(st, trials / t) for t, st in states.items())):
            return
        time.sleep(0.05)
    pytest.fail(f"no kill window within {timeout} s:\n{log.read_text()[-3000:]}")


def _snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {name: ((folder / name).stat().st_mtime_ns, (folder / name).read_bytes())
            for name in ("status.json", "evals.jsonl", "checkpoint.pt", "spec.json")}


def _evals(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _assert_same_curve(resumed: list[dict], straight: list[dict]) -> None:
    assert [e["step"] for e in resumed] == [e["step"] for e in straight]
    for a, b in zip(resumed, straight):
        for part in ("values", "losses"):
            assert a[part].keys() == b[part].keys()
            for key in a[part]:
                assert math.isclose(a[part][key], b[part][key], rel_tol=1e-6, abs_tol=1e-6), (a["step"], key)


def test_sigkill_mid_suite_then_resume(tmp_path):
    suite = write_suite(tmp_path, SUITE)
    results = tmp_path / "results"
    trials = results / "resume_kill" / "trials"
    log = tmp_path / "first_run.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(_command(suite, results), cwd=REPO, env=_env(), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_for_kill_window(proc, trials, log)
        finally:
            kill_process_tree(proc)

    states = _trial_states(trials)
    finished = [t for t, (s, _) in states.items() if s == "finished"]
    interrupted = [t for t, st in states.items() if st[0] == "running" and (trials / t / "checkpoint.pt").exists()]
    assert finished and interrupted
    interrupted_id = interrupted[0]
    ckpt_step = torch.load(trials / interrupted_id / "checkpoint.pt", weights_only=True)["method"]["iteration"]
    assert 0 < ckpt_step < ITERATIONS
    before = {t: _snapshot(trials / t) for t in finished}
    # a kill in the middle of a write: a half-written eval line and an orphaned temporary file
    with open(trials / interrupted_id / "evals.jsonl", "a") as fh:
        fh.write('{"step": 350, "elapsed_s": 9.9, "values": {"modes_cov')
    orphan = trials / interrupted_id / f".status.json.tmp{proc.pid}"
    orphan.write_text('{"status": "fini')

    again = subprocess.run(_command(suite, results), cwd=REPO, env=_env(), capture_output=True, text=True,
                           timeout=HANG_S)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    assert "2 finished" in again.stdout

    # finished trials were recognised by their hash and not touched
    assert {t: _snapshot(trials / t) for t in finished} == before
    # the interrupted trial continued from its checkpoint: its curve equals an uninterrupted run's
    specs = load_suite(suite).expand()
    spec = next(s for s in specs if s.trial_id == interrupted_id)
    threads = torch.get_num_threads()
    try:
        train_trial(spec, TrialContext("straight", str(tmp_path / "straight")))
    finally:
        torch.set_num_threads(threads)
    straight = _evals(tmp_path / "straight" / "trials" / interrupted_id / "evals.jsonl")
    resumed = _evals(trials / interrupted_id / "evals.jsonl")
    assert [e["step"] for e in resumed] == STEPS
    _assert_same_curve(resumed, straight)
    assert not orphan.exists()
    assert all(read_status(trials / s.trial_id)["status"] == "finished" for s in specs)

    # the report is complete
    suite_dir = results / "resume_kill"
    csv_lines = (suite_dir / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + 2 * len(STEPS)
    table = (suite_dir / "tables.md").read_text()
    assert "| GAN " in table and "| WGAN-GP " in table and "running" not in table and "unknown" not in table

    # MLflow: one parent (the killed driver's, reused and closed), one child per trial
    client = MlflowClient(default_tracking_uri(results))
    exp = client.get_experiment_by_name("resume_kill").experiment_id
    runs = client.search_runs([exp], max_results=100)
    parents = [r for r in runs if SUITE_TAG in r.data.tags]
    children = [r for r in runs if TRIAL_TAG in r.data.tags]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(r.data.tags[TRIAL_TAG] for r in children) == sorted(s.trial_id for s in specs)
    for run in children:
        assert run.info.status == "FINISHED" and run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "modes_covered")]
        assert sorted(set(steps)) == STEPS
