"""``ganbench ui``: the MLflow UI for a results folder's SQLite store, on 127.0.0.1.

The same server is the tracking server of a multi-node run: started on the head node with
``--host 0.0.0.0 --create``, trials on every node log to ``--tracking-uri http://head:5000``
instead of sharing a SQLite file, and artifacts are proxied by the server into
``<results>/mlartifacts`` on the head (``--artifacts-destination``), so workers need no shared
folder for them.

MLflow 3 spawns background job workers unless ``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``;
one web worker is enough on a small machine. The server runs in its own process group, so
Ctrl-C (or SIGTERM, or SIGHUP: the terminal closed) stops it together with everything it
started. A port that is already taken is one line and exit 2 (checked before the server starts,
and again if the server exits at once), as is a results folder that is a file or cannot be
written (``--create``). The store is checked and repaired first, like ``ganbench run`` does
(:func:`ganbench.tracking.ensure_store`).

Each suite in the store is printed with the address of its experiment's runs table, opened on a
saved view (trial runs unfolded, metric values, key params and status as columns; see
:func:`ganbench.tracking.experiment_view`), so the UI does not start on MLflow 3's GenAI home page.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ganbench.errors import GanbenchError, environment_fault
from ganbench.tracking import default_tracking_uri, ensure_store


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
    from ganbench.paths import check_writable_dir

    if Path(results).exists() and not Path(results).is_dir():
        raise GanbenchError(f"--results {results}: is a file, not a results folder (ENOTDIR)")
    if create:
        check_writable_dir(results, "--results")
    elif not (Path(results) / "mlflow.db").exists():
        raise GanbenchError(f"{results}: no mlflow.db here; run a suite first (ganbench run ... --results {results}) "
                            "or pass --create to start a tracking server for a cluster run")
    check_port(host, port)
    try:
        ensure_store(default_tracking_uri(results), Path(results))
    except Exception as exc:  # a read-only or full disk under a store that needs repair
        fault = environment_fault(exc, results)
        if fault is None:
            raise
        raise fault from None
    return subprocess.Popen(server_command(results, host, port), env=server_env(), start_new_session=True)


def check_port(host: str, port: int) -> None:
    """One line when ``host:port`` cannot be listened on (another server holds it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is fine
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise GanbenchError(f"--port {port}: {host}:{port} is already in use (another ganbench ui or "
                                    "server?); stop it or pass another --port") from None
            raise GanbenchError(f"--host {host} --port {port}: cannot listen there ({exc.strerror})") from None


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


def suite_links(results: Path, base: str) -> list[tuple[str, str]]:
    """``(suite, url)`` for every suite experiment in the results folder's store: the experiment's
    runs table with the trial runs, their metric values and key params as columns
    (:func:`ganbench.tracking.experiment_view`), rather than MLflow's home page."""
    from mlflow.tracking import MlflowClient

    from ganbench.tracking import experiment_url, experiment_view

    if not (Path(results) / "mlflow.db").exists():
        return []
    uri = default_tracking_uri(results)
    links = []
    for exp in MlflowClient(uri).search_experiments():
        if exp.name == "Default":
            continue
        try:
            view = experiment_view(uri, exp.name)
        except Exception:  # a store that cannot take the tag (read-only): the plain experiment page
            view = None
        links.append((exp.name, experiment_url(base, *(view or (exp.experiment_id, None)))))
    return links


def serve(results: Path, host: str, port: int, create: bool = False) -> None:
    proc = start_server(results, host, port, create)
    # the stop signals are caught from the moment the server exists: a SIGHUP while the suite
    # links are looked up (MLflow's imports take seconds) must stop the server too, not orphan it
    stop_signals = (signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
                for sig in stop_signals}
    started = time.monotonic()
    code = None
    try:
        base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
        print(f"MLflow UI and tracking server: http://{host}:{port}  (Ctrl-C to stop)", flush=True)
        try:
            for name, url in suite_links(results, base):
                print(f"  {name}: {url}", flush=True)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # the links are a convenience; the server runs regardless
            print(f"  (no suite links: {type(exc).__name__}: {exc})", flush=True)
        code = proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_server(proc)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code:
        raise GanbenchError(f"mlflow server on {host}:{port} exited with code {code} after "
                            f"{time.monotonic() - started:.0f} s (its messages are above)")
