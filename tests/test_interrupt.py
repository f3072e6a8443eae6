"""Ctrl-C and SIGTERM on a real run (issue 15 item 1).

- The default Ray path, as a terminal's Ctrl-C does it: SIGINT to the driver's process group once
  one trial has finished and another is mid-training. One line, exit 130, no Ray hint or traceback,
  the interrupted trial ``interrupted`` on disk and ``KILLED`` in MLflow, tables for what finished;
  then the same suite again resumes the trial from its checkpoint (its first evaluations kept).
- ``--local`` in this process with SIGTERM: the trial stops at its next iteration, no queued trial
  starts, :class:`ganbench.errors.Interrupted` (exit code 130) carries the line.

Waits are for conditions (a trial's evals.jsonl line, its status); deadlines only catch hangs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from ganbench.errors import Interrupted
from ganbench.runner import run_suite
from ganbench.suite import load_suite
from ganbench.tracking import SUITE_TAG, TRIAL_TAG, default_tracking_uri
from ganbench.trial import read_status
from tests.conftest import REPO, kill_process_tree, write_suite

# a WGAN-GP step with 10 critic steps costs ~10 GAN steps: side by side (Ray, 2 CPUs) or one after
# the other (--local), the GAN trial finishes while the WGAN-GP trial is mid-training
ITERATIONS, EVAL_EVERY = 200, 20
SUITE = textwrap.dedent("""\
    name: {name}
    datasets: [ring8]
    methods: [gan, {{name: wgan_gp, params: {{n_critic: 10}}}}]
    params: {{width: 8}}
    seeds: [0]
    train: {{iterations: 200, batch_size: 16, eval_every: 20}}
    eval: {{metrics: [modes], num_samples: 100, reference: train}}
    resources: {{cpus_per_trial: 1, gpus_per_trial: 0}}
""")
HANG_S = 900  # a loaded 2-core machine is many times slower than an idle one; only a hang trips this


def _evals(folder: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in (folder / "evals.jsonl").read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return []


def _window(trials: Path) -> bool:
    """One trial finished and another running with a checkpoint behind it and steps to go."""
    states = {f: read_status(f) or {} for f in trials.glob("*/")} if trials.is_dir() else {}
    finished = any(st.get("status") == "finished" for st in states.values())
    mid = any(st.get("status") == "running" and (f / "checkpoint.pt").exists()
              and 0 < len(_evals(f)) < ITERATIONS // EVAL_EVERY - 1 for f, st in states.items())
    return finished and mid


def _wait(condition, proc=None, log=None, timeout=HANG_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the run ended before the signal:\n{log.read_text()[-3000:] if log else ''}")
        time.sleep(0.05)
    pytest.fail("condition not reached (hang?)")


def _runs(results: Path, name: str):
    client = MlflowClient(default_tracking_uri(results))
    exp = client.get_experiment_by_name(name).experiment_id
    runs = client.search_runs([exp], max_results=100)
    return ([r for r in runs if SUITE_TAG in r.data.tags and TRIAL_TAG not in r.data.tags],
            {r.data.tags[TRIAL_TAG]: r for r in runs if TRIAL_TAG in r.data.tags})


def _check_interrupted(results: Path, name: str, specs) -> tuple[str, list[dict]]:
    """The state an interrupted run leaves; returns the interrupted trial's id and its evaluations."""
    trials = results / name / "trials"
    statuses = {s.trial_id: (read_status(trials / s.trial_id) or {}).get("status") for s in specs}
    assert sorted(statuses.values()) == ["finished", "interrupted"], statuses  # never "running"
    stopped = next(t for t, st in statuses.items() if st == "interrupted")
    status = read_status(trials / stopped)
    checkpoint = torch.load(trials / stopped / "checkpoint.pt", weights_only=True)["method"]["iteration"]
    assert 0 < status["last_step"] == checkpoint < ITERATIONS and "resume" in status["error"]
    evals = [e for e in _evals(trials / stopped) if e["step"] <= checkpoint]  # what a re-run keeps
    tables = (results / name / "tables.md").read_text()
    assert "| GAN " in tables  # the finished trial's row
    assert "interrupted" in tables and stopped in tables  # the stopped one, listed as such
    assert list((results / name / "plots").glob("*.png"))
    parents, children = _runs(results, name)
    assert len(parents) == 1 and parents[0].info.status == "KILLED"
    assert children[stopped].info.status == "KILLED" and children[stopped].data.tags["ganbench.status"] == "interrupted"
    assert not (results / name / ".interrupt").exists()
    return stopped, evals


def _check_resumed(results: Path, name: str, specs, stopped: str, before: list[dict]) -> None:
    trials = results / name / "trials"
    assert all(read_status(trials / s.trial_id)["status"] == "finished" for s in specs)
    after = _evals(trials / stopped)
    assert [e["step"] for e in after] == list(range(EVAL_EVERY, ITERATIONS + 1, EVAL_EVERY))
    assert after[:len(before)] == before  # resumed from the checkpoint, not trained again from 0
    parents, children = _runs(results, name)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert set(children) == {s.trial_id for s in specs}
    assert all(r.info.status == "FINISHED" for r in children.values())


def test_ctrl_c_on_a_ray_run_stops_cleanly_and_the_same_command_resumes(tmp_path, ray_session):
    suite = write_suite(tmp_path, SUITE.format(name="ctrl_c"))
    specs = load_suite(suite).expand()
    results = tmp_path / "results"
    log = tmp_path / "run.log"
    env = {**os.environ, "GANBENCH_OFFLINE": "1", "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1",
           "COLUMNS": "120"}
    command = [sys.executable, "-m", "ganbench", "run", str(suite), "--results", str(results)]
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            _wait(lambda: _window(results / "ctrl_c" / "trials"), proc, log)
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
            rc = proc.wait(timeout=HANG_S)
        finally:
            if proc.poll() is None:
                kill_process_tree(proc)
    text = log.read_text()
    assert rc == 130, text[-3000:]
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[-1] == "interrupted: 1/2 finished; run the same command to resume", text[-3000:]
    for noise in ("Traceback", "Tuner.restore", "Failed to fetch", "FileNotFoundError", "error:"):
        assert noise not in text, text[-3000:]
    stopped, before = _check_interrupted(results, "ctrl_c", specs)

    # the same command again, in this process (the session's Ray: no second interpreter and Ray start)
    outcome = run_suite(suite, results_root=results)
    assert sorted(st["status"] for st in outcome.statuses.values()) == ["finished", "finished"]
    _check_resumed(results, "ctrl_c", specs, stopped, before)


def test_sigterm_on_a_local_run_in_this_process(tmp_path, one_thread):
    suite = write_suite(tmp_path, SUITE.format(name="term_local").replace("seeds: [0]", "seeds: [0, 1]"))
    specs = load_suite(suite).expand()  # gan s0, gan s1, wgan_gp s0, wgan_gp s1 (or in suite order)
    results = tmp_path / "results"
    trials = results / "term_local" / "trials"
    sent = threading.Event()

    def signal_when_ready():
        deadline = time.monotonic() + HANG_S
        while time.monotonic() < deadline and not sent.is_set():
            if _window(trials):
                os.kill(os.getpid(), signal.SIGTERM)  # handled on the main thread, inside run_suite
                sent.set()
            time.sleep(0.02)

    watcher = threading.Thread(target=signal_when_ready, daemon=True)
    watcher.start()
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as caught:
        run_suite(suite, local=True, results_root=results)
    sent.set()
    assert caught.value.exit_code == 130
    assert signal.getsignal(signal.SIGTERM) is previous  # the run gave the handler back
    done = sum(1 for s in specs if (read_status(trials / s.trial_id) or {}).get("status") == "finished")
    assert str(caught.value) == f"interrupted: {done}/4 finished; run the same command to resume"
    started = [s for s in specs if (trials / s.trial_id).is_dir()]
    statuses = sorted((read_status(trials / s.trial_id) or {}).get("status") for s in started)
    assert statuses.count("interrupted") == 1 and "running" not in statuses
    assert len(started) < 4  # no queued trial started after the signal
    stopped = next(s.trial_id for s in started if read_status(trials / s.trial_id)["status"] == "interrupted")
    parents, children = _runs(results, "term_local")
    assert parents[0].info.status == "KILLED" and parents[0].data.tags["ganbench.status"] == "interrupted"
    assert children[stopped].info.status == "KILLED" and children[stopped].data.tags["ganbench.status"] == "interrupted"
    progress = json.loads((trials / stopped / "progress.json").read_text())
    # it stopped at the iteration after the signal, before its next evaluation
    assert progress["step"] <= _evals(trials / stopped)[-1]["step"] + EVAL_EVERY
