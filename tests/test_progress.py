"""The live display of ``ganbench run`` (issue 15 item 2) and the per-iteration progress behind it.

The display is driven through its public event API and real ``progress.json`` files (as trials
write them) and rendered into small consoles: 44 trials fit 15 lines with ``k/N``, the running
trials' iterations and it/s, the queued count and a line for the running trials that did not fit.
"""

from __future__ import annotations

import io
import json
import logging
import textwrap

import pytest
from rich.console import Console

from ganbench import interrupt
from ganbench.interrupt import TrialInterrupted, Watch
from ganbench.progress import RichProgress
from ganbench.suite import load_suite
from ganbench.trial import TrialContext, TrialProgress, train_trial
from tests.conftest import write_suite


def _console(height: int, width: int = 120) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=width, height=height, color_system=None, force_terminal=False), buf


def _suite_event(tmp_path, n=44):
    suite_dir = tmp_path / "toy"
    (suite_dir / "trials").mkdir(parents=True)
    trials = [{"trial_id": f"t{i:02d}", "label": f"method{i % 4}/ring8/seed{i}", "iterations": 1000}
              for i in range(n)]
    return suite_dir, {"suite": "toy", "results": str(suite_dir), "mlflow": "sqlite:////x/mlflow.db",
                       "trials": trials}


def _drive(progress: RichProgress, suite_dir, event, finished=12, running=10):
    """12 trials finished, 10 running (each with a progress.json at iteration 300 + i), the rest queued."""
    progress("suite", event)
    trials = event["trials"]
    for t in trials[:finished]:
        progress("start", {"label": t["label"]})
        folder = suite_dir / "trials" / t["trial_id"]
        folder.mkdir()
        (folder / "status.json").write_text(json.dumps({"status": "finished", "last_step": 1000}))
        progress("done", {"label": t["label"], "status": "finished"})
    for i, t in enumerate(trials[finished:finished + running]):
        folder = suite_dir / "trials" / t["trial_id"]
        folder.mkdir()
        (folder / "progress.json").write_text(json.dumps({
            "trial_id": t["trial_id"], "step": 300 + i, "iterations": 1000, "elapsed_s": 5.0, "it_s": 61.5,
            "values": {"modes_covered": 7.0}, "losses": {"loss_d": 1.25, "loss_g": 0.75}}))
        progress("start", {"label": t["label"]})


def test_44_trials_fit_15_lines_with_counts_iterations_and_a_summary(tmp_path):
    live_console, _ = _console(15)
    progress = RichProgress(live_console)
    suite_dir, event = _suite_event(tmp_path)
    with progress:
        _drive(progress, suite_dir, event)
        progress.poll(force=True)
        small, buf = _console(15)
        small.print(progress.renderable())
        tall, tall_buf = _console(60)
        tall.print(progress.renderable())
    lines = buf.getvalue().rstrip("\n").splitlines()
    text = buf.getvalue()
    assert len(lines) <= 15, text
    assert "toy" in lines[0] and "sqlite:////x/mlflow.db" in lines[1]
    assert str(suite_dir) in tall_buf.getvalue().splitlines()[0]  # cut with an ellipsis when too long
    assert "12/44 done" in text
    assert "300/1000" in text and "61.5" in text and "modes_covered=7" in text and "loss_d=1.25" in text
    shown = sum(1 for line in lines if "/1000" in line)
    assert 1 <= shown < 10 and f"{10 - shown} more running" in text  # the rest in one line
    assert "10 running" in text and "22 queued" in text and "12 finished" in text
    # a tall terminal shows every running trial and their own iterations
    assert all(f"{300 + i}/1000" in tall_buf.getvalue() for i in range(10))
    assert "more running" not in tall_buf.getvalue()


def test_a_tiny_terminal_keeps_the_counts(tmp_path):
    progress = RichProgress(_console(15)[0])
    suite_dir, event = _suite_event(tmp_path)
    with progress:
        _drive(progress, suite_dir, event)
        small, buf = _console(5, width=60)
        small.print(progress.renderable())
    lines = buf.getvalue().rstrip("\n").splitlines()
    assert len(lines) <= 5 and "12/44 done" in buf.getvalue() and "10 more running" in buf.getvalue()


def test_library_log_lines_go_to_driver_log_not_the_terminal(tmp_path):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    library, own = logging.getLogger("mlflow.store.fake"), logging.getLogger("ganbench.fake")
    for logger in (library, own):
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        progress = RichProgress(_console(15)[0])
        suite_dir, event = _suite_event(tmp_path, n=2)
        with progress:
            progress("suite", event)
            library.info("Creating initial MLflow database tables...")
            library.warning("a library warning")
            own.warning("ganbench's own line")
        library.info("after the display")
    finally:
        for logger in (library, own):
            logger.removeHandler(handler)
    shown = stream.getvalue()
    assert "Creating initial" not in shown and "a library warning" not in shown
    assert "ganbench's own line" in shown and "after the display" in shown  # the filter is gone again
    kept = (suite_dir / "driver.log").read_text()
    assert "Creating initial MLflow database tables" in kept and "a library warning" in kept


SUITE = textwrap.dedent("""\
    name: prog
    datasets: [ring8]
    methods: [gan]
    params: {width: 4}
    seeds: [0]
    train: {iterations: 40, batch_size: 16, eval_every: 20}
    eval: {metrics: [modes], num_samples: 100, reference: train}
""")


def test_a_trial_writes_its_iteration_and_rate_between_evaluations(tmp_path, one_thread, monkeypatch):
    import ganbench.trial as trial_mod

    monkeypatch.setattr(trial_mod, "PROGRESS_EVERY_S", 0.0)  # every iteration
    seen: list[dict] = []
    original = trial_mod.TrialProgress.write

    def recording_write(self):
        original(self)
        seen.append(json.loads(self.path.read_text()))

    monkeypatch.setattr(trial_mod.TrialProgress, "write", recording_write)
    spec = load_suite(write_suite(tmp_path, SUITE)).expand()[0]
    record = train_trial(spec, TrialContext("prog", str(tmp_path / "prog")))
    assert record["status"] == "finished"
    steps = [s["step"] for s in seen]
    assert steps[0] == 0 and steps[-1] == 40
    assert set(range(1, 41)) <= set(steps)  # every iteration, not only the evaluations at 20 and 40
    assert all(s["iterations"] == 40 for s in seen)
    after_eval = next(s for s in seen if s["step"] == 21)
    assert after_eval["values"]["modes_covered"] >= 0 and set(after_eval["losses"]) == {"loss_d", "loss_g"}
    assert all(isinstance(s["it_s"], float) and s["it_s"] > 0 for s in seen if s["step"] >= 2)


def test_the_step_hook_stops_at_the_marker_and_records_where(tmp_path, monkeypatch):
    monkeypatch.setattr(interrupt, "POLL_S", 0.0)
    spec = load_suite(write_suite(tmp_path, SUITE)).expand()[0]
    folder = tmp_path / "trial"
    folder.mkdir()
    hook = TrialProgress(folder, spec, Watch(tmp_path))
    hook.started(0, 0.0)
    for step in range(1, 6):
        hook(step, 0.01 * step)
    (tmp_path / interrupt.MARKER).write_text("SIGINT")
    with pytest.raises(TrialInterrupted):
        hook(6, 0.06)
    assert json.loads((folder / "progress.json").read_text())["step"] == 6
