"""Paper-style result tables from the final rows of a suite: one model, two renderers.

:func:`build_table` aggregates the final rows (one per trial) into a :class:`Table`: rows are
methods, columns are dataset x value key; :func:`render_markdown` and :func:`render_latex`
only print that model (the LaTeX through pandas' ``Styler.to_latex``).

Cells. ``mean ± std`` over seeds (sample std, ddof=1; a single seed shows its value alone).
One number format per column (:func:`column_format`), decided from the column's values: the
decimals give the median mean three significant digits and the smallest at least two (at
most two decimals more); a column whose largest mean is below 0.01 is printed scaled by 10^k
(k a multiple of 3) and its header says ``×10^-k`` so no column mixes ``8.00e-04`` with
``0.0694``. LaTeX numbers are set in math mode (``$17.1 \\pm 0.9$``).

Best and significance. The best mean of a column is bold (when its direction is known and at
least two methods have a value; ties at the printed precision are all bold). Directions are
lower (↓), higher (↑) or closest to zero (→0, a signed statistic such as C_T: the mean of
smallest magnitude is bold, and −0.20 ties with 0.20). Every other method
is compared with the best by Welch's t-test over seeds when both have >= 3
(:mod:`ganbench.report.significance`); those not distinguishable at α = 0.05 carry a dagger
(†). With fewer seeds no marks are made, and the caption says which test ran and why not.

Published values (:mod:`ganbench.report.published`) follow the measured number in the same
format: ``17.1 ± 0.9 (pub. 17.3 ± 0.8)``; :func:`render_reproduction_markdown` and
:func:`render_reproduction_latex` tabulate measured against published with their verdicts.

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
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ganbench.metrics.base import ARROWS as BASE_ARROWS
from ganbench.metrics.base import DIRECTION_TEXT, ZERO
from ganbench.report.collect import FINISHED, value_keys
from ganbench.report.names import dataset_display, key_display, method_display
from ganbench.report.significance import ALPHA, MIN_SEEDS, TEST_NAME, Comparison, compare_to_best

ARROWS = BASE_ARROWS
#: order in which non-finished statuses are listed in an annotation
STATUS_ORDER = ("diverged", "failed", "running", "unknown")
EMPTY = "—"
#: the mark of a method not distinguishable from its column's best
TIED_MARK = "†"
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


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
    """One cell formatted on its own: ``"2.00 ± 1.41"`` for n >= 2 values, ``"2.00"`` for one,
    ``""`` for none (the time-to-threshold table; the result tables use :func:`column_format`)."""
    if n == 0 or not math.isfinite(mean):
        return ""
    d = _decimals(mean if mean != 0 or n < 2 else std, digits)
    fmt = (lambda x: f"{x:.{digits - 1}e}") if d is None else (lambda x: f"{x:.{d}f}")
    if n < 2:
        return fmt(mean)
    return f"{fmt(mean)} ± {fmt(std)}"


@dataclass(frozen=True)
class NumberFormat:
    """How every number of one column is printed: ``decimals`` after scaling by 10^``exponent``."""

    decimals: int = 2
    exponent: int = 0

    def number(self, x: float) -> str:
        text = f"{x * 10.0 ** self.exponent:.{self.decimals}f}"
        return text if text.strip("-0.") else text.lstrip("-")  # no "-0.00"

    def mean_std(self, mean: float, std: float, n: int) -> str:
        """``"17.1 ± 0.9"`` (n >= 2), ``"17.1"`` (n = 1, or no finite std), ``""`` (none)."""
        if n == 0 or not math.isfinite(mean):
            return ""
        if n < 2 or std is None or not math.isfinite(std):
            return self.number(mean)
        return f"{self.number(mean)} ± {self.number(std)}"

    @property
    def scale(self) -> str:
        """The header's note, e.g. ``"×10⁻³"`` (values shown are the key times 10³), or ``""``."""
        return f"×10{str(-self.exponent).translate(_SUPERSCRIPT)}" if self.exponent else ""

    @property
    def scale_latex(self) -> str:
        return rf"$\times 10^{{{-self.exponent}}}$" if self.exponent else ""


def _sig_decimals(ref: float, digits: int) -> int:
    return max(0, digits - 1 - math.floor(math.log10(ref)))


def column_format(means: Sequence[float], max_decimals: int = 8) -> NumberFormat:
    """The one format of a column whose cells have these means (see the module docstring)."""
    values = [abs(float(m)) for m in means if m is not None and math.isfinite(float(m)) and m != 0]
    if not values:
        return NumberFormat(2, 0)
    top = max(values)
    exponent = 0
    if top < 1e-2:
        exponent = 3
        while top * 10.0 ** exponent < 0.1 and exponent < 30:
            exponent += 3
    mid, low = float(np.median(values)) * 10.0 ** exponent, min(values) * 10.0 ** exponent
    base = _sig_decimals(mid, 3)
    decimals = min(max(base, _sig_decimals(low, 2)), base + 2, max_decimals)
    return NumberFormat(decimals, exponent)


# --------------------------------------------------------------------------- cells
@dataclass(frozen=True)
class Cell:
    """One table cell: the formatted number (may be empty), its annotation, bold or not,
    marked (not distinguishable from the best) or not, and the published value beside it."""

    value: str = ""
    note: str = ""
    bold: bool = False
    marked: bool = False
    published: str = ""


@dataclass(frozen=True)
class Table:
    """The content of a table, independent of the output format."""

    methods: list[str]
    columns: list[tuple[str, str]]  # (dataset, value key)
    cells: dict[tuple[str, tuple[str, str]], Cell]
    directions: dict[str, str]
    formats: dict[tuple[str, str], NumberFormat] = field(default_factory=dict)
    comparisons: dict[tuple[str, str], Comparison] = field(default_factory=dict)
    #: per column, the count a counted key is out of (``Modes (/8)``)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    #: seeds per method x dataset (all trials, finished or not)
    seeds: list[int] = field(default_factory=list)
    #: sentences the caption adds: significance, few seeds, published values, metric caveats
    notes: list[str] = field(default_factory=list)

    def header(self, column: tuple[str, str], latex: bool = False) -> str:
        """The printed name of a column's key with its scale and arrow (``KID ×10⁻³ ↓``)."""
        _, key = column
        fmt = self.formats.get(column, NumberFormat())
        text = key_display(key, self.counts.get(column))
        parts = [latex_escape(text) if latex else text]
        if fmt.exponent:
            parts.append(fmt.scale_latex if latex else fmt.scale)
        arrow = ARROWS.get(self.directions.get(key, ""), "")
        if arrow:
            parts.append(latex_escape(arrow) if latex else arrow)
        return " ".join(parts)


def _annotation(statuses: pd.Series) -> str:
    total = len(statuses)
    counts = statuses[statuses != FINISHED].value_counts()
    order = [s for s in STATUS_ORDER if s in counts] + sorted(s for s in counts.index if s not in STATUS_ORDER)
    return ", ".join(f"{s} {counts[s]}/{total}" for s in order)


def _counts(final_df: pd.DataFrame) -> dict[tuple[str, str], int]:
    """(dataset, value key) -> the count a counted key is out of, from the metrics' protocols."""
    out: dict[tuple[str, str], int] = {}
    for ds, text in zip(final_df["dataset"], final_df["protocol"]):
        try:
            protocol = json.loads(text) if isinstance(text, str) else {}
        except ValueError:
            continue
        for metric, proto in (protocol or {}).items():
            if not isinstance(proto, dict):
                continue
            if isinstance(proto.get("num_modes"), int):
                out[(ds, f"{metric}_covered")] = proto["num_modes"]
            if isinstance(proto.get("class_counts"), list):
                out[(ds, f"{metric}_covered")] = len(proto["class_counts"])
    return out


def build_table(
    final_df: pd.DataFrame,
    directions: dict[str, str],
    keys: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    published: dict[tuple[str, str, str], object] | None = None,
    significance: bool = True,
) -> Table:
    """Aggregate the final rows (one per trial) into a :class:`Table`.

    ``keys`` restricts and orders the value keys (default: all, in column order);
    ``methods`` orders the rows (default: order of first appearance; methods not named
    follow). A (dataset, key) column appears only when some trial has a value for it.
    ``published`` maps (row, dataset, key) to a :class:`~ganbench.report.published.PublishedValue`;
    ``significance`` compares every method with its column's best (module docstring).
    """
    keys = [k for k in (keys if keys is not None else value_keys(final_df)) if k in final_df.columns]
    seen = list(dict.fromkeys(final_df["method"]))
    order = [m for m in (methods or []) if m in seen] + [m for m in seen if m not in (methods or [])]
    datasets = list(dict.fromkeys(final_df["dataset"]))
    grouped = final_df.groupby(["method", "dataset"], sort=False)
    notes = grouped["status"].apply(_annotation) if len(final_df) else pd.Series(dtype=str)
    seeds = grouped["trial_id"].nunique().tolist() if len(final_df) else []
    published = published or {}

    columns = [(ds, k) for ds in datasets for k in keys if final_df.loc[final_df["dataset"] == ds, k].notna().any()]
    cells: dict[tuple[str, tuple[str, str]], Cell] = {}
    formats, comparisons = {}, {}
    for ds, key in columns:
        part = final_df[final_df["dataset"] == ds]
        samples = {m: part.loc[part["method"] == m, key].dropna().astype(float).tolist()
                   for m in order if (m, ds) in notes.index}
        stats = {m: (pd.Series(v).mean(), pd.Series(v).std(ddof=1), len(v)) for m, v in samples.items()}
        pubs = {m: published[(m, ds, key)] for m in samples if (m, ds, key) in published}
        fmt = column_format([s[0] for s in stats.values() if s[2]] + [p.value for p in pubs.values()])
        formats[(ds, key)] = fmt
        texts = {m: fmt.mean_std(*stats[m]) for m in samples}
        comparison = compare_to_best(samples, directions.get(key)) if significance else Comparison(None)
        comparisons[(ds, key)] = comparison
        printed = _printed_mean if directions.get(key) != ZERO else _printed_magnitude
        best_text = printed(texts.get(comparison.best, "")) if comparison.best else None
        for method, text in texts.items():
            bold = best_text is not None and text != "" and printed(text) == best_text
            pub = pubs.get(method)
            pub_text = fmt.mean_std(pub.value, pub.spread if pub.spread is not None else math.nan,
                                    2 if pub.spread is not None else 1) if pub is not None else ""
            # a tie at the printed precision is bold already: the dagger marks the others
            cells[(method, (ds, key))] = Cell(text, notes[(method, ds)], bold,
                                              marked=method in comparison.tied and not bold, published=pub_text)
    table = Table(order, columns, cells, dict(directions), formats, comparisons, _counts(final_df), seeds)
    table.notes.extend(_table_notes(table, significance, bool(published)))
    return table


def _printed_mean(text: str) -> str:
    return text.split(" ± ")[0]


def _printed_magnitude(text: str) -> str:
    """The printed mean without its sign (ties of a closest-to-zero column)."""
    return _printed_mean(text).lstrip("-−")


def _table_notes(table: Table, significance: bool, has_published: bool) -> list[str]:
    notes = []
    zero_keys = list(dict.fromkeys(key for _, key in table.columns if table.directions.get(key) == ZERO))
    if zero_keys:
        notes.append(
            f"{ARROWS[ZERO]}: {DIRECTION_TEXT[ZERO]} ({', '.join(key_display(k) for k in zero_keys)}: a signed "
            "statistic; for C_T negative = closer to the training data than held-out data, i.e. copying, "
            "positive = farther, i.e. underfitting); bold is the mean of smallest magnitude, and the "
            "significance test compares the values themselves, so a method as far on the other side of 0 "
            "counts as different.")
    tested = any(c.p_values for c in table.comparisons.values())
    ranked = any(c.best is not None for c in table.comparisons.values())
    few = sorted({n for n in table.seeds if n < MIN_SEEDS})
    if significance and ranked:
        if tested:
            notes.append(
                f"{TIED_MARK}: not distinguishable from the column's best at α = {ALPHA:g} by {TEST_NAME} "
                f"over seeds (unequal variances; scipy.stats.ttest_ind(equal_var=False)); unmarked values differ "
                f"from the best. The test needs ≥ {MIN_SEEDS} seeds on both sides; a cell with fewer is not tested.")
        elif max(table.seeds, default=0) <= 1:
            notes.append("One seed per method: no spread and no significance test; bold is the best single value.")
        else:
            notes.append(f"No significance marks: fewer than {MIN_SEEDS} seeds per method, too few for "
                         f"{TEST_NAME} (1–2 degrees of freedom, almost no power) or a bootstrap; bold is "
                         "the best mean only.")
    if few and max(table.seeds, default=0) > 1:
        notes.append(f"Note: {_span(few)} seed{'' if few == [1] else 's'} for "
                     f"{'some' if len(set(table.seeds)) > 1 else 'every'} method; "
                     f"± over fewer than {MIN_SEEDS} seeds is not a reliable spread.")
    elif few:
        notes.append(f"Note: 1 seed; fewer than {MIN_SEEDS} seeds give no spread.")
    if has_published:
        notes.append("(pub. v ± s): the published value and spread (see the Reproduction section).")
    if any(key.startswith("precision") for _, key in table.columns):
        notes.append("Precision reads 1.00 even for a fully collapsed generator whose samples sit inside "
                     "the real k-NN balls; read it beside recall and coverage.")
    return notes


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
    if "layer" in proto:
        parts.append(f"layer {proto['layer']}")
    if "num_modes" in proto:
        rule = proto.get("hq_threshold") or "?"
        std = f", σ = {proto['std']:g}" if isinstance(proto.get("std"), (int, float)) else ""
        parts.append(f"{proto['num_modes']} modes{std}; a mode is covered by ≥ 1 sample and a sample is "
                     f"high quality when {rule}")
    if "kid_subsets" in proto:
        parts.append(f"{proto['kid_subsets']} subsets of {proto.get('kid_subset_size', '?')}")
    for key in CAPTION_EXTRAS:
        if key in proto:
            value = str(proto[key])
            parts.append(f"{key}={value[:12] if key.endswith('sha1') else value}")
    return ", ".join(parts)


#: protocol fields, besides n/split/extractor/layer/modes/KID subsets, that define how a number
#: was computed; the per-evaluation diagnostics (class counts, seeds of the noise draw, spreads
#: over splits...) stay out of captions
CAPTION_EXTRAS = ("resize", "weights_sha1", "std_threshold", "threshold", "splits", "mode_rule",
                  "min_count", "k_precision_recall", "k_density_coverage")


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
    The table's own notes (significance, few seeds, published values) are added by the
    renderers from :attr:`Table.notes`.
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


def _full_caption(caption: str, table: Table) -> str:
    return " ".join([caption] + table.notes) if table.notes and caption != "No trials." else caption


# --------------------------------------------------------------------------- Markdown
def markdown_grid(header: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> str:
    """A GitHub Markdown table; ``align`` has one ``l`` or ``r`` per column (default: the first
    column left-aligned, the others right-aligned)."""
    rows = [[str(c).replace("|", "\\|") for c in row] for row in rows]
    header = [str(c).replace("|", "\\|") for c in header]
    align = align or "l" + "r" * (len(header) - 1)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    rule = ["-" * w if a == "l" else "-" * max(w - 1, 2) + ":" for w, a in zip(widths, align)]

    def line(cells: Sequence[str]) -> str:
        padded = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align)]
        return "| " + " | ".join(padded) + " |"

    return "\n".join([line(header), line(rule)] + [line(r) for r in rows]) + "\n"


def _md_cell(cell: Cell | None) -> str:
    if cell is None or (not cell.value and not cell.note):
        return EMPTY
    value = cell.value + (TIED_MARK if cell.marked and cell.value else "")
    value = f"**{value}**" if cell.bold and cell.value else value
    if value and cell.published:
        value += f" (pub. {cell.published})"
    if not value:
        return cell.note
    return f"{value} ({cell.note})" if cell.note else value


def render_markdown(
    final_df: pd.DataFrame,
    directions: dict[str, str],
    caption: str,
    keys: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    published: dict | None = None,
    significance: bool = True,
) -> str:
    """The table as GitHub Markdown, preceded by the caption (with the table's notes)."""
    table = build_table(final_df, directions, keys, methods, published, significance)
    header = ["Method"] + [f"{dataset_display(ds)}: {table.header((ds, k))}" for ds, k in table.columns]
    rows = [[method_display(m)] + [_md_cell(table.cells.get((m, col))) for col in table.columns]
            for m in table.methods]
    return f"**Table.** {_full_caption(caption, table)}\n\n" + markdown_grid(header, rows) + _legend(table)


def _legend(table: Table) -> str:
    """One line naming the results.csv key and row label behind each printed name that differs."""
    keys = {f"{key_display(k, table.counts.get((ds, k)))} = `{k}`" for ds, k in table.columns
            if key_display(k, table.counts.get((ds, k))) != k}
    rows = [f"{method_display(m)} = `{m}`" for m in table.methods if method_display(m) != m]
    if not keys and not rows:
        return ""
    parts = ([f"columns: {', '.join(sorted(keys))}"] if keys else []) + ([f"rows: {', '.join(rows)}"] if rows else [])
    return "\nNames in results.csv: " + "; ".join(parts) + ".\n"


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
    "→": r"$\rightarrow$",
    "—": "---",
    "–": "--",
    "†": r"\textdagger{}",
    "×": r"$\times$",
    "≤": r"$\leq$",
    "≥": r"$\geq$",
    "α": r"$\alpha$",
    "σ": r"$\sigma$",
    "Δ": r"$\Delta$",
    "√": r"$\surd$",
    "²": r"\textsuperscript{2}",
    "∞": r"$\infty$",
    "<": r"$<$",
    ">": r"$>$",
    "|": r"$|$",
    "−": r"$-$",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters and map ±, arrows, dashes and a few symbols to LaTeX."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def latex_number(text: str, bold: bool = False, marked: bool = False) -> str:
    """A formatted number (``"17.1 ± 0.9"``) in math mode: ``$17.1 \\pm 0.9$``, bold as
    ``\\mathbf``, the tie mark as a superscript dagger."""
    body = text.replace(" ± ", r" \pm ").replace("−", "-")
    if bold:
        body = rf"\mathbf{{{body}}}"
    if marked:
        body += r"^{\dagger}"
    return f"${body}$"


def _tex_cell(cell: Cell | None) -> str:
    if cell is None or (not cell.value and not cell.note):
        return "---"
    value = latex_number(cell.value, cell.bold, cell.marked) if cell.value else ""
    if value and cell.published:
        value += rf" {{\scriptsize (pub.\ {latex_number(cell.published)})}}"
    note = latex_escape(cell.note)
    if not value:
        return note
    return rf"{value} {{\scriptsize ({note})}}" if note else value


def latex_table(frame: pd.DataFrame, caption: str, label: str | None = None, align: str | None = None) -> str:
    """A booktabs LaTeX ``table`` of a frame of LaTeX cell strings, via ``Styler.to_latex``.

    Column labels may be two-level (group, name): groups of several columns get a
    ``\\multicolumn`` over them and a ``\\cmidrule`` under it. Needs ``\\usepackage{booktabs}``.
    """
    align = align or "l" + "r" * (frame.shape[1] - 1)
    tex = frame.style.hide(axis="index").to_latex(
        hrules=True, column_format=align, caption=caption, label=label, position="t",
        position_float="centering", multicol_align="c")
    if isinstance(frame.columns, pd.MultiIndex):
        spans, start = [], 1
        for _, group in _runs(list(frame.columns.get_level_values(0))):
            if group[0] and len(group) > 1:
                spans.append(rf"\cmidrule(lr){{{start}-{start + len(group) - 1}}}")
            start += len(group)
        lines = tex.splitlines()
        top = lines.index(r"\toprule")
        if spans:
            lines.insert(top + 2, "".join(spans))
        tex = "\n".join(lines) + "\n"
    return tex


def _runs(values: list[str]) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for v in values:
        if out and out[-1][0] == v:
            out[-1][1].append(v)
        else:
            out.append((v, [v]))
    return out


def render_latex(
    final_df: pd.DataFrame,
    directions: dict[str, str],
    caption: str,
    keys: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    label: str | None = None,
    published: dict | None = None,
    significance: bool = True,
) -> str:
    """The table as a LaTeX ``table`` with a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``)."""
    table = build_table(final_df, directions, keys, methods, published, significance)
    columns = pd.MultiIndex.from_tuples(
        [("", "Method")] + [(latex_escape(dataset_display(ds)), table.header((ds, k), latex=True))
                            for ds, k in table.columns])
    rows = [[latex_escape(method_display(m))] + [_tex_cell(table.cells.get((m, col))) for col in table.columns]
            for m in table.methods]
    frame = pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
    return latex_table(frame, latex_escape(_full_caption(caption, table)), label)


# --------------------------------------------------------------------------- reproduction
_REPRO_HEADER = ("Method", "Dataset", "Metric", "Measured", "Published", "Δ", "√(s_m²+s_p²)", "Verdict", "Source")
_REPRO_ALIGN = "lllrrrrll"


def _reproduction_cells(final_df: pd.DataFrame, entries: Sequence, latex: bool) -> list[list[str]]:
    from ganbench.report.published import reproduction_rows

    repro = reproduction_rows(final_df, entries)
    counts = _counts(final_df) if len(final_df) else {}
    # one number format per dataset × metric (the rows of one quantity read alike, as in the main table)
    values: dict[tuple[str, str], list[float]] = {}
    for row in repro.itertuples():
        values.setdefault((row.dataset, row.metric), []).extend([row.measured_mean, row.published])
    formats = {key: column_format(vals) for key, vals in values.items()}
    out = []
    for row in repro.itertuples():
        fmt = formats[(row.dataset, row.metric)]
        measured = fmt.mean_std(row.measured_mean, row.measured_std, row.seeds)
        published = fmt.mean_std(row.published, row.published_spread if pd.notna(row.published_spread) else math.nan,
                                 2 if pd.notna(row.published_spread) else 1)
        delta = fmt.number(row.delta) if math.isfinite(row.delta) else ""
        if delta and not delta.startswith("-"):
            delta = "+" + delta
        combined = fmt.number(row.combined_spread) if math.isfinite(row.combined_spread) and \
            row.verdict in ("within", "outside") else ""
        runs = f", {int(row.published_runs)} runs" if pd.notna(row.published_runs) else ""
        seeds = f" ({row.seeds} seed{'' if row.seeds == 1 else 's'})" if row.seeds else ""
        source = row.source + (f"; {row.note}" if row.note else "")
        key = key_display(row.metric, counts.get((row.dataset, row.metric))) + (f" {fmt.scale}" if fmt.exponent else "")
        if latex:
            cells = [latex_escape(method_display(row.method)), latex_escape(dataset_display(row.dataset)),
                     latex_escape(key), (latex_number(measured) if measured else "---") + latex_escape(seeds),
                     latex_number(published) + latex_escape(runs), latex_number(delta) if delta else "---",
                     latex_number(combined) if combined else "---", latex_escape(row.verdict), latex_escape(source)]
        else:
            cells = [method_display(row.method), dataset_display(row.dataset), key, (measured or EMPTY) + seeds,
                     published + runs, delta or EMPTY, combined or EMPTY, row.verdict, source]
        out.append(cells)
    return out


def _reproduction_caption() -> str:
    from ganbench.report.published import RULE_TEXT

    return ("Measured (mean ± std over the seeds that have a value, at the final evaluation) against published "
            f"values; Δ = measured − published; {RULE_TEXT}; outside otherwise; 'no spread' when neither side has "
            "one. Whatever the verdict, the protocols may differ: see each source's note.")


def render_reproduction_markdown(final_df: pd.DataFrame, entries: Sequence) -> str:
    """The "Reproduction" section of ``tables.md`` ("" without published values)."""
    if not entries:
        return ""
    rows = _reproduction_cells(final_df, entries, latex=False)
    return "## Reproduction\n\n" + f"**Table.** {_reproduction_caption()}\n\n" + markdown_grid(_REPRO_HEADER, rows, _REPRO_ALIGN)


def render_reproduction_latex(final_df: pd.DataFrame, entries: Sequence, label: str | None = None) -> str:
    """The reproduction table as a LaTeX ``table`` ("" without published values)."""
    if not entries:
        return ""
    rows = _reproduction_cells(final_df, entries, latex=True)
    frame = pd.DataFrame(rows, columns=[latex_escape(h) for h in _REPRO_HEADER])
    return latex_table(frame, latex_escape(_reproduction_caption()), label, _REPRO_ALIGN)


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
