"""Sweep outputs (issue 5) from hand-made records whose answers are known.

The records are written in the interface's format (tune/trials.jsonl, tune/sweep.json,
results.csv); the real sweep path is exercised by the sweep engine's end-to-end tests.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.image import imread

from ganbench.report.collect import BASE_COLUMNS, write_csv
from ganbench.report.tables import format_mean_std
from ganbench.suite import MethodEntry
from ganbench.tune.budget import best_so_far, expected_best, expected_best_curve
from ganbench.tune.heatmaps import _to_cells, bin_means, heatmap_pairs
from ganbench.tune.importance import param_importances
from ganbench.tune.outputs import read_records, write_tune_outputs

SPACE = {
    "lr": {"loguniform": [1e-5, 1e-2]},
    "log_ratio_d": {"uniform": [-1.0, 1.0]},
    "noise": {"uniform": [0.0, 1.0]},
    "matching": {"choice": ["expectation", "norm"]},
}
COUPLED = {"base": "lr", "targets": {"lr_g": 0.0, "lr_d": "log_ratio_d"}}


# --------------------------------------------------------------------------- estimator
@pytest.mark.parametrize("mode", ["max", "min"])
@pytest.mark.parametrize("values", [[3.0, 1.0, 2.0, 2.0, 5.0], [0.5, -1.0, 4.0], [7.0]])
def test_dodge_estimator_equals_brute_force_over_all_k_tuples(values, mode):
    pick = max if mode == "max" else min
    for k in range(1, 5):
        bests = [pick(draw) for draw in itertools.product(values, repeat=k)]  # every k-tuple, with replacement
        mean, spread = expected_best(values, k, mode)
        assert mean == pytest.approx(statistics.fmean(bests), rel=1e-12, abs=1e-12)
        assert spread == pytest.approx(statistics.pstdev(bests), rel=1e-9, abs=1e-9)


def test_dodge_curve_moves_towards_the_best_value():
    values = [4.0, 1.0, 3.0, 2.0]
    curve = expected_best_curve(values, "min")
    assert list(curve["k"]) == [1, 2, 3, 4]
    assert curve["expected_best"].iloc[0] == pytest.approx(np.mean(values))
    assert (np.diff(curve["expected_best"]) < 0).all()
    assert curve["expected_best"].iloc[-1] > min(values)
    with pytest.raises(ValueError):
        expected_best_curve([1.0, math.nan], "min")


def test_best_so_far_follows_the_proposal_order():
    assert list(best_so_far([3.0, 5.0, 1.0, 2.0], "min")) == [3.0, 3.0, 1.0, 1.0]
    assert list(best_so_far([3.0, 5.0, 1.0, 2.0], "max")) == [3.0, 5.0, 5.0, 5.0]


# --------------------------------------------------------------------------- records
def _objective(lr: float) -> float:
    """Known landscape: only lr matters (best at 1e-3)."""
    return (math.log10(lr) + 3.0) ** 2


def _records(n_per_searcher: int = 14, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for searcher in ("random", "tpe"):
        for order in range(n_per_searcher):
            coords = {"lr": float(10 ** rng.uniform(-5, -2)), "log_ratio_d": float(rng.uniform(-1, 1)),
                      "noise": float(rng.uniform(0, 1)), "matching": str(rng.choice(["expectation", "norm"]))}
            config = {"lr_g": coords["lr"], "lr_d": coords["lr"] * math.exp(coords["log_ratio_d"]),
                      "matching": coords["matching"]}
            status, objective = "finished", _objective(coords["lr"])
            if order == 3:
                status, objective = ("failed", None) if searcher == "random" else ("diverged", None)
            out.append({"method": "gngan", "row": "gngan", "dataset": "ring8", "searcher": searcher,
                        "scheduler": "fifo", "order": order, "trial_id": f"{searcher[:2]}{order:010d}",
                        "coords": coords, "config": config, "objective": objective,
                        "best_objective": objective, "metric": "kl", "mode": "min", "reference": "train",
                        "iterations": 40, "status": status, "elapsed_s": 1.0})
    return out


def _sweep(budget: int = 14, coupled: dict | None = COUPLED) -> dict:
    return {"suite": "toy", "objective": {"metric": "kl", "mode": "min", "reference": "train"},
            "budget": budget, "searchers": ["random", "tpe"], "scheduler": "fifo",
            "spaces": {"gngan": SPACE}, "coupled": {"gngan": coupled},
            "defaults": {"gngan": {"lr_g": 2e-4, "lr_d": 2e-4, "matching": "expectation"}}}


def _write_sweep(suite_dir, records: list[dict], sweep: dict | None) -> None:
    tune = suite_dir / "tune"
    tune.mkdir(parents=True, exist_ok=True)
    (tune / "trials.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if sweep is not None:
        (tune / "sweep.json").write_text(json.dumps(sweep))


def _png_ok(path) -> None:
    assert path.is_file() and path.stat().st_size > 2000
    image = imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].std() > 0.01  # not a blank canvas


# --------------------------------------------------------------------------- outputs
def test_outputs_from_records_without_results_csv(tmp_path):
    records = _records()
    _write_sweep(tmp_path, records, _sweep())
    written = write_tune_outputs(tmp_path)
    tune = tmp_path / "tune"
    assert {"tune/best.yaml", "tune/budget.csv", "tune/plots/budget_ring8.png",
            "tune/plots/heatmap_gngan_ring8.png", "tune/importances.csv", "tune/importances.md"} <= set(written)
    assert not (tune / "tuned_vs_default.md").exists()  # no results.csv yet
    _png_ok(tune / "plots/budget_ring8.png")
    _png_ok(tune / "plots/heatmap_gngan_ring8.png")

    # best.yaml: per searcher the argmin of the finished trials, with the expanded config
    docs = [d for d in yaml.safe_load_all((tune / "best.yaml").read_text()) if d]
    assert len(docs) == 1
    entries = {e["label"]: e for e in docs[0]["methods"]}
    assert set(entries) == {"gngan (tuned: random)", "gngan (tuned: tpe)"}
    for searcher in ("random", "tpe"):
        mine = [r for r in records if r["searcher"] == searcher and r["status"] == "finished"]
        argmin = min(mine, key=lambda r: r["objective"])
        entry = entries[f"gngan (tuned: {searcher})"]
        assert entry["name"] == "gngan"
        assert entry["params"].keys() == argmin["config"].keys()
        for key, value in argmin["config"].items():
            assert entry["params"][key] == (pytest.approx(value) if isinstance(value, float) else value)
        MethodEntry(**entry)  # pastes into a suite's methods list
    text = (tune / "best.yaml").read_text()
    assert "dataset ring8" in text and "best of 14 trials" in text and "kl (min)" in text

    # budget.csv: failed/diverged trials count as the worst finite objective of the row x dataset
    budget = pd.read_csv(tune / "budget.csv")
    assert list(budget.columns[:6]) == ["row", "dataset", "searcher", "k", "expected_best", "spread"]
    worst = max(r["objective"] for r in records if r["objective"] is not None)
    for searcher in ("random", "tpe"):
        mine = sorted((r for r in records if r["searcher"] == searcher), key=lambda r: r["order"])
        values = [worst if r["objective"] is None else r["objective"] for r in mine]
        part = budget[budget["searcher"] == searcher].sort_values("k")
        assert list(part["k"]) == list(range(1, len(values) + 1))
        expected = expected_best_curve(values, "min")
        assert np.allclose(part["expected_best"], expected["expected_best"])
        assert np.allclose(part["spread"], expected["spread"])
        assert np.allclose(part["best_so_far"], np.minimum.accumulate(values))

    # importances: lr alone determines the objective, noise is noise
    imp = pd.read_csv(tune / "importances.csv")
    scores = dict(zip(imp["parameter"], imp["importance"]))
    assert scores["lr"] > 0.6 and scores["lr"] > 5 * scores["noise"]
    assert (imp["n_trials"] == 26).all()  # 28 trials, 2 did not finish
    assert imp["evaluator"].iloc[0].startswith(("fanova", "ped-anova"))
    assert "## gngan on ring8" in (tune / "importances.md").read_text()


def test_heatmap_pairs_coupled_group_else_numeric_coordinates():
    assert heatmap_pairs(SPACE, COUPLED) == [("lr", "log_ratio_d")]
    assert heatmap_pairs(SPACE, None) == [("lr", "log_ratio_d"), ("lr", "noise"), ("log_ratio_d", "noise")]
    # a coupled group with fixed ratios only has one searched coordinate: fall back to all numeric ones
    fixed = {"base": "lr", "targets": {"lr_g": 0.0, "lr_d": 0.5}}
    assert len(heatmap_pairs(SPACE, fixed)) == 3
    assert heatmap_pairs({"m": {"choice": ["a", "b"]}, "lr": {"loguniform": [1e-4, 1e-3]}}, None) == []


def test_heatmap_cells_are_log_binned_means_of_the_objective():
    edges = np.array([1e-5, 1e-4, 1e-3])  # two log bins
    lr = np.array([2e-5, 5e-5, 3e-4, 1e-3, 9e-4])
    pos = _to_cells(lr, edges, log=True)
    assert pos[0] == pytest.approx(math.log10(2))  # 2e-5 sits log10(2) of the way into the first bin
    assert pos[3] == pytest.approx(2.0)
    other = np.array([0.1, 0.9, 0.2, 0.7, 0.8])
    y_pos = _to_cells(other, np.array([0.0, 0.5, 1.0]), log=False)
    values = np.array([1.0, 3.0, 5.0, 7.0, math.nan])  # the NaN trial (failed) stays out of the mean
    grid = bin_means(pos, y_pos, values, 2, 2)
    assert grid[0, 0] == 1.0 and grid[1, 0] == 3.0 and grid[0, 1] == 5.0 and grid[1, 1] == 7.0
    grid = bin_means(pos, np.zeros(5), values, 2, 1)
    assert grid[0].tolist() == [2.0, 6.0]


def test_importances_say_why_when_there_is_too_little(tmp_path):
    records = _records(n_per_searcher=2)
    for r in records:
        if r["order"] == 1 or r["searcher"] == "tpe":
            r["status"], r["objective"] = "failed", None
    table = param_importances(read_records_from(tmp_path, records), {"gngan": SPACE}, "min")
    assert len(table) == 1 and math.isnan(table["importance"].iloc[0])
    assert "too few finished trials (1 < 2)" in table["note"].iloc[0]

    records = _records(n_per_searcher=5)
    for r in records:
        r["status"], r["objective"] = "finished", 1.5
    table = param_importances(read_records_from(tmp_path, records), {"gngan": SPACE}, "min")
    assert len(table) == 1 and "constant objective" in table["note"].iloc[0]


def read_records_from(tmp_path, records: list[dict]) -> pd.DataFrame:
    path = tmp_path / "trials.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return read_records(path)


def test_robust_to_missing_sweep_json_bad_lines_and_repeated_trials(tmp_path):
    records = _records(n_per_searcher=4)
    again = dict(records[0], order=4)  # the searcher proposed the same point again: same trial_id, new order
    _write_sweep(tmp_path, records + records[:2] + [again], None)  # a resumed sweep wrote two lines again
    with (tmp_path / "tune" / "trials.jsonl").open("a") as f:
        f.write('{"method": "gngan", "row": "gng')  # a half-written last line
    written = write_tune_outputs(tmp_path)
    assert "tune/best.yaml" in written and "tune/budget.csv" in written
    budget = pd.read_csv(tmp_path / "tune" / "budget.csv")
    assert budget.groupby("searcher")["k"].max().to_dict() == {"random": 5, "tpe": 4}
    # no sweep.json: no spaces known, so no heatmap, and importances have no distributions
    assert not any(p.startswith("tune/plots/heatmap") for p in written)
    assert "objective kl (min)" in (tmp_path / "tune" / "best.yaml").read_text()


# --------------------------------------------------------------------------- tuned table
def _results(tmp_path) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for label, centre in (("gngan (default)", 1.0), ("gngan (tuned: random)", 0.6), ("gngan (tuned: tpe)", 0.4)):
        for seed in range(3):
            status = "diverged" if (label == "gngan (tuned: random)" and seed == 2) else "finished"
            for step in (20, 40):
                rows.append({"trial_id": f"{label[-5:-1]}{seed}", "method": label, "dataset": "ring8", "seed": seed,
                             "iterations": 40, "step": step, "elapsed_s": 1.0, "status": status, "error": None,
                             "kl": float(centre + rng.normal(0, 0.1) + (0.5 if step == 20 else 0.0)),
                             "modes": float(rng.integers(5, 9)),
                             "protocol": json.dumps({"kl": {"n_gen": 500, "split": "test"}})})
    rows.append({"trial_id": "other0", "method": "wgan", "dataset": "ring8", "seed": 0, "iterations": 40,
                 "step": 40, "elapsed_s": 1.0, "status": "finished", "error": None, "kl": 9.0, "modes": 1.0,
                 "protocol": "{}"})
    df = pd.DataFrame(rows)[[c for c in BASE_COLUMNS if c != "protocol"] + ["kl", "modes", "protocol"]]
    write_csv(df, tmp_path / "results.csv")
    return df


def test_tuned_table_numbers_are_the_final_step_means_over_seeds(tmp_path):
    _write_sweep(tmp_path, _records(n_per_searcher=6), _sweep(budget=6))
    df = _results(tmp_path)
    written = write_tune_outputs(tmp_path)
    assert {"tune/tuned_vs_default.md", "tune/tuned_vs_default.tex"} <= set(written)
    md = (tmp_path / "tune" / "tuned_vs_default.md").read_text()
    final = df[df["step"] == 40]
    kl_table = md.split("**Table.**")[1]  # the objective's table comes first
    assert kl_table.startswith(" kl (↓ lower is better)")
    lines = [line for line in kl_table.splitlines() if line.startswith("| ")]
    header, body = lines[0], lines[2:]
    assert header == "| Method | ring8: default | ring8: tuned: random | ring8: tuned: tpe |"
    assert len(body) == 1 and body[0].startswith("| gngan |")  # wgan is not a default/tuned re-run
    cells = [c.strip() for c in body[0].strip("|").split("|")][1:]
    for cell, label in zip(cells, ["gngan (default)", "gngan (tuned: random)", "gngan (tuned: tpe)"]):
        values = final.loc[final["method"] == label, "kl"]
        text = format_mean_std(values.mean(), values.std(ddof=1), len(values))
        assert cell.strip("*").startswith(text), (cell, text)
    assert cells[1].endswith("(diverged 1/3)")
    means = {lab: final.loc[final["method"] == lab, "kl"].mean() for lab in set(final["method"])}
    best = min(("gngan (default)", "gngan (tuned: random)", "gngan (tuned: tpe)"), key=means.get)
    assert sum(c.startswith("**") for c in cells) == 1
    assert cells[["gngan (default)", "gngan (tuned: random)", "gngan (tuned: tpe)"].index(best)].startswith("**")
    caption = md.split("\n")[0]
    assert "best of 6 search trials" in caption and "against the train split as the validation reference" in caption
    assert "use the test split as reference" in caption and "every seed" in caption
    assert "modes" in md  # every value key gets a table
    tex = (tmp_path / "tune" / "tuned_vs_default.tex").read_text()
    assert tex.count(r"\begin{table}") == 2 and r"\pm" in tex and "tuned: tpe" in tex


def test_tuned_table_ties_and_a_protocol_without_split(tmp_path):
    from ganbench.report.collect import final_rows
    from ganbench.tune.tuned_table import render_markdown

    rows = []
    for label in ("gngan (default)", "gngan (tuned: tpe)"):
        for seed in (0, 1):
            rows.append({"trial_id": f"{label[-4:-1]}{seed}", "method": label, "dataset": "ring8", "seed": seed,
                         "iterations": 40, "step": 40, "elapsed_s": 1.0, "status": "finished", "error": None,
                         "modes_kl": 2.0794, "protocol": json.dumps({"modes": {"n_gen": 500}})})
    final = final_rows(pd.DataFrame(rows))
    md = render_markdown(final, ["gngan"], ["tpe"], _sweep(), {"modes_kl": "min"}, eval_reference="test")
    assert "| gngan | **2.08 ± 0.00** | **2.08 ± 0.00** |" in md  # equal means: both bold
    assert "use the test split as reference" in md
    md = render_markdown(final, ["gngan"], ["tpe"], _sweep(), {"modes_kl": "min"})
    assert "name no reference split" in md


def test_every_trial_failed_gives_outputs_that_say_so(tmp_path):
    records = _records(n_per_searcher=3)
    for r in records:
        r["status"], r["objective"], r["best_objective"] = "failed", None, None
    _write_sweep(tmp_path, records, _sweep(budget=3))
    written = write_tune_outputs(tmp_path)
    assert "no best configuration" in (tmp_path / "tune" / "best.yaml").read_text()
    assert pd.read_csv(tmp_path / "tune" / "budget.csv").empty
    assert "too few finished trials (0 < 2)" in (tmp_path / "tune" / "importances.md").read_text()
    _png_ok(written["tune/plots/heatmap_gngan_ring8.png"])  # the failed trials' crosses, no cell colours


def test_importances_fall_back_to_ped_anova_without_scikit_learn(tmp_path, monkeypatch):
    import importlib.util

    import ganbench.tune.importance as importance

    real = importlib.util.find_spec
    monkeypatch.setattr(importance.importlib.util, "find_spec",
                        lambda name, *a: None if name == "sklearn" else real(name, *a))
    records = read_records_from(tmp_path, _records(n_per_searcher=20))
    table = param_importances(records, {"gngan": SPACE}, "min")
    assert set(table["evaluator"]) == {"ped-anova (scikit-learn not installed)"}
    scores = dict(zip(table["parameter"], table["importance"]))
    assert scores["lr"] > 0.6 and scores["lr"] > 5 * scores["noise"]


def test_best_yaml_flags_a_best_that_sweep_json_names_differently(tmp_path):
    from ganbench.tune.best_config import best_records, render_best_yaml

    records = read_records_from(tmp_path, _records(n_per_searcher=4))
    best = best_records(records, "min")
    tpe = best[best["searcher"] == "tpe"].iloc[0]
    sweep = _sweep(budget=4)
    random_id = best[best["searcher"] == "random"].iloc[0]["trial_id"]
    sweep["best"] = {"gngan": {"ring8": {"tpe": {"trial_id": "elsewhere01", "objective": 9.0},
                                         "random": {"trial_id": random_id}}}}
    text = render_best_yaml(best, sweep)
    assert text.count("sweep.json names trial") == 1 and "trial elsewhere01 (kl = 9.0)" in text
    assert f"gngan / tpe: kl = {float(tpe['objective']):.6g} (trial {tpe['trial_id']}" in text
