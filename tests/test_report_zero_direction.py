"""The third metric direction, "closest to zero is best" (C_T): best values, tables, tuning."""

from __future__ import annotations

import pandas as pd
import pytest

from ganbench.metrics.base import ZERO, best_of, goodness
from ganbench.report.significance import compare_to_best
from ganbench.report.tables import render_latex, render_markdown
from tests.test_report_tables import cells, final
from tests.test_tune_space import BASE


def test_best_of_each_direction():
    values = {"a": -3.0, "b": 0.2, "c": 2.0}
    assert (best_of(values, "min"), best_of(values, "max"), best_of(values, ZERO)) == ("a", "c", "b")
    assert goodness(-0.5, ZERO) == goodness(0.5, ZERO) == -0.5
    with pytest.raises(ValueError, match="unknown direction"):
        goodness(1.0, "up")


def test_ct_column_bolds_the_value_closest_to_zero_with_arrow_and_note():
    df = final([
        ("copier", "mnist", 0, "finished", {"ct": -3.0, "fcd": 1.0}),
        ("good", "mnist", 0, "finished", {"ct": 0.2, "fcd": 2.0}),
        ("blurry", "mnist", 0, "finished", {"ct": 2.0, "fcd": 3.0}),
    ])
    directions = {"ct": ZERO, "fcd": "min"}
    md = render_markdown(df, directions, "c")
    got = cells(md)
    # C_T: 0.2 (|0.2| smallest) is bold, not the largest (2.0) as "higher is better" made it
    assert [row[0] for row in got.values()] == ["-3.00", "**0.20**", "2.00"]
    assert [row[1] for row in got.values()] == ["**1.00**", "2.00", "3.00"]
    header = next(line for line in md.splitlines() if line.startswith("|"))
    assert "→0" in header and "↓" in header
    assert "→0: closest to 0 is best" in md
    tex = render_latex(df, directions, "c")
    assert r"$\rightarrow$0" in tex and r"\mathbf{0.20}" in tex
    # no closest-to-zero column: no such note
    assert "closest to 0" not in render_markdown(df, {"fcd": "min"}, "c", keys=["fcd"])


def test_opposite_signs_of_equal_magnitude_tie():
    df = final([
        ("a", "d", 0, "finished", {"ct": -0.5}),
        ("b", "d", 0, "finished", {"ct": 0.5}),
        ("c", "d", 0, "finished", {"ct": 1.5}),
    ])
    got = cells(render_markdown(df, {"ct": ZERO}, "c"))
    assert got == {"a": ["**-0.500**"], "b": ["**0.500**"], "c": ["1.500"]}


def test_significance_compares_with_the_mean_closest_to_zero():
    samples = {"copier": [-3.1, -3.0, -2.9], "good": [0.1, 0.2, 0.3], "scattered": [-0.6, 0.4, 1.1],
               "blurry": [1.9, 2.0, 2.1]}
    out = compare_to_best(samples, ZERO)
    assert out.best == "good"
    # scattered (mean 0.3, sd 0.85) cannot be told apart from good; copier and blurry can
    assert out.tied == frozenset({"scattered"})
    assert set(out.p_values) == {"copier", "scattered", "blurry"}


def test_tuned_table_and_best_config_follow_zero():
    from ganbench.tune.best_config import best_records
    from ganbench.tune.tuned_table import _cells, caption

    data = pd.DataFrame([
        {"row": "gan", "dataset": "mnist", "variant": v, "seed": 0, "trial_id": f"t{i}", "status": "finished",
         "iterations": 10, "protocol": "{}", "ct": ct}
        for i, (v, ct) in enumerate([("default", 2.0), ("tuned: tpe", -0.3), ("tuned: random", -1.0)])])
    columns = [("mnist", v) for v in ("default", "tuned: tpe", "tuned: random")]
    got = _cells(data, "ct", columns, ZERO)
    assert [got[("gan", c)].bold for c in columns] == [False, True, False]
    assert caption(data, "ct", ZERO, {"objective": {}}).startswith("ct (→0 closest to 0 is best)")

    records = pd.DataFrame({"row": "gan", "dataset": "mnist", "searcher": "tpe", "status": "finished",
                            "objective": [3.0, -0.4, 0.4, 1.0], "order": [0, 1, 2, 3]})
    assert best_records(records, ZERO)["objective"].tolist() == [-0.4]  # ties: the first proposed
    assert best_records(records, "max")["objective"].tolist() == [3.0]


def test_tuning_on_ct_is_a_one_line_error(tmp_path):
    from ganbench.suite import SuiteError, load_suite
    from tests.conftest import write_suite

    path = write_suite(tmp_path, BASE.replace("metric: modes_kl", "metric: ct"))
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    assert "tune.objective.metric: ct is best closest to 0" in str(err.value)
    assert "\n" not in str(err.value)
