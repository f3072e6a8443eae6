"""Paper-ready tables and figures: significance marks, one number format per column, the
few-seeds notes, display names, and the figures' robust limits."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from ganbench.report.names import key_display, method_display
from ganbench.report.plots import robust_limits, sample_limits
from ganbench.report.significance import compare_to_best, welch_p
from ganbench.report.tables import build_table, column_format, render_latex, render_markdown


def final(rows):
    """A final-rows frame from ``(method, dataset, seed, {key: value})`` tuples."""
    return pd.DataFrame([
        {"trial_id": f"{m}-{d}-{s}", "method": m, "dataset": d, "seed": s, "iterations": 10, "step": 10,
         "elapsed_s": 1.0, "status": "finished", "error": None, **vals, "protocol": "{}"}
        for m, d, s, vals in rows
    ])


def cells(md):
    body = [line for line in md.splitlines() if line.startswith("|")]
    split = [[c.strip() for c in line.strip("|").split(" | ")] for line in body]
    return {row[0]: row[1:] for row in split[2:]}


def assert_valid_latex_rows(tex: str) -> None:
    """Every row of the tabular closes its math mode and its braces (no LaTeX on this machine to
    compile it)."""
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0]
    for row in body.strip().splitlines():
        assert row.endswith(r"\\") and row.replace(r"\$", "").count("$") % 2 == 0, row
        depth = 0
        for ch in row.replace(r"\{", "").replace(r"\}", ""):
            depth += {"{": 1, "}": -1}.get(ch, 0)
            assert depth >= 0, row
        assert depth == 0, row


def t4_two_sided_p(t: float) -> float:
    """Two-sided p of Student's t with 4 degrees of freedom, from its closed-form CDF
    F(t) = 1/2 + (3/8) · t/√(1 + t²/4) · (1 − t²/(12 (1 + t²/4)))."""
    x = t * t / 4
    cdf = 0.5 + 3 / 8 * (t / math.sqrt(1 + x)) * (1 - x / (3 * (1 + x)))
    return 2 * (1 - cdf)


# --------------------------------------------------------------------------- significance
# A = [9, 10, 11] (mean 10, sd 1); C = A + 0.5 (one distribution, shifted by half an sd);
# B = A + 11 (clearly separated). Welch: t = Δ / sqrt(1/3 + 1/3), and with equal variances and
# n = 3 the Welch–Satterthwaite df is (2/3)² / (2 (1/3)²/2) = 4.
A, C, B = [9.0, 10.0, 11.0], [9.5, 10.5, 11.5], [20.0, 21.0, 22.0]


def test_welch_p_against_the_closed_form():
    t = 0.5 / math.sqrt(2 / 3)  # 0.612
    assert welch_p(A, C) == pytest.approx(t4_two_sided_p(t), rel=1e-9)
    assert welch_p(A, C) == pytest.approx(0.5734, abs=1e-4)
    assert welch_p(A, B) == pytest.approx(t4_two_sided_p(11 / math.sqrt(2 / 3)), rel=1e-6)
    assert welch_p([1, 1, 1], [1, 1, 1]) == 1.0 and welch_p([1, 1, 1], [2, 2, 2]) == 0.0


def test_separated_seeds_are_marked_different_and_one_distribution_is_not():
    rows = [(m, "d", s, {"fcd": v}) for m, vs in (("a", A), ("b", B), ("c", C)) for s, v in enumerate(vs)]
    comparison = compare_to_best({m: [r[3]["fcd"] for r in rows if r[0] == m] for m in "abc"}, "min")
    assert comparison.best == "a" and comparison.tied == {"c"} and set(comparison.p_values) == {"b", "c"}
    md = render_markdown(final(rows), {"fcd": "min"}, "cap")
    got = cells(md)
    assert got["a"] == ["**10.0 ± 1.0**"]  # the best: bold, no mark
    assert got["c"] == ["10.5 ± 1.0†"]  # not distinguishable from the best
    assert got["b"] == ["21.0 ± 1.0"]  # different: no mark
    assert "Welch's two-sided t-test" in md and "α = 0.05" in md
    tex = render_latex(final(rows), {"fcd": "min"}, "cap")
    assert_valid_latex_rows(tex)
    assert r"$\mathbf{10.0 \pm 1.0}$" in tex and r"$10.5 \pm 1.0^{\dagger}$" in tex and r"$21.0 \pm 1.0$" in tex
    # a higher-is-better key: the best is the largest mean, and C stays tied with A
    assert compare_to_best({"a": A, "b": B, "c": C}, "max").tied == frozenset()
    assert compare_to_best({"a": A, "c": C}, "max").tied == {"a"}


def test_two_seeds_no_marks_and_the_caption_says_why():
    rows = [(m, "d", s, {"fcd": v}) for m, vs in (("a", A[:2]), ("c", C[:2]), ("b", B[:2])) for s, v in enumerate(vs)]
    md = render_markdown(final(rows), {"fcd": "min"}, "cap")
    assert "†" not in md.split("\n\n")[1]
    assert cells(md)["a"] == ["**9.5 ± 0.7**"]  # 21.0 has 3 digits at 1 decimal
    assert "No significance marks: fewer than 3 seeds" in md
    assert "Note: 2 seeds for every method; ± over fewer than 3 seeds is not a reliable spread." in md


def test_ties_at_the_printed_precision_are_bold_without_a_mark():
    rows = [(m, "d", s, {"x": v}) for m in ("a", "b") for s, v in enumerate([0.0, 0.0, 0.0])]
    assert cells(render_markdown(final(rows), {"x": "max"}, "cap")) == {"a": ["**0.00 ± 0.00**"],
                                                                         "b": ["**0.00 ± 0.00**"]}


def test_latex_escapes_text_mode_symbols():
    from ganbench.report.tables import latex_escape

    assert latex_escape("|Δ| < 3σ − 1 > 0") == r"$|$$\Delta$$|$ $<$ 3$\sigma$ $-$ 1 $>$ 0"


def test_one_seed_no_marks_and_the_caption_says_so():
    rows = [("a", "d", 0, {"fcd": 1.0}), ("b", "d", 0, {"fcd": 1.02})]
    md = render_markdown(final(rows), {"fcd": "min"}, "cap")
    assert cells(md) == {"a": ["**1.00**"], "b": ["1.02"]}
    assert "One seed per method: no spread and no significance test" in md
    assert "Note: 1 seed" in md


def test_mixed_seed_counts_test_only_where_both_sides_have_three():
    rows = [(m, "d", s, {"x": v}) for m, vs in (("a", A), ("c", C[:2])) for s, v in enumerate(vs)]
    table = build_table(final(rows), {"x": "min"})
    comparison = table.comparisons[("d", "x")]
    assert comparison.best == "a" and comparison.untested == {"c"} and not comparison.tied
    assert any("Note: 2 seeds for some method" in n for n in table.notes)


# --------------------------------------------------------------------------- number format
def test_one_number_format_per_column():
    # the column: KID-like 8.00e-04 ± 1.13e-03 above 0.0694 ± 0.0857
    rows = [("a", "d", 0, {"kid": 8e-4 - 8e-4}), ("a", "d", 1, {"kid": 1.6e-3}),
            ("b", "d", 0, {"kid": 0.0694 - 0.0606}), ("b", "d", 1, {"kid": 0.0694 + 0.0606})]
    got = cells(render_markdown(final(rows), {"kid": "min"}, "cap"))
    # decimals: three significant digits for the median mean (0.0351: 4), at least two for the
    # smallest (0.0008: 5), at most two more than the first -> 5
    assert got["a"] == ["**0.00080 ± 0.00113**"] and got["b"] == ["0.06940 ± 0.08570"]
    assert not any("e-" in c for row in got.values() for c in row)
    # a column whose largest mean is below 0.01 is scaled and its header says by what
    small = [("a", "d", 0, {"kid": 5e-5}), ("b", "d", 0, {"kid": 2e-5})]
    md = render_markdown(final(small), {"kid": "min"}, "cap")
    assert "d: KID ×10⁻⁶ ↓" in md
    assert cells(md) == {"a": ["50.0"], "b": ["**20.0**"]}
    assert r"KID $\times 10^{-6}$ $\downarrow$" in render_latex(final(small), {"kid": "min"}, "cap")
    # FID-like values: the median 131.5 takes 0 decimals, which also gives 12.3 two digits;
    # with a third method at 17.1 the median is 17.1: one decimal for all
    assert column_format([12.3, 250.7]).mean_std(12.3, 1.04, 3) == "12 ± 1"
    assert column_format([17.1, 20.3, 250.0]).mean_std(250.0, 12.5, 3) == "250.0 ± 12.5"
    assert column_format([0.0, 0.0]).mean_std(0.0, 0.0, 2) == "0.00 ± 0.00"
    assert column_format([-0.004, 0.5]).number(-0.00001) == "0.0000"  # never "-0.0000"


def test_markdown_and_latex_print_the_same_numbers():
    rows = [(m, d, s, {"fid": v * (1 + 0.1 * s), "kid": v / 1e4}) for m, v in (("wgan_gp", 17.1), ("gan", 250.0))
            for d in ("mnist",) for s in range(3)]
    md = render_markdown(final(rows), {"fid": "min", "kid": "min"}, "cap")
    tex = render_latex(final(rows), {"fid": "min", "kid": "min"}, "cap")
    numbers_md = re.findall(r"\d+\.?\d*", "".join(line for line in md.splitlines()[2:] if line.startswith("| WGAN")))
    numbers_tex = re.findall(r"\d+\.?\d*", next(line for line in tex.splitlines() if line.startswith("WGAN")))
    assert numbers_md == numbers_tex and numbers_md
    assert "| WGAN-GP " in md and "| GAN " in md


# --------------------------------------------------------------------------- names and notes
def test_display_names(monkeypatch):
    assert method_display("wgan_gp") == "WGAN-GP" and method_display("sngan") == "SN-GAN"
    assert method_display("my label") == "my label"  # a suite's own label is printed as written
    assert key_display("modes_covered", 8) == "Modes (/8)" and key_display("modes_covered", 25) == "Modes (/25)"
    assert key_display("stacked_modes_covered") == "Modes (/1000)" and key_display("g_loss") == "g_loss"
    # the class attributes win over the report's own table
    from ganbench.registry import METHODS, METRICS

    monkeypatch.setattr(METHODS.get("sngan"), "display_name", "SNGAN (Miyato)")
    monkeypatch.setattr(METRICS.get("fid"), "display", {"fid": "FID (clean)"})
    assert method_display("sngan") == "SNGAN (Miyato)" and key_display("fid") == "FID (clean)"


def test_precision_caveat_in_the_caption():
    rows = [(m, "mnist", 0, {"precision_mnist": 1.0, "recall_mnist": r}) for m, r in (("a", 0.1), ("b", 0.9))]
    md = render_markdown(final(rows), {"precision_mnist": "max", "recall_mnist": "max"}, "cap")
    assert "Precision reads 1.00 even for a fully collapsed generator" in md
    assert "Precision (MNIST clf.) ↑" in md and "Recall (MNIST clf.) ↑" in md


def test_caption_names_kid_subsets_modes_rule_and_fcd_layer():
    import json

    from ganbench.report.tables import caption_for

    df = final([("a", "d", 0, {"kid": 0.01, "fcd": 2.0, "modes_covered": 8.0})])
    df["protocol"] = json.dumps({
        "kid": {"n_gen": 1000, "kid_subsets": 100, "kid_subset_size": 1000, "kid_std_over_subsets": 0.001},
        "fcd": {"n_gen": 1000, "layer": "fc1 ReLU (128-d) / logits"},
        "modes": {"n_gen": 2500, "num_modes": 25, "std": 0.05, "hq_threshold": "< 3 std from the nearest centre"},
    })
    caption = caption_for(df)
    assert "kid: 1000 generated, 100 subsets of 1000" in caption and "kid_std" not in caption
    assert "fcd: 1000 generated, layer fc1 ReLU (128-d) / logits" in caption
    assert "25 modes, σ = 0.05" in caption and "< 3 std from the nearest centre" in caption
    assert "Modes (/25)" in render_markdown(df, {}, caption)


# --------------------------------------------------------------------------- figures
def test_robust_limits_clip_one_diverged_run():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(20, 2, 30), [5e4]])  # one diverged seed's FID
    lo, hi, clipped = robust_limits(values)
    assert clipped == 1 and hi < 40 and lo > 0
    assert robust_limits(np.arange(10.0))[2] == 0  # nothing unusual: nothing clipped
    # sample panels: the mode centres' box, whatever one run's points do
    centre = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    far = rng.normal(0, 54, (500, 2))
    lo, hi = sample_limits([rng.normal(0, 0.1, (500, 2)), far], centre)
    assert np.allclose(lo, [-3.5, -3.5]) and np.allclose(hi, [3.5, 3.5])  # ±(2 + 0.25·4 + 0.5)
    lo, hi = sample_limits([rng.normal(0, 1, (500, 2))] * 3 + [far], np.zeros((0, 2)))
    assert (hi < 5).all() and (lo > -5).all()  # the median panel's extent, not the diverged one's
