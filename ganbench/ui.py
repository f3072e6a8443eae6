"""``ganbench ui``: the MLflow UI for a results folder's SQLite store, on 127.0.0.1.

The same server is the tracking server of a multi-node run: started on the head node with
``--host 0.0.0.0 --create``, trials on every node log to ``--tracking-uri http://head:5000``
instead of sharing a SQLite file, and artifacts are proxied by the server into
``<results>/mlartifacts`` on the head (``--artifacts-destination``), so workers need no shared
folder for them.

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
            "--artifacts-destination", (Path(results).resolve() / "mlartifacts").as_uri(),
            "--host", host, "--port", str(port), "--workers", "1"]


def server_env() -> dict[str, str]:
    return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def start_server(results: Path, host: str = "127.0.0.1", port: int = 5000,
                 create: bool = False) -> subprocess.Popen:
    """Start ``mlflow server`` on the results folder's store (``create``: an empty one is fine)."""
    if create:
        Path(results).mkdir(parents=True, exist_ok=True)
    elif not (Path(results) / "mlflow.db").exists():
        raise GanbenchError(f"{results}: no mlflow.db here; run a suite first (ganbench run ... --results {results}) "
                            "or pass --create to start a tracking server for a cluster run")
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


def serve(results: Path, host: str, port: int, create: bool = False) -> None:
    proc = start_server(results, host, port, create)
    print(f"MLflow UI and tracking server: http://{host}:{port}  (Ctrl-C to stop)", flush=True)
    previous = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_server(proc)
        signal.signal(signal.SIGTERM, previous)
