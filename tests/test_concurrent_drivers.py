"""Issue 17: two ``ganbench run`` of one suite into one results folder.

The drivers are real processes running the real command line (``ganbench run --local``),
forked from the test process so that they do not pay torch's and MLflow's imports again
(~20 s each on a loaded 2-core machine). The first holds the suite folder; the second stops at
once with one line naming it (exit 2). The first is then killed mid-run (SIGKILL: the kernel
drops its lock), and a rerun resumes: every trial is trained once, with one evaluation line per
step and one MLflow run.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import sys
import textwrap
import time
from pathlib import Path

import torch
import torch._dynamo  # noqa: F401  (imported once here, not in every forked driver: Adam loads it)
from mlflow.tracking import MlflowClient

import ganbench.report.build  # noqa: F401  (seaborn, likewise)
from ganbench.tracking import TRIAL_TAG, default_tracking_uri
from tests.conftest import write_suite

SUITE = textwrap.dedent("""\
    name: two_drivers
    datasets: [ring8]
    methods: [gan]
    params: {width: 4}
    seeds: [0, 1, 2]
    train: {iterations: 60, batch_size: 16, eval_every: 20}
    eval: {metrics: [modes], num_samples: 100, reference: train}
    resources: {cpus_per_trial: 1, gpus_per_trial: 0}
""")


def _drive(args: list[str], log: str) -> None:
    """A forked child: ``ganbench <args>`` with stdout and stderr into ``log``; exits with its code."""
    stream = open(log, "w", buffering=1)
    os.dup2(stream.fileno(), 1)
    os.dup2(stream.fileno(), 2)
    sys.stdout = sys.stderr = stream  # pytest's capture objects are not the fds
    # OpenMP is not fork-safe: when the test process ran multi-threaded ops before (any earlier test
    # without one thread), the child's first parallel op waits forever for the parent's thread team.
    # One thread runs every op inline (the trials set their own count later; cpus_per_trial is 1).
    torch.set_num_threads(1)
    from ganbench.cli import app

    try:
        app(args=args, prog_name="ganbench")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _start(args: list[str], log: Path) -> multiprocessing.Process:
    proc = multiprocessing.get_context("fork").Process(target=_drive, args=(args, str(log)))
    proc.start()
    return proc


def _wait(what: str, check, proc: multiprocessing.Process, log: Path, timeout: float = 600) -> None:
    """Wait for a condition; the deadline only catches a hang (it holds on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s\n{log.read_text()[-2000:]}"
        time.sleep(0.02)


def test_second_driver_stops_at_once_and_a_killed_first_resumes(tmp_path):
    suite = write_suite(tmp_path, SUITE)
    results = tmp_path / "results"
    suite_dir = results / "two_drivers"
    args = ["run", str(suite), "--local", "--results", str(results)]

    first = _start(args, tmp_path / "first.log")

    def holds() -> bool:
        try:
            return json.loads((suite_dir / "driver.json").read_text())["pid"] == first.pid
        except (OSError, ValueError, KeyError):
            return False

    _wait("the first driver holds the suite folder", holds, first, tmp_path / "first.log")
    second = _start(args, tmp_path / "second.log")
    second.join(timeout=600)
    text = (tmp_path / "second.log").read_text().strip()
    assert second.exitcode == 2, text
    assert len(text.splitlines()) == 1 and "Traceback" not in text, text
    assert f"host {socket.gethostname()}, pid {first.pid}, since " in text
    assert str(suite_dir) in text

    # kill the first driver once it has finished a trial and is training the next one
    def mid_run() -> bool:
        statuses = [json.loads(p.read_text()).get("status") for p in suite_dir.glob("trials/*/status.json")]
        return "finished" in statuses and "running" in statuses

    _wait("a trial finished and the next one running", mid_run, first, tmp_path / "first.log")
    os.kill(first.pid, signal.SIGKILL)
    first.join()
    assert first.exitcode == -signal.SIGKILL

    rerun = _start(args, tmp_path / "rerun.log")
    rerun.join(timeout=600)
    assert rerun.exitcode == 0, (tmp_path / "rerun.log").read_text()[-3000:]
    trials = sorted((suite_dir / "trials").iterdir())
    assert len(trials) == 3
    for folder in trials:
        assert json.loads((folder / "status.json").read_text())["status"] == "finished"
        steps = [json.loads(line)["step"] for line in (folder / "evals.jsonl").read_text().splitlines()]
        assert steps == [20, 40, 60], (folder, steps)
    client = MlflowClient(default_tracking_uri(results))
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])
            if TRIAL_TAG in r.data.tags]
    assert sorted(r.data.tags[TRIAL_TAG] for r in runs) == [p.name for p in trials]  # one run per trial
    for run in runs:
        history = client.get_metric_history(run.info.run_id, "modes_kl")
        assert sorted(m.step for m in history) == [20, 40, 60]  # no step logged twice
    assert not (suite_dir / "driver.json").exists()
