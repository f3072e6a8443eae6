"""The command line: list, resources checked before anything runs, the MLflow UI lifecycle."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import psutil
import pytest

from ganbench.dispatch import resolve_resources
from ganbench.errors import GanbenchError
from ganbench.suite import Resources
from ganbench.tracking import ensure_experiment, default_tracking_uri
from ganbench.ui import start_server, stop_server
from tests.conftest import REPO, write_suite


def _cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "ganbench", *args], capture_output=True, text=True, cwd=cwd)


def test_list_shows_registries():
    proc = _cli("list", "methods")
    assert proc.returncode == 0
    for name in ("gan", "gan_minimax", "lsgan", "hinge", "wgan", "wgan_gp"):
        assert f" {name} " in proc.stdout
    metrics = _cli("list", "metrics").stdout
    assert "fcd ↓" in metrics and "cis ↑" in metrics and "modes_covered ↑" in metrics
    bad = _cli("list", "colours")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_gpu_request_without_gpu_is_a_clear_error():
    with pytest.raises(GanbenchError, match=r"s.yaml: resources.gpus_per_trial: 1 GPU per trial requested but the Ray cluster has no GPU"):
        resolve_resources(Resources(gpus_per_trial=1), {"CPU": 2.0}, "s.yaml")
    with pytest.raises(GanbenchError, match="cpus_per_trial: 4 CPUs per trial requested but the Ray cluster has 2"):
        resolve_resources(Resources(cpus_per_trial=4), {"CPU": 2.0}, "s.yaml")
    assert resolve_resources(Resources(), {"CPU": 2.0}, "s.yaml") == {"cpu": 1.0, "gpu": 0.0}
    assert resolve_resources(Resources(), {"CPU": 8.0, "GPU": 1.0}, "s.yaml") == {"cpu": 1.0, "gpu": 0.5}


def test_cli_run_with_impossible_resources_exits_2_before_training(tmp_path):
    suite = write_suite(tmp_path, textwrap.dedent("""\
        name: gpu_please
        datasets: [ring8]
        methods: [gan]
        train: {iterations: 10, eval_every: 5}
        eval: {metrics: [modes], num_samples: 100}
        resources: {gpus_per_trial: 1}
    """))
    proc = _cli("run", str(suite), "--results", str(tmp_path / "r"))
    assert proc.returncode == 2, proc.stderr
    assert "resources.gpus_per_trial" in proc.stderr and "Traceback" not in proc.stderr
    assert not list((tmp_path / "r" / "gpu_please" / "trials").glob("*/evals.jsonl"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ui_serves_the_store_and_stops_everything(tmp_path):
    ensure_experiment(default_tracking_uri(tmp_path), "ui_test")
    port = _free_port()
    proc = start_server(tmp_path, "127.0.0.1", port)
    try:
        deadline = time.time() + 90
        body = None
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=10",
                                            timeout=2) as resp:
                    body = resp.read().decode()
                    break
            except OSError:
                time.sleep(1)
        assert body is not None and "ui_test" in body
        children = psutil.Process(proc.pid).children(recursive=True)
    finally:
        stop_server(proc)
    assert proc.poll() is not None
    time.sleep(1)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def test_ui_without_a_store_is_one_line(tmp_path):
    proc = _cli("ui", "--results", str(tmp_path / "nothing"))
    assert proc.returncode == 2 and "no mlflow.db" in proc.stderr
