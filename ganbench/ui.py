"""``ganbench ui``: the MLflow UI for a results folder's SQLite store, on 127.0.0.1.

MLflow 3 spawns background job workers unless ``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``;
one web worker is enough on a small machine. The server runs in its own process group, so
Ctrl-C (or SIGTERM) stops it together with everything it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from ganbench.errors import GanbenchError
from ganbench.tracking import default_tracking_uri


def server_command(results: Path, host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", default_tracking_uri(results),
            "--default-artifact-root", (Path(results).resolve() / "mlartifacts").as_uri(),
            "--host", host, "--port", str(port), "--workers", "1"]


def server_env() -> dict[str, str]:
    return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def start_server(results: Path, host: str = "127.0.0.1", port: int = 5000) -> subprocess.Popen:
    if not (Path(results) / "mlflow.db").exists():
        raise GanbenchError(f"{results}: no mlflow.db here; run a suite first (ganbench run ... --results {results})")
    return subprocess.Popen(server_command(results, host, port), env=server_env(), start_new_session=True)


def stop_server(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """Terminate the server's whole process group, then kill what is left."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def serve(results: Path, host: str, port: int) -> None:
    proc = start_server(results, host, port)
    print(f"MLflow UI: http://{host}:{port}  (Ctrl-C to stop)", flush=True)
    previous = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_server(proc)
        signal.signal(signal.SIGTERM, previous)
