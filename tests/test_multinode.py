"""A real two-node Ray cluster on this machine (``ray start --head`` + ``ray start --address``,
one CPU each, on loopback) and an MLflow tracking server (``ganbench ui --create``) on the head:
``ganbench run --address --tracking-uri`` runs a suite across both nodes."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from mlflow.tracking import MlflowClient

from ganbench.tracking import TRIAL_TAG
from tests.conftest import REPO, write_suite

RAY = str(Path(sys.executable).with_name("ray"))
SUITE = textwrap.dedent("""\
    name: two_nodes
    datasets: [ring8]
    methods: [gan]
    params: {width: 16}
    seeds: [0, 1]
    train: {iterations: 200, batch_size: 64, eval_every: 50}
    eval: {metrics: [modes], num_samples: 200, reference: train}
    resources: {cpus_per_trial: 1, gpus_per_trial: 0}
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    return {**os.environ, "RAY_AUTH_MODE": "disabled", "GANBENCH_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0"}


class _Processes:
    """Background processes, each in its own session; stopped with everything they started."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.procs: list[subprocess.Popen] = []

    def spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=open(self.logs / f"{name}.log", "w"),
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            try:
                family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
            except psutil.NoSuchProcess:
                family = []
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    pass
                _, alive = psutil.wait_procs(family, timeout=5)
                if not alive:
                    break
            for p in alive:  # Ray workers run in process groups of their own
                try:
                    p.kill()
                except psutil.NoSuchProcess:
                    pass
            psutil.wait_procs(family, timeout=10)


def _default_address_file() -> str | None:
    """The cluster address a plain ``ray.init()`` on this machine would join, if any."""
    from ray._common.utils import get_ray_address_file

    path = Path(get_ray_address_file(None))
    return path.read_text() if path.exists() else None


def _alive_nodes(gcs: str) -> int:
    from ray._raylet import GcsClient

    try:
        return sum(1 for n in GcsClient(address=gcs).get_all_node_info(timeout=2).values() if n.state == 0)
    except Exception:  # not up yet
        return 0


#: deadlines only catch a hang (conditions decide); they hold on a loaded 2-core machine
HANG_S = 900


def _wait(what: str, check, timeout: float, logs: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    tails = {p.name: p.read_text()[-1500:] for p in logs.glob("*.log")}
    pytest.fail(f"{what} not ready within {timeout} s: {tails}")


def _server_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
            return resp.status == 200
    except (OSError, http.client.HTTPException):  # not listening yet, or another program's port answering
        return False


def test_suite_across_two_ray_nodes_with_a_tracking_server(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = _Processes(logs)
    ray_port, mlflow_port = _free_port(), _free_port()
    gcs, tracking = f"127.0.0.1:{ray_port}", f"http://127.0.0.1:{mlflow_port}"
    head_results = tmp_path / "head_results"
    ray_tmp = Path(tempfile.mkdtemp(prefix="gbray", dir="/tmp"))  # short: Ray's socket paths have a length limit
    marker_before = _default_address_file()
    try:
        # a temp dir of its own: `ray start --head` records its address in <temp dir>/ray_current_cluster,
        # and a plain ray.init() elsewhere on this machine must not find this short-lived cluster there
        procs.spawn("head", [RAY, "start", "--head", "--port", str(ray_port), "--num-cpus", "1", "--num-gpus", "0",
                             "--node-ip-address", "127.0.0.1", "--include-dashboard", "false",
                             "--disable-usage-stats", "--temp-dir", str(ray_tmp), "--block"])
        procs.spawn("mlflow", [sys.executable, "-m", "ganbench", "ui", "--results", str(head_results),
                               "--port", str(mlflow_port), "--create"])
        _wait("Ray head", lambda: _alive_nodes(gcs) == 1, HANG_S, logs)
        procs.spawn("worker", [RAY, "start", "--address", gcs, "--num-cpus", "1", "--num-gpus", "0",
                               "--node-ip-address", "127.0.0.1", "--block"])
        _wait("Ray worker node", lambda: _alive_nodes(gcs) == 2, HANG_S, logs)
        _wait("MLflow tracking server", lambda: _server_up(tracking), HANG_S, logs)

        suite = write_suite(tmp_path, SUITE)
        results = tmp_path / "results"
        run = subprocess.run([sys.executable, "-m", "ganbench", "run", str(suite), "--address", gcs,
                              "--tracking-uri", tracking, "--results", str(results)],
                             cwd=REPO, env=_env(), capture_output=True, text=True, timeout=2 * HANG_S)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
        assert "2 finished" in run.stdout

        # each trial took the single CPU of one node: both nodes ran a trial
        statuses = [json.loads(p.read_text()) for p in (results / "two_nodes" / "trials").glob("*/status.json")]
        assert [s["status"] for s in statuses] == ["finished", "finished"]
        assert len({s["node_id"] for s in statuses}) == 2
        assert len((results / "two_nodes" / "results.csv").read_text().splitlines()) == 1 + 2 * 4

        # MLflow went through the server: nothing in a SQLite file under --results, all in the head's store
        assert not (results / "mlflow.db").exists() and (head_results / "mlflow.db").exists()
        client = MlflowClient(tracking)
        exp = client.get_experiment_by_name("two_nodes")
        runs = client.search_runs([exp.experiment_id])
        children = [r for r in runs if TRIAL_TAG in r.data.tags]
        assert len(runs) == 3 and len(children) == 2
        assert {r.data.tags["ganbench.node_id"] for r in children} == {s["node_id"] for s in statuses}
        for child in children:
            assert child.info.status == "FINISHED"
            assert [m.step for m in client.get_metric_history(child.info.run_id, "modes_covered")] == [50, 100, 150, 200]
            assert {"checkpoint.pt", "samples.png"} <= {a.path for a in client.list_artifacts(child.info.run_id)}
        # artifacts were proxied by the server into the head's results folder
        assert exp.artifact_location.startswith("mlflow-artifacts:")
        assert len(list((head_results / "mlartifacts").rglob("checkpoint.pt"))) == 2
    finally:
        procs.stop_all()
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert _default_address_file() == marker_before  # this machine's other Ray users are not redirected
