"""The ``published:`` block of a suite: validation, the copy in the results folder, the cells
``v (pub. p)`` and the Reproduction section with its verdicts (worked out by hand below)."""

from __future__ import annotations

import json
import math

import pytest

from ganbench.report.build import build_report
from ganbench.report.published import PublishedValue, published_from_folder, verdict
from ganbench.suite import SuiteError, parse_suite
from tests.test_report_paper import assert_valid_latex_rows

BASE = {"name": "repro", "datasets": ["ring8"], "methods": ["gan", "wgan_gp"], "seeds": [0, 1, 2],
        "eval": {"metrics": ["modes"]}, "train": {"iterations": 10, "eval_every": 10}}
GOOD = [
    {"method": "gan", "dataset": "ring8", "metric": "modes_covered", "value": 6.3, "spread": 0.5, "runs": 10,
     "source": "Lin et al. 2018, PacGAN, Table 2", "note": "2,500 samples, 3 sigma"},
    {"method": "wgan_gp", "dataset": "ring8", "metric": "modes_covered", "value": 4.0, "spread": 0.2,
     "source": "made up for the test"},
    {"method": "gan", "dataset": "ring8", "metric": "modes_kl", "value": 0.5, "source": "made up, no spread"},
]


@pytest.mark.parametrize(("entry", "message"), [
    ({"value": "many"}, "suite.yaml: published[1].value: expected a number, got 'many'"),
    ({"value": float("inf")}, "suite.yaml: published[1].value: expected a finite number"),
    ({"spread": -0.5}, "suite.yaml: published[1].spread: expected greater than or equal to 0, got -0.5"),
    ({"runs": 0}, "suite.yaml: published[1].runs: expected greater than 0, got 0"),
    ({"source": None}, "suite.yaml: published[1].source: expected a string, got None"),
    ({"colour": "red"}, "suite.yaml: published[1].colour: unknown key"),
    ({"method": "wgan"}, "suite.yaml: published[1].method: 'wgan' is not a row of the suite (rows: gan, wgan_gp)"),
    ({"dataset": "grid25"}, "suite.yaml: published[1].dataset: 'grid25' is not a dataset of the suite"),
    ({"metric": "modes"}, "suite.yaml: published[1].metric: 'modes' is not a value of the suite's metrics "
                          "(values: modes_covered, modes_hq, modes_kl)"),
    ({"method": "gan"}, "suite.yaml: published[1]: gan/ring8/modes_covered is already given by published[0]"),
])
def test_malformed_entries_are_one_line_naming_file_and_key(entry, message):
    bad = [GOOD[0], {**GOOD[1], **entry}]
    with pytest.raises(SuiteError) as err:
        parse_suite({**BASE, "published": bad}, "suite.yaml")
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    missing = [GOOD[0], {k: v for k, v in GOOD[1].items() if k != "value"}]
    with pytest.raises(SuiteError, match=r"^suite.yaml: published\[1\].value: missing required key$"):
        parse_suite({**BASE, "published": missing}, "suite.yaml")
    with pytest.raises(SuiteError, match=r"^suite.yaml: published: expected a list"):
        parse_suite({**BASE, "published": GOOD[0]}, "suite.yaml")


def test_quick_profile_may_drop_a_published_row():
    suite = parse_suite({**BASE, "published": GOOD, "quick": {"methods": ["gan"]}}, "suite.yaml", quick=True)
    assert [m.row for m in suite.methods] == ["gan"] and len(suite.published) == 3


def write_folder(root, published=GOOD):
    """A results folder as a run leaves it: suite.json (the suite's model_dump) and three seeds
    of gan (modes_covered 6, 7, 8; modes_kl 0.1, 0.2, 0.3) and wgan_gp (8, 8, 8; 0.05 x 3)."""
    suite = parse_suite({**BASE, "published": published}, "suite.yaml")
    folder = root / "repro"
    values = {"gan": ([6, 7, 8], [0.1, 0.2, 0.3]), "wgan_gp": ([8, 8, 8], [0.05] * 3)}
    for method, (covered, kl) in values.items():
        for seed in range(3):
            tdir = folder / "trials" / f"{method}-{seed}"
            tdir.mkdir(parents=True)
            (tdir / "spec.json").write_text(json.dumps({"trial_id": tdir.name, "method": method, "dataset": "ring8",
                                                        "seed": seed, "iterations": 10}))
            (tdir / "evals.jsonl").write_text(json.dumps({
                "step": 10, "elapsed_s": 1.0, "values": {"modes_covered": covered[seed], "modes_kl": kl[seed]},
                "protocol": {"modes": {"n_gen": 2500, "num_modes": 8, "std": 0.01,
                                       "hq_threshold": "< 3 std from the nearest centre"}}}) + "\n")
            (tdir / "status.json").write_text(json.dumps({"status": "finished", "last_step": 10}))
    (folder / "suite.json").write_text(json.dumps({"name": "repro", "suite": suite.model_dump(),
                                                   "trials": None}, default=str))
    return folder


def test_published_values_rendered_from_the_results_folder_alone(tmp_path):
    folder = write_folder(tmp_path)
    assert published_from_folder(folder) == [PublishedValue.model_validate(e) for e in GOOD]
    build_report(folder, {"modes_covered": "max", "modes_kl": "min"})  # no published argument
    md = (folder / "tables.md").read_text()
    table = md.split("## Reproduction")[0]
    # modes_covered: one format for the column (means 7, 8 and published 6.3, 4.0: 2 decimals);
    # wgan_gp is best (8 ± 0); gan vs it: Welch t = 1/sqrt(1/3) = 1.732 with df = 2, and
    # F_2(t) = 1/2 + t / (2 sqrt(2 + t²)) = 0.887, so p = 0.225 >= 0.05: gan is marked.
    # modes_kl: gan vs wgan_gp's constant 0.05: t = 0.15/sqrt(0.01/3) = 2.598, df = 2, p = 0.121: marked
    assert "| GAN     |    7.00 ± 1.00† (pub. 6.30 ± 0.50) | 0.200 ± 0.100† (pub. 0.500) |" in table
    assert "| WGAN-GP | **8.00 ± 0.00** (pub. 4.00 ± 0.20) |           **0.050 ± 0.000** |" in table
    assert "(pub. v ± s): the published value and spread" in table
    repro = md.split("## Reproduction")[1]
    rows = {tuple(c.strip() for c in line.strip("|").split(" | ")[:3]): [c.strip() for c in line.strip("|").split(" | ")[3:]]
            for line in repro.splitlines() if line.startswith("| ") and "---" not in line}
    # gan modes_covered: Δ = 7 - 6.3 = +0.70; sqrt(1² + 0.5²) = 1.118 >= 0.70: within
    assert rows[("GAN", "Ring-8", "Modes (/8)")] == ["7.00 ± 1.00 (3 seeds)", "6.30 ± 0.50, 10 runs", "+0.70", "1.12",
                                                       "within", "Lin et al. 2018, PacGAN, Table 2; 2,500 samples, 3 sigma"]
    # wgan_gp: Δ = 8 - 4 = +4.00; sqrt(0² + 0.2²) = 0.20 < 4: outside
    assert rows[("WGAN-GP", "Ring-8", "Modes (/8)")][2:5] == ["+4.00", "0.20", "outside"]
    # gan modes_kl: Δ = 0.2 - 0.5 = -0.300; no published spread: sqrt(0.1² + 0) = 0.100 < 0.3: outside
    assert rows[("GAN", "Ring-8", "KL (modes)")][:5] == ["0.200 ± 0.100 (3 seeds)", "0.500", "-0.300", "0.100", "outside"]
    assert "|Δ| ≤ √(s_m² + s_p²)" in repro
    tex = (folder / "tables.tex").read_text()
    assert tex.count(r"\begin{table}") == 2 and r"\label{tab:repro-reproduction}" in tex
    assert r"$7.00 \pm 1.00^{\dagger}$ {\scriptsize (pub.\ $6.30 \pm 0.50$)}" in tex
    assert r"$+0.70$ & $1.12$ & within" in tex
    for table in tex.split(r"\end{table}")[:2]:
        assert_valid_latex_rows(table)


def test_no_published_block_no_section(tmp_path):
    folder = write_folder(tmp_path, published=[])
    build_report(folder, {"modes_covered": "max"})
    assert "Reproduction" not in (folder / "tables.md").read_text()
    assert "pub." not in (folder / "tables.tex").read_text()


def test_verdict_rule():
    assert verdict(0.7, 1.0, 0.5) == "within" and verdict(-1.2, 1.0, 0.5) == "outside"
    assert verdict(0.5, math.nan, 0.5) == "within"  # one seed: the published spread alone
    assert verdict(0.5, math.nan, None) == "no spread"
    assert verdict(0.0, 0.0, None) == "within"


def test_reproduction_rows_without_spread_or_measurement():
    import pandas as pd

    from ganbench.report.tables import render_reproduction_markdown

    one_seed = pd.DataFrame([{"trial_id": "t", "method": "gan", "dataset": "ring8", "seed": 0, "iterations": 1,
                              "step": 1, "elapsed_s": 1.0, "status": "finished", "error": None,
                              "modes_covered": 5.0, "protocol": "{}"}])
    entries = [PublishedValue(method="gan", dataset="ring8", metric="modes_covered", value=6.3, source="s"),
               PublishedValue(method="PacGAN2", dataset="grid25", metric="modes_covered", value=23.8, spread=0.7,
                              source="s")]
    lines = [line for line in render_reproduction_markdown(one_seed, entries).splitlines() if line.startswith("| ")]
    # one seed and no published spread: Δ = 5 - 6.3 = -1.30 and nothing to compare it with
    assert [c.strip() for c in lines[2].strip("|").split("|")][3:8] == ["5.00 (1 seed)", "6.30", "-1.30", "—",
                                                                        "no spread"]
    # a published row that the run did not measure (a quick profile without it)
    assert [c.strip() for c in lines[3].strip("|").split("|")][3:8] == ["—", "23.8 ± 0.7", "—", "—", "not measured"]


def test_reproduction_rows_of_one_quantity_share_one_number_format():
    import pandas as pd

    from ganbench.report.tables import render_reproduction_markdown

    rows = [{"trial_id": f"{m}{s}", "method": m, "dataset": "ring8", "seed": s, "iterations": 1, "step": 1,
             "elapsed_s": 1.0, "status": "finished", "error": None, "modes_covered": v, "protocol": "{}"}
            for m, values in (("gan", (10.0, 12.0, 14.0)), ("wgan_gp", (0.5, 0.6, 0.7)))
            for s, v in enumerate(values)]
    entries = [PublishedValue(method="gan", dataset="ring8", metric="modes_covered", value=17.3, source="s"),
               PublishedValue(method="wgan_gp", dataset="ring8", metric="modes_covered", value=0.55, source="s")]
    md = render_reproduction_markdown(pd.DataFrame(rows), entries)
    # means 12 and 0.6, published 17.3 and 0.55: median 6.3 needs 2 decimals for 3 digits, the smallest
    # (0.55) 2 for 2 digits, so both rows print 2 decimals (alone, the GAN row would print 12.0 ± 2.0)
    assert "12.00 ± 2.00 (3 seeds)" in md and "17.30" in md
    assert "0.60 ± 0.10 (3 seeds)" in md and "0.55" in md
