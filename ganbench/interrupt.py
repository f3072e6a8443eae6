"""Ctrl-C (SIGINT) and SIGTERM on ``ganbench run``: stop at the next safe point, keep what finished.

The driver holds :func:`catch_signals` for the whole run. The first signal only *asks* for a stop:

- it sets an in-process flag (:func:`requested`) and writes the marker file ``<suite>/.interrupt``;
- in-process trials (``--local``) see the flag after their current training iteration
  (:class:`Watch`, called from the trainer's ``on_step``), write ``status.json`` ``interrupted``
  (``last_step``: the step of their last checkpoint), end their MLflow run as ``KILLED``, and the
  loop starts no further trial;
- Ray workers run in sessions of their own (a terminal's Ctrl-C never reaches them), so they look
  for the marker file instead, at most every :data:`POLL_S` seconds, beside the trial folders they
  already write (a cluster shares the results folder for those), and stop the same way; the driver
  stops Ray Tune through its stopper, so no queued trial starts.

Outside the dispatch of trials (preparing assets, starting Ray, writing the report) there is no safe
point to wait for, and a second signal means "now": both raise ``KeyboardInterrupt`` at once. Either
way the driver marks every trial still ``running`` on disk as ``interrupted`` once its process is gone
(:func:`ganbench.runner.mark_interrupted`), writes tables and plots for what finished, and the CLI
prints one line and exits 130. A re-run of the same command resumes the interrupted trials from
their checkpoints.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

#: the marker file a driver writes into its suite folder when a stop is asked for
MARKER = ".interrupt"
#: how often a trial looks for the marker file (the in-process flag is read at every iteration)
POLL_S = 0.5
SIGNALS = (signal.SIGINT, signal.SIGTERM)

_flag = threading.Event()
_state: dict = {"active": False, "graceful": 0, "suite_dir": None, "signal": None, "previous": {}}


class TrialInterrupted(KeyboardInterrupt):
    """Raised in a trial at a safe point (after an iteration) once a stop was asked for.

    A ``KeyboardInterrupt``, so no ``except Exception`` on the way marks the trial ``failed``.
    """


def requested() -> bool:
    """Whether this process was asked to stop (a signal arrived during :func:`catch_signals`)."""
    return _flag.is_set()


def signal_name() -> str:
    sig = _state["signal"]
    return signal.Signals(sig).name if sig else "SIGINT"


def _handle(signum, frame) -> None:
    first = not _flag.is_set()
    _state["signal"] = _state["signal"] or signum
    _flag.set()
    if first and _state["suite_dir"] is not None:
        try:
            (Path(_state["suite_dir"]) / MARKER).write_text(f"{signal.Signals(signum).name} {time.time():.0f}\n")
        except OSError:  # a full or read-only disk: the in-process flag still stops --local trials
            pass
    if not first or _state["graceful"] == 0:
        raise KeyboardInterrupt


def install() -> None:
    """(Re)install the handlers; ``ray.init`` replaces the SIGTERM handler, so the driver calls this
    again once Ray is up. A no-op outside :func:`catch_signals` or off the main thread."""
    if not _state["active"] or threading.current_thread() is not threading.main_thread():
        return
    for sig in SIGNALS:
        current = signal.getsignal(sig)
        if current is not _handle:
            _state["previous"].setdefault(sig, current)
            signal.signal(sig, _handle)


@contextmanager
def catch_signals(suite_dir: str | os.PathLike):
    """Hold SIGINT and SIGTERM for a run of the suite folder ``suite_dir`` (the driver only)."""
    marker = Path(suite_dir) / MARKER
    marker.unlink(missing_ok=True)  # a killed driver's
    _flag.clear()
    _state.update(active=True, graceful=0, suite_dir=str(suite_dir), signal=None, previous={})
    install()
    try:
        yield
    finally:
        for sig, handler in _state["previous"].items():
            if threading.current_thread() is threading.main_thread():
                signal.signal(sig, handler)
        _state.update(active=False, graceful=0, suite_dir=None, previous={})
        _flag.clear()  # a later run (or trial) in this process starts afresh
        try:
            marker.unlink(missing_ok=True)
        except OSError:
            pass


@contextmanager
def graceful():
    """While trials are dispatched: a first signal asks them to stop instead of raising."""
    _state["graceful"] += 1
    try:
        yield
    finally:
        _state["graceful"] -= 1


class Watch:
    """``watch()`` is True once a stop was asked for: this process's flag (read every call) or the
    marker in ``suite_dir`` (a file system call at most every :data:`POLL_S` seconds)."""

    def __init__(self, suite_dir: str | os.PathLike):
        self.marker = Path(suite_dir) / MARKER
        self._next = 0.0
        self._seen = False

    def __call__(self, force: bool = False) -> bool:
        if self._seen or _flag.is_set():
            return True
        now = time.monotonic()
        if force or now >= self._next:
            self._next = now + POLL_S
            self._seen = self.marker.exists()
        return self._seen
