"""Progress of a suite run shown with rich: one line per trial, updated as results arrive."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table


class RichProgress:
    """A callable ``progress(event, info)`` that renders a live table of trials."""

    def __init__(self, console: Console):
        self.console = console
        self.rows: dict[str, dict[str, Any]] = {}
        self.stage = ""
        self.started = False
        self.live = Live(self._render(), console=console, refresh_per_second=1, transient=False)

    def __enter__(self):
        # the live table starts with the first event: an error before any (a bad suite)
        # stays a single line on stderr
        self.started = False
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self.started:
            return None
        from ganbench.errors import GanbenchError

        if exc_type is not None and issubclass(exc_type, GanbenchError):
            self.live.transient = True  # the user's mistake is shown as one line, alone
        self.live.update(self._render())
        return self.live.__exit__(exc_type, exc, tb)

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if not self.started:
            self.live.__enter__()
            self.started = True
        if event == "prepare":
            self.stage = f"preparing {info['what']}"
        else:
            self.stage = "training"
            label = info.get("label", "?")
            row = self.rows.setdefault(label, {"state": "queued"})
            if event == "start":
                row["state"] = "running"
            elif event == "result":
                row["state"] = "running"
                row["step"] = info.get("step", row.get("step"))
                row["values"] = {k: v for k, v in info.items()
                                 if k not in ("step", "label", "elapsed_s", "time_this_iter_s", "time_total_s",
                                              "timestamp", "training_iteration", "pid", "time_since_restore",
                                              "iterations_since_restore", "done")
                                 and isinstance(v, float)}
            elif event == "done":
                row["state"] = info.get("status", "done")
        self.live.update(self._render())

    def _render(self) -> Table:
        table = Table(title=self.stage or "ganbench", show_header=True, expand=False)
        table.add_column("trial")
        table.add_column("state")
        table.add_column("step", justify="right")
        table.add_column("last metrics")
        for label, row in self.rows.items():
            vals = ", ".join(f"{k}={v:.3g}" for k, v in list(row.get("values", {}).items())[:4])
            table.add_row(label, row["state"], str(row.get("step", "")), vals)
        return table
