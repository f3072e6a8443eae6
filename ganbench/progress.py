"""The live display of ``ganbench run`` (rich): where the run stands, in any terminal height.

Layout, top to bottom: a header (suite, results folder, MLflow URI), the stage (preparing what,
training, writing the report), an overall bar (``k/N`` trials done, elapsed time, ETA), one row per
running trial (iteration out of its total, training it/s, the last evaluation's metrics and losses),
and one summary line (running trials that did not fit, queued, done and how they ended).

Where the numbers come from:

- the dispatch's events (``progress(event, info)``): ``suite`` (header and the trial list; trials a
  previous run finished count as done), ``prepare``, ``start``, ``result`` (Tune's evaluations),
  ``done``;
- each running trial's ``progress.json`` (:class:`ganbench.trial.TrialProgress`, rewritten at most
  every second from the trainer's ``on_step``), read here at most every :attr:`RichProgress.poll_s`
  seconds while the display refreshes; the same file serves trials in this process (``--local``),
  in local Ray workers and on cluster nodes, with no channel back to the driver to keep alive;
- a ended trial's ``status.json`` (finished, diverged, failed, oom, interrupted).

The ETA extrapolates the iterations still to train (a resumed trial counts from its checkpoint)
at the rate the run has reached so far, evaluations included; trials that end early count as done.

Library log records below ERROR (MLflow's and alembic's INFO lines, Ray's warnings) are kept off
the display while it is shown: they go to ``<suite>/driver.log`` instead; ganbench's own records
and Python warnings still print above the display.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

#: states of a trial that has ended (in this run or, for finished/diverged, a previous one)
ENDED = ("finished", "diverged", "failed", "oom", "interrupted")
#: Tune result keys that are bookkeeping, not metrics
_TUNE_KEYS = {"step", "label", "elapsed_s", "time_this_iter_s", "time_total_s", "timestamp", "training_iteration",
              "pid", "time_since_restore", "iterations_since_restore", "done", "trial_id"}


def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "-:--:--"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _numbers(values: dict, limit: int = 3) -> str:
    return ", ".join(f"{k}={v:.3g}" for k, v in list(values.items())[:limit] if isinstance(v, (int, float)))


class _OffDisplay(logging.Filter):
    """Drops library records below ERROR from the terminal's handlers and keeps them in a file."""

    def __init__(self):
        super().__init__()
        self.path: Path | None = None
        self.pending: list[str] = []
        self._last: logging.LogRecord | None = None
        self._format = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("ganbench") or record.levelno >= logging.ERROR:
            return True
        if record is not self._last:  # one record reaches several handlers (held: an id may be reused)
            self._last = record
            try:
                line = self._format.format(record)
            except Exception:  # a record whose message cannot be formatted: drop it quietly
                return False
            self.pending.append(line)
            self.flush()
        return False

    def flush(self) -> None:
        if self.path is None or not self.pending:
            del self.pending[:-200]  # before the suite folder is known: the last 200 lines
            return
        try:
            with open(self.path, "a") as fh:
                fh.write("".join(f"{line}\n" for line in self.pending))
            self.pending.clear()
        except OSError:
            self.pending.clear()


def _terminal_handlers() -> list[logging.Handler]:
    """Every handler that writes to a stream (the terminal), on any logger that exists now."""
    loggers = [logging.getLogger()] + [lg for lg in list(logging.root.manager.loggerDict.values())
                                       if isinstance(lg, logging.Logger)]
    handlers = [h for lg in loggers for h in lg.handlers
                if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    return handlers


class RichProgress:
    """A callable ``progress(event, info)`` that keeps a live display of a suite run."""

    def __init__(self, console: Console, poll_s: float = 1.0, refresh_per_second: float = 2.0):
        self.console = console
        self.poll_s = poll_s
        self.lock = threading.RLock()
        self.header: dict[str, Any] = {}
        self.stage = ""
        self.trials: dict[str, dict[str, Any]] = {}  # label -> row
        self.by_id: dict[str, str] = {}  # trial id -> label
        self.started = False
        self.train_t0: float | None = None
        self._polled = 0.0
        self._filter = _OffDisplay()
        self._filtered: list[logging.Handler] = []
        self._closing = False
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(bar_width=24),
                             TextColumn("{task.fields[counts]}"), TextColumn("elapsed"), TimeElapsedColumn(),
                             TextColumn("ETA {task.fields[eta]}"), auto_refresh=False, console=console)
        self._task = self._bar.add_task("trials", total=1, counts="", eta="-:--:--")
        self.live = Live(console=console, get_renderable=self.renderable, refresh_per_second=refresh_per_second,
                         transient=False)

    # -- lifetime ------------------------------------------------------------------------------
    def __enter__(self):
        # the live display starts with the first event: an error before any (a bad suite)
        # stays a single line on stderr
        self.started = False
        self._closing = False
        return self

    def __exit__(self, exc_type, exc, tb):
        self._closing = True
        try:
            if not self.started:
                return None
            from ganbench.errors import GanbenchError

            if exc_type is not None and issubclass(exc_type, GanbenchError):
                self.live.transient = True  # the user's mistake (or the interruption) is one line, alone
            self.live.refresh()
            return self.live.__exit__(exc_type, exc, tb)
        finally:
            self._release_logs()

    def _hold_logs(self) -> None:
        """(Re)attach the filter to every terminal handler (libraries add theirs as they load)."""
        if self._closing:
            return
        for handler in _terminal_handlers():
            if self._filter not in handler.filters:
                handler.addFilter(self._filter)
                self._filtered.append(handler)

    def _release_logs(self) -> None:
        for handler in self._filtered:
            handler.removeFilter(self._filter)
        self._filtered.clear()
        self._filter.flush()

    # -- events --------------------------------------------------------------------------------
    def __call__(self, event: str, info: dict[str, Any]) -> None:
        with self.lock:
            if not self.started:
                self.live.__enter__()
                self.started = True
            self._hold_logs()
            getattr(self, f"_on_{event}", self._on_other)(info)
        self.live.refresh()

    def _on_suite(self, info: dict[str, Any]) -> None:
        self.header = {k: info.get(k) for k in ("suite", "results", "mlflow")}
        results = Path(info["results"]) if info.get("results") else None
        if results is not None and results.is_dir():
            self._filter.path = results / "driver.log"
            self._filter.flush()
        for entry in info.get("trials", []):
            label = entry["label"]
            row = self.trials.setdefault(label, {"label": label, "state": "queued"})
            row.update(trial_id=entry["trial_id"], iterations=entry.get("iterations"))
            self.by_id[entry["trial_id"]] = label
            if row["state"] == "queued" and results is not None:
                status = _read_json(results / "trials" / entry["trial_id"] / "status.json") or {}
                if status.get("status") in ("finished", "diverged"):
                    row.update(state=status["status"], before=True)

    def _on_prepare(self, info: dict[str, Any]) -> None:
        self.stage = f"preparing {info.get('what', '')}"

    def _row(self, info: dict[str, Any]) -> dict[str, Any]:
        label = info.get("label") or self.by_id.get(info.get("trial_id", ""), "?")
        return self.trials.setdefault(label, {"label": label, "state": "queued"})

    def _on_start(self, info: dict[str, Any]) -> None:
        self.stage = "training"
        if self.train_t0 is None:
            self.train_t0 = time.monotonic()
        row = self._row(info)
        row.update(state="running", since=time.monotonic(), before=False)

    def _on_result(self, info: dict[str, Any]) -> None:
        row = self._row(info)
        if row["state"] == "queued":
            row["state"] = "running"
        if isinstance(info.get("step"), (int, float)):
            row["step"] = max(int(info["step"]), int(row.get("step") or 0))
        values = {k: v for k, v in info.items() if k not in _TUNE_KEYS and isinstance(v, float)}
        if values:
            row["values"] = values

    def _on_done(self, info: dict[str, Any]) -> None:
        row = self._row(info)
        state = info.get("status") or "finished"
        if row.get("trial_id") and self.header.get("results"):  # the folder says how it ended
            status = _read_json(Path(self.header["results"]) / "trials" / row["trial_id"] / "status.json")
            if status and status.get("status") in ENDED:
                state = status["status"]
        if state == "not started":
            row["state"] = "queued"
            return
        self._poll_one(row)
        row["state"] = state if state in ENDED else "finished"

    def _on_other(self, info: dict[str, Any]) -> None:
        pass

    # -- disk ----------------------------------------------------------------------------------
    def _poll_one(self, row: dict[str, Any]) -> None:
        results = self.header.get("results")
        if not results or not row.get("trial_id"):
            return
        data = _read_json(Path(results) / "trials" / row["trial_id"] / "progress.json")
        if not data:
            return
        step = data.get("step")
        if isinstance(step, int):
            row.setdefault("base", step)  # a resumed trial starts at its checkpoint
            row["step"] = step
        if isinstance(data.get("iterations"), int):
            row["iterations"] = data["iterations"]
        row["it_s"] = data.get("it_s")
        if data.get("values"):
            row["values"] = data["values"]
        if data.get("losses"):
            row["losses"] = data["losses"]

    def poll(self, force: bool = False) -> None:
        """Read the running trials' ``progress.json`` (at most every ``poll_s`` seconds)."""
        now = time.monotonic()
        if not force and now - self._polled < self.poll_s:
            return
        self._polled = now
        self._hold_logs()  # handlers a library added since the last event
        for row in list(self.trials.values()):
            if row["state"] == "running":
                self._poll_one(row)

    # -- rendering -----------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.trials.values():
            out[row["state"]] = out.get(row["state"], 0) + 1
        return out

    def eta_s(self) -> float | None:
        """Seconds left: the iterations still to train at the rate reached so far in this run."""
        if self.train_t0 is None:
            return None
        todo = done = 0.0
        for row in self.trials.values():
            if row.get("before"):
                continue
            total = row.get("iterations") or 0
            base = row.get("base", 0)
            todo += max(0, total - base)
            if row["state"] in ENDED:
                done += max(0, total - base)
            elif row["state"] == "running":
                done += max(0, (row.get("step") or base) - base)
        if done <= 0 or todo <= 0:
            return None
        return (time.monotonic() - self.train_t0) * max(0.0, todo - done) / done

    def renderable(self):
        """What the display shows: sized to the console it is printed on, when it is printed."""
        return self

    def __rich_console__(self, console, options):
        with self.lock:
            self.poll()
            yield self._render(options.height or options.size.height, options.max_width)

    def _render(self, height: int, width: int):
        counts = self.counts()
        total = len(self.trials)
        ended = sum(counts.get(s, 0) for s in ENDED)
        running = [r for r in self.trials.values() if r["state"] == "running"]
        queued = counts.get("queued", 0)

        lines: list[Any] = []
        if self.header:
            head = Text.assemble(("ganbench ", "bold"), (str(self.header.get("suite") or ""), "bold cyan"),
                                 "  results ", str(self.header.get("results") or ""))
            uri = Text.assemble("MLflow ", str(self.header.get("mlflow") or ""))
            for line in (head, uri):
                line.no_wrap, line.overflow = True, "ellipsis"
                lines.append(line)
        stage = Text(self.stage or "starting", style="dim", no_wrap=True, overflow="ellipsis")
        lines.append(stage)
        if total:
            eta = self.eta_s()
            self._bar.update(self._task, total=max(total, 1), completed=ended,
                             counts=f"{ended}/{total} done", eta=_duration(eta) if ended < total else "0:00:00")
            lines.append(self._bar.make_tasks_table(self._bar.tasks))
        # rows that fit: the height minus the lines above, the table's header and rule, the summary
        room = height - len(lines) - 3 - 1
        shown = running[:max(0, room)] if room >= 1 else []
        if shown:
            table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True, padding=(0, 1))
            table.add_column("trial", no_wrap=True, overflow="ellipsis", max_width=max(12, width // 4))
            table.add_column("iteration", justify="right", no_wrap=True, min_width=11)
            table.add_column("it/s", justify="right", no_wrap=True, min_width=6)
            table.add_column("last metrics", no_wrap=True, overflow="ellipsis", ratio=3)
            table.add_column("losses", no_wrap=True, overflow="ellipsis", ratio=2)
            for row in shown:
                step, iters = row.get("step"), row.get("iterations")
                it_s = row.get("it_s")
                table.add_row(row["label"], f"{step if step is not None else '-'}/{iters or '?'}",
                              f"{it_s:.1f}" if isinstance(it_s, (int, float)) else "-",
                              _numbers(row.get("values") or {}), _numbers(row.get("losses") or {}, 2))
            lines.append(table)
        summary = self._summary(counts, running, queued, len(running) - len(shown))
        lines.append(summary)
        if len(lines) > height:  # a tiny terminal: the counts first, the header goes
            lines = lines[len(lines) - max(2, height):]
        return Group(*lines)

    def _summary(self, counts: dict[str, int], running: list, queued: int, hidden: int = 0) -> Text:
        parts = [f"{len(running)} running" + (f" ({hidden} more running not shown)" if hidden else ""),
                 f"{queued} queued"]
        before = sum(1 for r in self.trials.values() if r.get("before"))
        ended = {s: counts.get(s, 0) for s in ENDED if counts.get(s, 0)}
        if ended:
            parts.append("done: " + ", ".join(f"{n} {s}" for s, n in ended.items())
                         + (f" ({before} from an earlier run)" if before else ""))
        return Text(" · ".join(parts), no_wrap=True, overflow="ellipsis")
