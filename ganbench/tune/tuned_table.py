"""Tuned-versus-default table (Markdown and LaTeX) from a sweep suite's ``results.csv``.

After the search, the sweep re-runs, with every seed of the suite, the untouched defaults
of each method row (label ``"<row> (default)"``) and the best configuration each searcher
found (label ``"<row> (tuned: <searcher>)"``): the protocol of Lucic et al., "Are GANs
Created Equal? A Large-Scale Study", NeurIPS 2018, where the search uses one seed and a
validation reference and the reported numbers are fresh runs over all seeds. This table
reads those re-runs only (never the search trials) at their final evaluation step.

Layout: rows are the method rows; per dataset one column for ``default`` and one per
searcher (``tuned: tpe``...); one table per value key, the sweep's objective first. A cell is
``mean ± std`` over seeds with the annotation of seeds that did not finish, both from
:func:`ganbench.report.tables.build_table` (the suite tables' own formatting). Bold marks the
best mean among a row's variants on a dataset (when the key's direction is known).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pandas as pd

from ganbench.report.collect import value_keys
from ganbench.metrics.base import DIRECTION_TEXT, ZERO, best_of
from ganbench.report.tables import ARROWS, Cell, _printed_magnitude, _printed_mean, build_table, latex_escape
from ganbench.report.tables import _md_cell, _tex_cell  # the suite tables' own cell rendering

DEFAULT = "default"
_LABEL = re.compile(r"^(?P<row>.+) \((?P<variant>default|tuned: (?P<searcher>.+))\)$")


def split_label(label: str, rows: list[str]) -> tuple[str, str] | None:
    """``("gngan", "tuned: tpe")`` for the label ``"gngan (tuned: tpe)"`` of a known row."""
    match = _LABEL.match(str(label))
    if not match or match["row"] not in rows:
        return None
    return match["row"], match["variant"]


def tuned_rows(final: pd.DataFrame, rows: list[str]) -> pd.DataFrame:
    """The final rows of the default and tuned re-runs, with ``row`` and ``variant`` columns."""
    parsed = [split_label(m, rows) for m in final["method"]]
    keep = [p is not None for p in parsed]
    out = final[keep].copy()
    out["row"] = [p[0] for p in parsed if p is not None]
    out["variant"] = [p[1] for p in parsed if p is not None]
    return out


def _columns(data: pd.DataFrame, searchers: list[str]) -> list[tuple[str, str]]:
    variants = [DEFAULT] + [f"tuned: {s}" for s in searchers]
    variants += [v for v in dict.fromkeys(data["variant"]) if v not in variants]
    datasets = list(dict.fromkeys(data["dataset"]))
    present = set(zip(data["dataset"], data["variant"]))
    return [(ds, v) for ds in datasets for v in variants if (ds, v) in present]


def _cells(data: pd.DataFrame, key: str, columns: list[tuple[str, str]], direction: str | None
           ) -> dict[tuple[str, tuple[str, str]], Cell]:
    """Cells from the suite tables' ``build_table`` (one pseudo-dataset per dataset x variant),
    re-bolded per (row, dataset) across variants."""
    frame = data.assign(method=data["row"], dataset=data["dataset"] + "\x1f" + data["variant"])
    table = build_table(frame, {}, keys=[key])
    cells = {(row, tuple(col.split("\x1f", 1))): cell for (row, (col, _)), cell in table.cells.items()}
    if direction in ARROWS:
        means = data.groupby(["row", "dataset", "variant"])[key].mean().dropna()
        for (row, dataset), group in means.groupby(level=[0, 1]):
            if len(group) < 2:
                continue
            best = best_of(group.to_dict(), direction)
            printed = _printed_magnitude if direction == ZERO else _printed_mean
            best_text = printed(cells[(row, (dataset, best[2]))].value)
            for (_, _, variant) in group.index:  # ties at the printed precision are all bold
                cell = cells.get((row, (dataset, variant)))
                if cell is not None and cell.value and printed(cell.value) == best_text:
                    cells[(row, (dataset, variant))] = replace(cell, bold=True)
    return cells


def _splits(data: pd.DataFrame) -> list[str]:
    splits = []
    for text in data["protocol"]:
        try:
            protocol = json.loads(text) if isinstance(text, str) else {}
        except ValueError:
            continue
        for proto in (protocol or {}).values():
            if isinstance(proto, dict) and proto.get("split") and proto["split"] not in splits:
                splits.append(str(proto["split"]))
    return splits


def _span(values) -> str:
    values = sorted({int(v) for v in values if pd.notna(v)})
    if not values:
        return "?"
    return str(values[0]) if len(values) == 1 else f"{values[0]}–{values[-1]}"


def caption(data: pd.DataFrame, key: str, direction: str | None, sweep: dict,
            eval_reference: str | None = None) -> str:
    """What the table shows and how the tuned rows were obtained.

    The table's reference split is read from the metrics' protocol in ``results.csv``; a
    metric whose protocol names none (the 2D ``modes`` metric compares to the known mode
    centres) falls back to ``eval_reference`` (the suite's ``eval.reference``).
    """
    objective = sweep.get("objective") or {}
    budget = sweep.get("budget", "?")
    splits = _splits(data) or ([eval_reference] if eval_reference else [])
    arrow = f" ({ARROWS[direction]} {DIRECTION_TEXT[direction]})" if direction in DIRECTION_TEXT else ""
    seeds = data.groupby(["row", "dataset", "variant"])["seed"].nunique().tolist()
    return (
        f"{key}{arrow}: default against tuned hyperparameters. Mean ± std over {_span(seeds)} seeds "
        f"(sample std, ddof=1) at the final evaluation step ({_span(data['iterations'])} iterations). "
        f"'default': the method's default hyperparameters; 'tuned: S': re-runs with every seed of the suite "
        f"of the best of {budget} search trials by searcher S, selected on {objective.get('metric', '?')} "
        f"({objective.get('mode', '?')}) with one seed against the {objective.get('reference', '?')} split "
        f"as the validation reference (Lucic et al. 2018). "
        + (f"This table's metrics use the {' / '.join(splits)} split as reference. " if splits
           else "This table's metrics name no reference split. ")
        + "Bold: best of a method's variants per dataset; "
        "a note such as diverged k/n says that k of n seeds did not finish."
    )


def table_keys(data: pd.DataFrame, sweep: dict) -> list[str]:
    """Value keys that have a value in the re-runs, the objective metric first."""
    keys = [k for k in value_keys(data) if k not in ("row", "variant") and data[k].notna().any()]
    metric = (sweep.get("objective") or {}).get("metric")
    return ([metric] if metric in keys else []) + [k for k in keys if k != metric]


def render_markdown(final: pd.DataFrame, rows: list[str], searchers: list[str], sweep: dict,
                    directions: dict[str, str], eval_reference: str | None = None) -> str:
    """``tuned_vs_default.md``: one captioned table per value key."""
    data = tuned_rows(final, rows)
    if data.empty:
        return "No default or tuned re-runs in results.csv yet.\n"
    columns = _columns(data, searchers)
    order = [r for r in rows if r in set(data["row"])]
    blocks = []
    for key in table_keys(data, sweep):
        cells = _cells(data, key, columns, directions.get(key))
        header = ["Method"] + [f"{ds}: {v}" for ds, v in columns]
        body = [[r] + [_md_cell(cells.get((r, col))).replace("|", "\\|") for col in columns] for r in order]
        lines = [f"**Table.** {caption(data, key, directions.get(key), sweep, eval_reference)}", "",
                 "| " + " | ".join(header) + " |", "| --- |" + " ---: |" * len(columns)]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def render_latex(final: pd.DataFrame, rows: list[str], searchers: list[str], sweep: dict,
                 directions: dict[str, str], eval_reference: str | None = None) -> str:
    """``tuned_vs_default.tex``: one booktabs ``table`` per value key."""
    data = tuned_rows(final, rows)
    if data.empty:
        return "% No default or tuned re-runs in results.csv yet.\n"
    columns = _columns(data, searchers)
    datasets = list(dict.fromkeys(ds for ds, _ in columns))
    spans = [(ds, sum(1 for d, _ in columns if d == ds)) for ds in datasets]
    order = [r for r in rows if r in set(data["row"])]
    blocks = []
    for key in table_keys(data, sweep):
        cells = _cells(data, key, columns, directions.get(key))
        lines = [r"\begin{table}[t]", r"\centering",
                 rf"\caption{{{latex_escape(caption(data, key, directions.get(key), sweep, eval_reference))}}}",
                 rf"\begin{{tabular}}{{l{'r' * len(columns)}}}", r"\toprule",
                 " & " + " & ".join(rf"\multicolumn{{{n}}}{{c}}{{{latex_escape(ds)}}}" for ds, n in spans) + r" \\"]
        rules, start = [], 2
        for _, n in spans:
            rules.append(rf"\cmidrule(lr){{{start}-{start + n - 1}}}")
            start += n
        lines.append("".join(rules))
        lines.append(" & ".join(["Method"] + [latex_escape(v) for _, v in columns]) + r" \\")
        lines.append(r"\midrule")
        for r in order:
            lines.append(" & ".join([latex_escape(r)] + [_tex_cell(cells.get((r, col))) for col in columns]) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)
