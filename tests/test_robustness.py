"""Issue 17: a store left unusable, a full or read-only disk, a busy port, and the silent cases.

Tiny toy2d suites and ``--local`` runs throughout (Ray is not the point here). The file system
faults use real small file systems (a tmpfs the test mounts; tests run as root, and ``chmod``
does not stop root); where ``mount`` is not permitted the read-only cases monkeypatch the OS
boundary instead (``os.open``-level writes raising ``EROFS``) and the full-disk case is skipped.
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import multiprocessing
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.report.collect import collect
from ganbench.suite import SuiteError, load_suite
from ganbench.tracking import (TRIAL_TAG, default_tracking_uri, ensure_experiment, ensure_store,
                               follow_moved_results, inspect_store)
from tests.conftest import write_suite

SUITE = textwrap.dedent("""\
    name: robust
    datasets: [ring8]
    methods: [gan]
    params: {width: 4}
    seeds: [0, 1]
    train: {iterations: 20, batch_size: 16, eval_every: 10}
    eval: {metrics: [modes], num_samples: 100, reference: train}
    resources: {cpus_per_trial: 1, gpus_per_trial: 0}
""")
runner = CliRunner()


def _fabricate(results: Path, suite_file: Path, last_lines: int = 2) -> dict[str, Path]:
    """A results folder as a finished run leaves it (spec, evals, status per trial), no training."""
    suite = load_suite(suite_file)
    suite_dir = results / suite.name
    suite_dir.mkdir(parents=True)
    specs = suite.expand()
    (suite_dir / "suite.json").write_text(json.dumps({"name": suite.name, "trials": [s.trial_id for s in specs],
                                                       "suite": suite.model_dump()}))
    folders = {}
    for i, spec in enumerate(specs):
        folder = suite_dir / "trials" / spec.trial_id
        folder.mkdir(parents=True)
        (folder / "spec.json").write_text(json.dumps({"trial_id": spec.trial_id, "suite": suite.name,
                                                      **spec.to_dict()}))
        lines = [json.dumps({"step": step, "elapsed_s": 0.1 * step,
                             "values": {"modes_covered": float(i + step // 10), "modes_hq": 0.5,
                                        "modes_kl": 1.0}, "protocol": {}})
                 for step in (10, 20)]
        (folder / "evals.jsonl").write_text("".join(f"{line}\n" for line in lines[:last_lines]))
        (folder / "status.json").write_text(json.dumps({"status": "finished", "error": None, "last_step": 20}))
        folders[spec.trial_id] = folder
    return folders


def _runs(uri: str) -> dict[str, object]:
    client = MlflowClient(uri)
    runs = {}
    for exp in client.search_experiments():
        for run in client.search_runs([exp.experiment_id]):
            if TRIAL_TAG in run.data.tags:
                assert run.data.tags[TRIAL_TAG] not in runs, "a trial has two runs"
                runs[run.data.tags[TRIAL_TAG]] = run
    return runs


def _half_migrated(db: Path) -> None:
    """What an alembic batch migration killed mid-way leaves: a copy table left behind, the
    recorded revision one behind the tables that exist."""
    ensure_store(f"sqlite:///{db}", db.parent)
    with sqlite3.connect(db) as con:
        con.execute("create table _alembic_tmp_experiments (experiment_id integer primary key, name varchar)")
        con.execute("update alembic_version set version_num = '451aebb31d03'")


def _foreign(db: Path) -> None:
    with sqlite3.connect(db) as con:
        con.execute("create table notes (body text)")
        con.execute("insert into notes values ('not mlflow')")


@pytest.mark.parametrize("make_bad", [lambda db: db.write_bytes(b""), _half_migrated, _foreign],
                         ids=["zero-byte", "half-migrated", "foreign"])
def test_unusable_store_is_set_aside_and_rebuilt_with_every_run(tmp_path, make_bad):
    results = tmp_path / "r"
    folders = _fabricate(results, write_suite(tmp_path, SUITE))
    db = results / "mlflow.db"
    make_bad(db)
    assert inspect_store(db)[0] == "broken"
    uri = default_tracking_uri(results)
    with pytest.warns(UserWarning, match="rebuilt 2 trial runs"):
        ensure_store(uri, results)
    assert inspect_store(db)[0] == "ok"
    aside = list(results.glob("mlflow.db.broken-*"))
    assert len(aside) == 1  # the user's file is kept, never deleted
    runs = _runs(uri)
    assert set(runs) == set(folders)
    client = MlflowClient(uri)
    for i, (trial_id, folder) in enumerate(folders.items()):  # the values _fabricate wrote
        run = runs[trial_id]
        assert run.info.status == "FINISHED" and run.data.tags["ganbench.status"] == "finished"
        history = client.get_metric_history(run.info.run_id, "modes_covered")
        assert sorted((m.step, m.value) for m in history) == [(10, i + 1.0), (20, i + 2.0)]
        assert run.data.params["dataset"] == "ring8" and run.data.params["seed"] == str(i)
    assert not list(results.glob(".mlflow.db.tmp*"))


def test_a_killed_mlflow_migration_leaves_a_store_the_next_run_uses(tmp_path):
    """The faithful case: MLflow's own store creation (what ganbench used to run in place) killed
    while it migrates; then a real run over that store works and logs every trial once."""
    results = tmp_path / "r"
    results.mkdir()
    db = results / "mlflow.db"
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    # a forked child (MLflow is imported already) builds the store in place, as MLflow does
    proc = multiprocessing.get_context("fork").Process(
        target=SqlAlchemyStore, args=(f"sqlite:///{db}", f"{results.as_uri()}/mlartifacts"))
    proc.start()
    deadline = time.monotonic() + 600  # a loaded machine: the condition, not the clock, decides
    try:
        while True:  # killed once migrations run (tables made, the revision not yet at head)
            assert proc.is_alive(), "MLflow finished creating the store before it could be killed"
            assert time.monotonic() < deadline
            if db.exists():
                try:
                    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=0.05) as con:
                        tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
                except sqlite3.Error:
                    tables = set()
                if "alembic_version" in tables or len(tables) > 3:
                    break
            time.sleep(0.005)
    finally:
        proc.kill()
        proc.join()
    assert inspect_store(db)[0] != "ok"
    result = runner.invoke(app, ["run", str(write_suite(tmp_path, SUITE)), "--local", "--results", str(results)])
    assert result.exit_code == 0, result.output
    assert inspect_store(db)[0] == "ok"
    statuses = [json.loads(p.read_text())["status"] for p in (results / "robust" / "trials").glob("*/status.json")]
    assert statuses == ["finished", "finished"]
    assert len(_runs(default_tracking_uri(results))) == 2


def test_moved_results_folder_logs_artifacts_into_itself(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    uri_old = default_tracking_uri(old)
    ensure_store(uri_old, old)
    exp = ensure_experiment(uri_old, "moved", old / "mlartifacts")
    run = MlflowClient(uri_old).create_run(exp)
    shutil.copytree(old, new)
    uri_new = default_tracking_uri(new)
    assert follow_moved_results(uri_new, new) == 3  # MLflow's Default experiment, ours and its run
    client = MlflowClient(uri_new)
    assert client.get_experiment(exp).artifact_location.startswith((new / "mlartifacts").as_uri())
    (tmp_path / "a.txt").write_text("x")
    client.log_artifact(run.info.run_id, str(tmp_path / "a.txt"))
    assert list((new / "mlartifacts").rglob("a.txt")) and not list((old / "mlartifacts").rglob("a.txt"))
    assert follow_moved_results(uri_new, new) == 0  # once re-rooted, nothing to do


def test_a_done_trials_run_left_open_by_a_kill_is_closed(tmp_path):
    """A driver killed between a trial's final status.json and the end of its MLflow run: the
    trial is never run again, so the next driver closes the run (the open one of another trial
    stays open: it will be re-attached when that trial resumes)."""
    from ganbench.tracking import close_done_trials

    uri = default_tracking_uri(tmp_path)
    ensure_store(uri, tmp_path)
    exp = ensure_experiment(uri, "closing", tmp_path / "mlartifacts")
    client = MlflowClient(uri)
    done = client.create_run(exp, tags={TRIAL_TAG: "aaaaaaaaaaaa"})
    resumable = client.create_run(exp, tags={TRIAL_TAG: "bbbbbbbbbbbb"})
    assert close_done_trials(uri, exp, {"aaaaaaaaaaaa": "finished"}) == 1
    assert client.get_run(done.info.run_id).info.status == "FINISHED"
    assert client.get_run(done.info.run_id).data.tags["ganbench.status"] == "finished"
    assert client.get_run(resumable.info.run_id).info.status == "RUNNING"


# --------------------------------------------------------------------------- file systems
@pytest.fixture
def tmpfs(tmp_path):
    """Mount a small tmpfs (``size``) and give ``(path, remount_ro)``; skip when not permitted."""
    mounted = []

    def make(size: str) -> Path:
        where = tmp_path / f"fs{len(mounted)}"
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(where)
        return where

    yield make
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _remount_ro(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)


def _read_only_folder(tmp_path, tmpfs, monkeypatch, make=None) -> Path:
    """A read-only folder: a tmpfs remounted read-only, else writes refused at the OS boundary."""
    probe = tmp_path / "probe"
    probe.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)], capture_output=True)
    if ok.returncode == 0:
        subprocess.run(["umount", str(probe)], check=True)
        where = tmpfs("2m")
        if make:
            make(where)
        _remount_ro(where)
        return where
    where = tmp_path / "ro"
    where.mkdir()
    if make:
        make(where)

    def under(path) -> bool:
        return isinstance(path, (str, os.PathLike)) and os.path.abspath(path).startswith(str(where))

    def refuse(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    real_os_open, real_open, real_mkdir = os.open, io.open, os.mkdir

    def os_open(path, flags, *args, **kwargs):  # the OS boundary: every write under `where`
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and under(path):
            refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    def io_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and under(file):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    def mkdir(path, *args, **kwargs):
        if under(path):
            refuse(path)
        return real_mkdir(path, *args, **kwargs)

    for module, name, fn in ((os, "open", os_open), (io, "open", io_open), (builtins, "open", io_open),
                             (os, "mkdir", mkdir)):
        monkeypatch.setattr(module, name, fn)
    return where


def _one_line(result) -> str:
    text = result.output.strip()
    assert result.exit_code == 2, text
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    return text


def test_results_naming_a_file_is_one_line_before_anything_runs(tmp_path):
    target = tmp_path / "afile"
    target.write_text("")
    line = _one_line(runner.invoke(app, ["run", str(write_suite(tmp_path, SUITE)), "--local",
                                         "--results", str(target / "sub")]))
    assert str(target) in line and "ENOTDIR" in line


def test_read_only_results_folder_is_one_line(tmp_path, tmpfs, monkeypatch):
    where = _read_only_folder(tmp_path, tmpfs, monkeypatch)
    line = _one_line(runner.invoke(app, ["run", str(write_suite(tmp_path, SUITE)), "--local",
                                         "--results", str(where / "results")]))
    assert str(where) in line and "EROFS" in line


def test_report_on_a_read_only_folder_is_one_line(tmp_path, tmpfs, monkeypatch):
    suite_file = write_suite(tmp_path, SUITE)
    where = _read_only_folder(tmp_path, tmpfs, monkeypatch, make=lambda w: _fabricate(w, suite_file))
    line = _one_line(runner.invoke(app, ["report", str(where / "robust")]))
    assert str(where / "robust") in line and "EROFS" in line


def test_full_disk_ends_the_run_with_one_line_and_no_new_trial(tmp_path, tmpfs):
    """A real 192 KiB file system under --results (the store elsewhere): a trial's outputs
    fill it; the run stops at that trial with one line, and the later trials never start."""
    where = tmpfs("192k")
    suite = write_suite(tmp_path, SUITE.replace("seeds: [0, 1]", "seeds: [0, 1, 2, 3, 4, 5]"))
    result = runner.invoke(app, ["run", str(suite), "--local", "--results", str(where),
                                 "--tracking-uri", default_tracking_uri(tmp_path / "store")])
    line = _one_line(result)
    assert "ENOSPC" in line and str(where) in line
    started = [p for p in (where / "robust" / "trials").iterdir() if (p / "spec.json").exists()]
    finished = [p for p in started if (json.loads((p / "status.json").read_text()) if (p / "status.json").exists()
                                       else {}).get("status") == "finished"]
    assert 1 <= len(started) < 6 and len(started) == len(finished) + 1  # nothing after the faulted trial


def test_full_disk_under_ray_stops_the_grid(tmp_path, tmpfs, ray_session, monkeypatch):
    """The same through Ray Tune: the faulted trial reports the fault, a stopper stops the grid
    (trials not yet started never start), and the run raises the fault's one line."""
    from ganbench.errors import EnvironmentFault
    from ganbench.runner import run_suite

    where = tmpfs("320k")
    suite = write_suite(tmp_path, SUITE.replace("seeds: [0, 1]", "seeds: [0, 1, 2, 3, 4, 5]"))
    with pytest.raises(EnvironmentFault, match=r"no space left on device \(ENOSPC\)") as err:
        run_suite(suite, results_root=where, tracking_uri=default_tracking_uri(tmp_path / "store"))
    assert str(where) in str(err.value)
    started = [p for p in (where / "robust" / "trials").iterdir() if (p / "spec.json").exists()]
    assert 1 <= len(started) < 6


# --------------------------------------------------------------------------- silent cases
@pytest.mark.parametrize("name", [".", "..", "a/b", "x" * 300])
def test_unsafe_suite_names_are_rejected(tmp_path, name):
    text = SUITE.replace("name: robust", f"name: '{name}'")
    with pytest.raises(SuiteError, match=r"suite.yaml: name: "):
        load_suite(write_suite(tmp_path, text))
    line = _one_line(runner.invoke(app, ["run", str(tmp_path / "suite.yaml"), "--local",
                                         "--results", str(tmp_path / "res")]))
    assert "name:" in line and not (tmp_path / "res").exists()


def test_duplicate_key_names_the_key_and_both_lines(tmp_path):
    text = SUITE + "train: {iterations: 40}\n"
    with pytest.raises(SuiteError) as err:
        load_suite(write_suite(tmp_path, text))
    assert str(err.value) == (f"{tmp_path / 'suite.yaml'}: line 9: invalid YAML: key 'train' given twice "
                              "(lines 6 and 9)")


@pytest.mark.parametrize("depth", [40, 5000])
def test_deep_nesting_is_one_line(tmp_path, depth):
    text = SUITE + "tune: " + "[" * depth + "]" * depth + "\n"
    line = _one_line(runner.invoke(app, ["validate", str(write_suite(tmp_path, text))]))
    assert "nested more than 32 levels deep" in line


@pytest.mark.parametrize("damage", ["lost_last_line", "step_twice"])
def test_records_that_do_not_match_the_status_are_flagged(tmp_path, damage):
    folders = _fabricate(tmp_path / "r", write_suite(tmp_path, SUITE))
    bad = sorted(folders)[0]
    evals = folders[bad] / "evals.jsonl"
    lines = evals.read_text().splitlines()
    evals.write_text(lines[0] + "\n" if damage == "lost_last_line" else "\n".join([lines[0], *lines]) + "\n")
    with pytest.warns(UserWarning, match="evals.jsonl"):
        df = collect(tmp_path / "r" / "robust")
    flagged = df[df["trial_id"] == bad]
    assert set(flagged["status"]) == {"incomplete"}
    assert list(flagged["step"]) == ([10] if damage == "lost_last_line" else [10, 20])  # never a step twice
    assert (df[df["trial_id"] != bad]["status"] == "finished").all()
    with pytest.warns(UserWarning):
        result = runner.invoke(app, ["report", str(tmp_path / "r" / "robust")])
    assert result.exit_code == 0, result.output
    tables = (tmp_path / "r" / "robust" / "tables.md").read_text()
    assert "incomplete 1/2" in tables
    expected = ("ends at step 10 but the trial finished at step 20" if damage == "lost_last_line"
                else "holds step 10 2 times")
    assert expected in tables


def test_a_lost_last_record_is_reevaluated_from_the_checkpoint(tmp_path):
    suite = write_suite(tmp_path, SUITE)
    args = ["run", str(suite), "--local", "--results", str(tmp_path / "r")]
    assert runner.invoke(app, args).exit_code == 0
    folder = sorted((tmp_path / "r" / "robust" / "trials").iterdir())[0]
    lines = (folder / "evals.jsonl").read_text().splitlines()
    original = json.loads(lines[-1])
    (folder / "evals.jsonl").write_text(lines[0] + "\n")  # the last line lost
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    records = [json.loads(line) for line in (folder / "evals.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [10, 20] and records[0] == json.loads(lines[0])
    assert records[1]["reevaluated"] is True
    assert records[1]["values"] == pytest.approx(original["values"], rel=1e-6, abs=1e-9)
    assert "records repaired" in json.loads((folder / "status.json").read_text())["notes"][-1]
    assert "incomplete" not in (tmp_path / "r" / "robust" / "tables.md").read_text()


def test_budgets_that_cannot_finish_are_warned_at_validate(tmp_path):
    text = (SUITE.replace("iterations: 20,", "iterations: 1000000000000,")
            .replace("batch_size: 16", "batch_size: 200000").replace("num_samples: 100,", "num_samples: 10000000000,"))
    result = runner.invoke(app, ["validate", str(write_suite(tmp_path, text))])
    assert result.exit_code == 0, result.output
    # 10^12 iterations x 1e-4 s = 10^8 s = 3.17 years; 10^10 samples x 2 floats x 4 bytes = 74.5 GiB;
    # ring8's training split holds 100,000 points
    assert "take at least 3.17 years per trial" in result.output
    assert "need about 75 GiB of memory" in result.output
    assert "200,000 is larger than ring8's training split (100,000 samples)" in result.output
    ok = runner.invoke(app, ["validate", str(write_suite(tmp_path, SUITE))])
    assert ok.exit_code == 0 and "warning" not in ok.output


# --------------------------------------------------------------------------- ui
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ui_on_a_busy_port_is_one_line(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        line = _one_line(runner.invoke(app, ["ui", "--results", str(tmp_path / "r"), "--create",
                                             "--port", str(port)]))
    assert f"127.0.0.1:{port} is already in use" in line


def _serve_with(command: list[str], results: Path, port: int) -> None:
    """``ganbench ui``'s own serving loop in a forked child, its server replaced by ``command``."""
    import ganbench.ui as ui

    ui.server_command = lambda *_: command
    ui.serve(results, "127.0.0.1", port, create=True)


def test_ui_on_a_file_or_a_read_only_folder_is_one_line(tmp_path, tmpfs, monkeypatch):
    target = tmp_path / "afile"
    target.write_text("")
    line = _one_line(runner.invoke(app, ["ui", "--results", str(target), "--port", str(_free_port())]))
    assert str(target) in line and "ENOTDIR" in line
    where = _read_only_folder(tmp_path, tmpfs, monkeypatch)
    line = _one_line(runner.invoke(app, ["ui", "--results", str(where / "r"), "--create", "--port", str(_free_port())]))
    assert str(where) in line and "EROFS" in line


def test_ui_stops_its_server_on_sighup(tmp_path):
    """SIGHUP (the terminal closed) to ``ganbench ui``'s process stops the server's whole
    process group. The server is a stand-in (a sleeping process that starts a child of its own):
    starting the real MLflow server costs ~40 s on a loaded 2-core machine, and what is tested
    is ganbench's signal handling and process-group stop, the same for any server."""
    import psutil

    command = [sys.executable, "-c", "import subprocess, sys, time; "
               "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); time.sleep(600)"]
    proc = multiprocessing.get_context("fork").Process(target=_serve_with,
                                                       args=(command, tmp_path / "r", _free_port()))
    proc.start()
    try:
        deadline = time.monotonic() + 600
        while len(psutil.Process(proc.pid).children(recursive=True)) < 2:  # the server and its child
            assert proc.is_alive() and time.monotonic() < deadline
            time.sleep(0.05)
        family = psutil.Process(proc.pid).children(recursive=True)
        os.kill(proc.pid, signal.SIGHUP)
        proc.join(timeout=120)
        assert proc.exitcode == 0
        _, alive = psutil.wait_procs(family, timeout=30)
        assert not alive, alive
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()


# --------------------------------------------------------------------------- leftover Ray
def test_leftover_processes_of_a_dead_drivers_ray_session_are_ended(tmp_path, monkeypatch):
    from ganbench.dispatch import end_leftover_ray

    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    session = str(tmp_path / "ray" / "session_2026-01-01_00-00-00_000000_1")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "cache" / "ray-sessions").mkdir(parents=True)
    (tmp_path / "cache" / "ray-sessions" / f"{dead.pid}.json").write_text(
        json.dumps({"pid": dead.pid, "session_dir": session}))
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    ours = subprocess.Popen([*sleeper, f"--session-dir={session}"])
    other = subprocess.Popen([*sleeper, f"--session-dir={session}2"])  # another session's name
    # like Ray's renamed agents (ray::DashboardAgent): nothing in argv, a log file open inside
    log = Path(session) / "logs" / "agent.out"
    log.parent.mkdir(parents=True)
    agent = subprocess.Popen([sys.executable, "-c", "import os, time; f = open(os.environ['LOG'], 'w'); "
                              "f.write('up'); f.flush(); time.sleep(120)"], env={**os.environ, "LOG": str(log)})
    try:
        deadline = time.monotonic() + 600
        while not (log.exists() and log.read_text() == "up"):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert sorted(end_leftover_ray()) == sorted([ours.pid, agent.pid])
        assert ours.wait(timeout=30) is not None and agent.wait(timeout=30) is not None
        assert other.poll() is None
        assert not list((tmp_path / "cache" / "ray-sessions").iterdir())
    finally:
        for p in (ours, other, agent):
            p.kill()
            p.wait()
