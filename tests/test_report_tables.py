"""Unit tests of the table formatting rules and of edge cases of the report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ganbench.report.build import build_report
from ganbench.report.collect import collect
from ganbench.report.plots import plot_curves
from ganbench.report.tables import caption_for, format_mean_std, latex_escape, render_latex, render_markdown


@pytest.mark.parametrize(
    ("mean", "std", "n", "text"),
    [
        (2.0, 2**0.5, 2, "2.00 ± 1.41"),
        (2.0, float("nan"), 1, "2.00"),
        (123.456, 5.2, 3, "123 ± 5"),
        (12.345, 0.26, 3, "12.3 ± 0.3"),
        (0.0123, 0.001, 2, "0.0123 ± 0.0010"),
        (5e-5, 1e-5, 2, "5.00e-05 ± 1.00e-05"),
        (0.0, 0.0, 2, "0.00 ± 0.00"),
        (float("nan"), float("nan"), 0, ""),
    ],
)
def test_format_mean_std(mean, std, n, text):
    assert format_mean_std(mean, std, n) == text


def final(rows):
    """A final-rows frame from ``(method, dataset, seed, status, {key: value})`` tuples."""
    records = [
        {"trial_id": f"{m}{d}{s}", "method": m, "dataset": d, "seed": s, "iterations": 10, "step": 10,
         "elapsed_s": 1.0, "status": st, "error": None, **vals, "protocol": "{}"}
        for m, d, s, st, vals in rows
    ]
    return pd.DataFrame(records)


def cells(md):
    body = [line for line in md.splitlines() if line.startswith("|")][2:]
    return {r.strip("|").split(" | ")[0].strip(): [c.strip() for c in r.strip("|").split(" | ")[1:]] for r in body}


def test_bold_follows_direction_and_ties():
    df = final([
        ("a", "d", 0, "finished", {"x": 1.0, "y": 1.0, "z": 1.0}),
        ("b", "d", 0, "finished", {"x": 2.0, "y": 1.0, "z": 2.0}),
    ])
    got = cells(render_markdown(df, {"x": "max", "y": "min"}, "c"))
    assert got == {"a": ["1.00", "**1.00**", "1.00"], "b": ["**2.00**", "**1.00**", "2.00"]}


def test_single_method_not_bold_and_all_failed_cell():
    df = final([
        ("a", "d", 0, "finished", {"x": 1.0}),
        ("b", "d", 0, "failed", {"x": np.nan}),
        ("b", "d", 1, "diverged", {"x": np.nan}),
    ])
    got = cells(render_markdown(df, {"x": "min"}, "c"))
    assert got == {"a": ["1.00"], "b": ["diverged 1/2, failed 1/2"]}


def test_method_order_and_missing_cell():
    df = final([
        ("a", "d1", 0, "finished", {"x": 1.0}),
        ("b", "d2", 0, "finished", {"x": 2.0}),
    ])
    md = render_markdown(df, {"x": "min"}, "c", methods=["b", "a"])
    assert list(cells(md)) == ["b", "a"]
    assert cells(md)["b"] == ["—", "2.00"]
    assert "---" in render_latex(df, {}, "c")


def test_latex_escape():
    assert latex_escape("a_b & 50% #1 {x} ± ↓") == r"a\_b \& 50\% \#1 \{x\} $\pm$ $\downarrow$"


def test_caption_flags_protocol_mismatch():
    df = final([("a", "d", 0, "finished", {"x": 1.0}), ("b", "d", 0, "finished", {"x": 2.0})])
    df["protocol"] = [json.dumps({"m": {"n_gen": 100}}), json.dumps({"m": {"n_gen": 50}})]
    caption = caption_for(df)
    assert "1 seeds" in caption and "10 iterations" in caption
    assert "m: 100 generated (d); 50 generated (d) [protocol differs" in caption


def test_empty_suite_and_missing_status(tmp_path):
    suite = tmp_path / "empty"
    (suite / "trials").mkdir(parents=True)
    paths = build_report(suite, {})
    assert set(paths) == {"results.csv", "tables.md", "tables.tex"}
    assert "No trials." in (suite / "tables.md").read_text()

    tdir = suite / "trials" / "t1"
    tdir.mkdir()
    (tdir / "spec.json").write_text(json.dumps({"trial_id": "t1", "method": "gan", "dataset": "d", "seed": 0}))
    (tdir / "evals.jsonl").write_text('{"step": 5, "elapsed_s": 1, "values": {"x": "oops"}, "protocol": {}}\n')
    df = collect(suite)
    assert df["status"].tolist() == ["unknown"] and np.isnan(df["x"].item())
    assert plot_curves(df, {}, tmp_path / "plots") == []  # nothing numeric to draw
    paths = build_report(suite, {"x": "min"})
    assert "unknown" in (suite / "tables.md").read_text()
