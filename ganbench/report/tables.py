"""Paper-style result tables (Markdown and LaTeX) from the final rows of a suite.

Rows are methods, columns are dataset x value key with an arrow for the better direction.
A cell is ``mean ± std`` over seeds (sample std, ddof=1; a single seed shows its value
alone), with three significant digits taken from the mean and the std printed to the same
decimals. The best mean of a column is bold (only when its direction is known and at
least two methods have a value).

Seeds that did not finish. A diverged, failed or still-running trial keeps the last finite
values it reported (see :func:`ganbench.report.collect.final_rows`). The mean is taken over
every seed that has a value for the key, and the cell says how many seeds of that method x
dataset did not finish, e.g. ``2.00 ± 1.41 (diverged 1/3)``. A cell without any value shows
only that annotation (``failed 3/3``), or ``—`` when there is nothing to report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ganbench.report.collect import FINISHED, value_keys

ARROWS = {"min": "↓", "max": "↑"}
#: order in which non-finished statuses are listed in an annotation
STATUS_ORDER = ("diverged", "failed", "running", "unknown")
EMPTY = "—"


# --------------------------------------------------------------------------- numbers
def _decimals(ref: float, digits: int = 3) -> int | None:
    """Decimals that give ``digits`` significant digits for ``ref``; None: use scientific."""
    ref = abs(ref)
    if ref == 0 or not math.isfinite(ref):
        return digits - 1
    if ref < 1e-3:
        return None
    return max(0, digits - 1 - math.floor(math.log10(ref)))


def format_mean_std(mean: float, std: float, n: int, digits: int = 3) -> str:
    """``"2.00 ± 1.41"`` for n >= 2 values, ``"2.00"`` for one, ``""`` for none."""
    if n == 0 or not math.isfinite(mean):
        return ""
    d = _decimals(mean if mean != 0 or n < 2 else std, digits)
    fmt = (lambda x: f"{x:.{digits - 1}e}") if d is None else (lambda x: f"{x:.{d}f}")
    if n < 2:
        return fmt(mean)
    return f"{fmt(mean)} ± {fmt(std)}"


# --------------------------------------------------------------------------- cells
@dataclass(frozen=True)
class Cell:
    """One table cell: the formatted number (may be empty), its annotation, bold or not."""

    value: str = ""
    note: str = ""
    bold: bool = False


@dataclass(frozen=True)
class Table:
    """The content of a table, independent of the output format."""

    methods: list[str]
    columns: list[tuple[str, str]]  # (dataset, value key)
    cells: dict[tuple[str, tuple[str, str]], Cell]
    directions: dict[str, str]


def _annotation(statuses: pd.Series) -> str:
    total = len(statuses)
    counts = statuses[statuses != FINISHED].value_counts()
    order = [s for s in STATUS_ORDER if s in counts] + sorted(s for s in counts.index if s not in STATUS_ORDER)
    return ", ".join(f"{s} {counts[s]}/{total}" for s in order)


def build_table(
    final_df: pd.DataFrame,
    directions: dict[str, str],
    keys: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
) -> Table:
    """Aggregate the final rows (one per trial) into a :class:`Table`.

    ``keys`` restricts and orders the value keys (default: all, in column order);
    ``methods`` orders the rows (default: order of first appearance; methods not named
    follow). A (dataset, key) column appears only when some trial has a value for it.
    """
    keys = [k for k in (keys if keys is not None else value_keys(final_df)) if k in final_df.columns]
    seen = list(dict.fromkeys(final_df["method"]))
    order = [m for m in (methods or []) if m in seen] + [m for m in seen if m not in (methods or [])]
    datasets = list(dict.fromkeys(final_df["dataset"]))
    grouped = final_df.groupby(["method", "dataset"], sort=False)
    notes = grouped["status"].apply(_annotation)
    stats = grouped[keys].agg(["mean", "std", "count"]) if keys else None

    columns = [(ds, k) for ds in datasets for k in keys if final_df.loc[final_df["dataset"] == ds, k].notna().any()]
    cells: dict[tuple[str, tuple[str, str]], Cell] = {}
    for ds, key in columns:
        texts: dict[str, str] = {}
        means: dict[str, float] = {}
        for method in order:
            if (method, ds) not in notes.index:
                continue
            mean, std, n = stats.loc[(method, ds), key]
            texts[method] = format_mean_std(float(mean), float(std), int(n))
            if texts[method]:
                means[method] = float(mean)
        best = _best(means, directions.get(key))
        for method, text in texts.items():
            bold = best is not None and text != "" and text.split(" ± ")[0] == texts[best].split(" ± ")[0]
            cells[(method, (ds, key))] = Cell(text, notes[(method, ds)], bold)
    return Table(order, columns, cells, dict(directions))


def _best(means: dict[str, float], direction: str | None) -> str | None:
    if direction not in ARROWS or len(means) < 2:
        return None
    pick = min if direction == "min" else max
    return pick(means, key=means.get)


# --------------------------------------------------------------------------- caption
def _describe_protocol(proto: dict) -> str:
    parts = []
    if "n_gen" in proto:
        parts.append(f"{proto['n_gen']} generated")
    if "n_ref" in proto:
        parts.append(f"{proto['n_ref']} reference")
    if "split" in proto:
        parts.append(f"{proto['split']} split")
    if "extractor" in proto:
        parts.append(f"extractor {proto['extractor']}")
    for key in CAPTION_EXTRAS:
        if key in proto:
            value = str(proto[key])
            parts.append(f"{key}={value[:12] if key.endswith('sha1') else value}")
    return ", ".join(parts)


#: protocol fields, besides n/split/extractor, that define how a number was computed; the
#: per-evaluation diagnostics (class counts, seeds of the noise draw...) stay out of captions
CAPTION_EXTRAS = ("resize", "weights_sha1", "std_threshold", "threshold", "splits", "subsets",
                  "subset_size", "min_count", "k_precision_recall", "k_density_coverage")


def _span(values: list[int]) -> str:
    values = sorted(set(values))
    if not values:
        return "?"
    return str(values[0]) if len(values) == 1 else f"{values[0]}–{values[-1]}"


def caption_for(final_df: pd.DataFrame) -> str:
    """A caption stating the aggregation and the protocol of every metric.

    Per metric it lists n generated, n reference, reference split, extractor (and any
    other protocol field); when datasets use different protocols each is listed with its
    datasets, and a protocol that differs between trials of one dataset is flagged.
    """
    if final_df.empty:
        return "No trials."
    seeds = final_df.groupby(["method", "dataset"])["seed"].nunique().tolist()
    iters = [int(i) for i in final_df["iterations"].dropna()]
    by_metric: dict[str, dict[str, list[str]]] = {}
    for ds, text in zip(final_df["dataset"], final_df["protocol"]):
        try:
            protocol = json.loads(text) if isinstance(text, str) else {}
        except ValueError:
            protocol = {}
        for metric, proto in (protocol or {}).items():
            desc = _describe_protocol(proto) if isinstance(proto, dict) else str(proto)
            datasets = by_metric.setdefault(metric, {}).setdefault(desc, [])
            if ds not in datasets:
                datasets.append(ds)
    described = []
    for metric, descs in by_metric.items():
        if len(descs) == 1:
            described.append(f"{metric}: {next(iter(descs))}")
            continue
        text = "; ".join(f"{d} ({', '.join(dss)})" for d, dss in descs.items())
        all_ds = [ds for dss in descs.values() for ds in dss]
        if len(all_ds) != len(set(all_ds)):
            text += " [protocol differs between trials of one dataset]"
        described.append(f"{metric}: {text}")
    caption = (
        f"Mean ± std over {_span(seeds)} seeds (sample std, ddof=1) after {_span(iters)} iterations; "
        "bold: best mean per column (↓ lower is better, ↑ higher is better). "
        "A note such as diverged k/n or failed k/n says that k of n seeds did not finish; "
        "the mean then uses the last finite values of all seeds that have one."
    )
    if described:
        caption += " Protocol: " + "; ".join(described) + "."
    return caption


# --------------------------------------------------------------------------- Markdown
def _header(key: str, directions: dict[str, str]) -> str:
    arrow = ARROWS.get(directions.get(key, ""), "")
    return f"{key} {arrow}" if arrow else key


def _md_cell(cell: Cell | None) -> str:
    if cell is None or (not cell.value and not cell.note):
        return EMPTY
    value = f"**{cell.value}**" if cell.bold and cell.value else cell.value
    if not value:
        return cell.note
    return f"{value} ({cell.note})" if cell.note else value


def render_markdown(
    final_df: pd.DataFrame,
    directions: dict[str, str],
    caption: str,
    keys: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
) -> str:
    """The table as GitHub Markdown, preceded by the caption on its own line."""
    table = build_table(final_df, directions, keys, methods)
    header = ["Method"] + [f"{ds}: {_header(k, directions)}" for ds, k in table.columns]
    rows = [[m] + [_md_cell(table.cells.get((m, col))) for col in table.columns] for m in table.methods]
    rows = [[c.replace("|", "\\|") for c in row] for row in rows]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    rule = ["-" * widths[0]] + ["-" * (w - 1) + ":" for w in widths[1:]]

    def line(cells: list[str]) -> str:
        padded = [cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return "| " + " | ".join(padded) + " |"

    lines = [f"**Table.** {caption}", "", line(header), line(rule)] + [line(r) for r in rows]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- LaTeX
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "↓": r"$\downarrow$",
    "↑": r"$\uparrow$",
    "—": "---",
    "–": "--",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters and map ±, ↓, ↑ and dashes to LaTeX."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def _tex_cell(cell: Cell | None) -> str:
    if cell is None or (not cell.value and not cell.note):
        return "---"
    value = latex_escape(cell.value)
    if cell.bold and value:
        value = rf"\textbf{{{value}}}"
    note = latex_escape(cell.note)
    if not value:
        return note
    return rf"{value} {{\scriptsize ({note})}}" if note else value


def render_latex(
    final_df: pd.DataFrame,
    directions: dict[str, str],
    caption: str,
    keys: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    label: str | None = None,
) -> str:
    """The table as a LaTeX ``table`` with a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``)."""
    table = build_table(final_df, directions, keys, methods)
    datasets = list(dict.fromkeys(ds for ds, _ in table.columns))
    spans = [(ds, sum(1 for d, _ in table.columns if d == ds)) for ds in datasets]
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{latex_escape(caption)}}}",
    ]
    if label:
        lines.append(rf"\label{{{label}}}")
    lines += [rf"\begin{{tabular}}{{l{'r' * len(table.columns)}}}", r"\toprule"]
    if table.columns:
        groups = [rf"\multicolumn{{{n}}}{{c}}{{{latex_escape(ds)}}}" for ds, n in spans]
        lines.append(" & " + " & ".join(groups) + r" \\")
        rules, start = [], 2
        for _, n in spans:
            rules.append(rf"\cmidrule(lr){{{start}-{start + n - 1}}}")
            start += n
        lines.append("".join(rules))
    header = ["Method"] + [latex_escape(_header(k, directions)) for _, k in table.columns]
    lines += [" & ".join(header) + r" \\", r"\midrule"]
    for m in table.methods:
        cells = [latex_escape(m)] + [_tex_cell(table.cells.get((m, col))) for col in table.columns]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- notes
def render_unfinished_markdown(final_df: pd.DataFrame) -> str:
    """A Markdown list of the trials that did not finish, with their error; "" if none."""
    rows = final_df[final_df["status"] != FINISHED]
    if rows.empty:
        return ""
    lines = ["Trials that did not finish:", ""]
    for row in rows.itertuples():
        step = "no eval" if pd.isna(row.step) else f"last eval at step {row.step}"
        error = f": {row.error}" if isinstance(row.error, str) and row.error else ""
        lines.append(f"- {row.method} / {row.dataset} / seed {row.seed} ({row.trial_id}): {row.status}, {step}{error}")
    return "\n".join(lines) + "\n"
