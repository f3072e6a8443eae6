"""Build a suite's whole report from its results folder alone.

``build_report(RESULTS/<suite>, directions)`` collects the trials, then writes into the
same folder ``results.csv`` (every trial x eval step), ``tables.md``, ``tables.tex`` and
``plots/*.png``. It needs nothing but the folder and the value directions, so
``ganbench report DIR`` can rebuild a report at any time, also while a suite still runs.
The suite's ``published:`` values come from the suite copy in the folder (``suite.json``)
unless given, and add a "Reproduction" section to both table files.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from ganbench.report.collect import collect, final_rows, value_keys, write_csv
from ganbench.report.plots import make_plots
from ganbench.report.published import PublishedValue, as_lookup, published_from_folder
from ganbench.report.tables import (
    caption_for,
    render_latex,
    render_markdown,
    render_reproduction_latex,
    render_reproduction_markdown,
    render_unfinished_markdown,
)
from ganbench.report.time_to import render_time_to_markdown, time_to_frame


def _write_text(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def method_progress_keys(df) -> dict[str, str]:
    """Value keys that are a method's own progress signals (protocol ``source: method``, e.g.
    BEGAN's ``began_m``; see :func:`ganbench.train.merge_progress`) -> their direction ("" if none)."""
    keys: dict[str, str] = {}
    for text in df["protocol"].dropna().unique() if "protocol" in df else []:
        try:
            protocol = json.loads(text)
        except ValueError:
            continue
        for key, entry in (protocol if isinstance(protocol, dict) else {}).items():
            if isinstance(entry, dict) and entry.get("source") == "method":
                keys[key] = str(entry.get("direction") or "")
    return keys


def _without_entries(final, keys):
    """``final`` with the protocol entries named in ``keys`` dropped (for the table caption)."""
    if not keys:
        return final

    def drop(text):
        try:
            protocol = json.loads(text)
        except (TypeError, ValueError):
            return text
        if not isinstance(protocol, dict):
            return text
        return json.dumps({k: v for k, v in protocol.items() if k not in keys}, sort_keys=True)

    final = final.copy()
    final["protocol"] = final["protocol"].map(drop)
    return final


def build_report(
    suite_dir: str | os.PathLike,
    directions: dict[str, str],
    centres: dict[str, Sequence[Sequence[float]]] | None = None,
    headline: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    trial_ids: Sequence[str] | None = None,
    time_to: Sequence[dict] | None = None,
    note: str | None = None,
    published: Sequence[PublishedValue | dict] | None = None,
) -> dict[str, Path]:
    """Write the report of ``suite_dir`` and return ``{path relative to suite_dir: path}``.

    ``directions`` maps value keys to ``"min"``/``"max"``; ``centres`` maps 2D datasets to
    their mode centres for the sample scatters; ``headline`` names the value keys (in
    order) shown in the tables (default: all but the methods' own progress signals, such as
    BEGAN's ``began_m``, which are not comparable across methods; results.csv and plots always
    have all, a progress signal's direction coming from its protocol entry);
    ``methods`` orders the table rows (default: alphabetical, as collected); ``trial_ids``
    restricts the report to one suite run's grid (default: every trial in the folder);
    ``time_to`` lists thresholds (``{metric, below|above}``) whose first crossings go to
    ``time_to.csv`` and a "Time to threshold" section of ``tables.md``; ``note`` is appended
    to the table caption (a sweep's re-run protocol); ``published`` lists the suite's published
    values (default: the ``published`` block of ``suite_dir/suite.json``).
    """
    suite_dir = Path(suite_dir)
    df = collect(suite_dir, trial_ids)
    final = final_rows(df)
    progress = method_progress_keys(df)
    directions = {**{k: d for k, d in progress.items() if d in ("min", "max")}, **directions}
    if headline is None and progress:
        headline = [k for k in value_keys(final) if k not in progress]
    caption = caption_for(_without_entries(final, progress))
    if note:
        caption += " " + note
    label = "tab:" + re.sub(r"[^A-Za-z0-9:-]+", "-", suite_dir.name)
    entries = list(as_lookup(published_from_folder(suite_dir) if published is None else published).values())
    lookup = {e.key: e for e in entries}
    markdown = render_markdown(final, directions, caption, keys=headline, methods=methods, published=lookup)
    unfinished = render_unfinished_markdown(final)
    if unfinished:
        markdown += "\n" + unfinished
    crossings = render_time_to_markdown(df, time_to or [], methods)
    if crossings:
        markdown += "\n" + crossings
    latex = render_latex(final, directions, caption, headline, methods, label, published=lookup)
    if entries:
        markdown += "\n" + render_reproduction_markdown(final, entries)
        latex += "\n" + render_reproduction_latex(final, entries, label + "-reproduction")
    paths = [
        write_csv(df, suite_dir / "results.csv"),
        _write_text(suite_dir / "tables.md", markdown),
        _write_text(suite_dir / "tables.tex", latex),
    ]
    if time_to:
        paths.append(write_csv(time_to_frame(df, time_to), suite_dir / "time_to.csv"))
    paths += make_plots(df, suite_dir, suite_dir / "plots", directions, centres, methods=methods)
    return {p.relative_to(suite_dir).as_posix(): p for p in paths}
