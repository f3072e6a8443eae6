"""End-to-end test of the report: a hand-written results folder -> csv, tables, plots.

The fixture suite has 2 methods (gan, wgan_gp) x 2 seeds x 2 datasets (ring8: 2D points,
mnist: images). wgan_gp/ring8/seed1 diverged (its last eval is NaN), wgan_gp/mnist/seed1
failed before any eval, gan/mnist/seed1's evals.jsonl ends in a half-written line, and one
trial folder has no spec.json. Final values are chosen so every cell is computable by hand.
"""

from __future__ import annotations

import json
import math
import re
import struct

import numpy as np
import pandas as pd
import pytest

from ganbench.report.build import build_report
from ganbench.report.collect import BASE_COLUMNS, collect, final_rows, read_csv

DIRECTIONS = {"fcd": "min", "cis": "max", "modes_covered": "max", "modes_kl": "min"}
RING_CENTRES = [[2 * math.cos(a), 2 * math.sin(a)] for a in np.linspace(0, 2 * math.pi, 8, endpoint=False)]
PROTOCOL = {
    "ring8": {"modes": {"n_gen": 2000, "num_modes": 8, "std": 0.01, "hq_threshold": "< 3 std from the nearest centre",
                        "hq_counts": [250] * 8}},
    "mnist": {
        "fcd": {"n_gen": 1000, "n_ref": 1000, "split": "test", "extractor": "lenet-mnist"},
        "cis": {"n_gen": 1000, "n_ref": 0, "split": "test", "extractor": "lenet-mnist"},
    },
}
NAN = float("nan")
# (method, dataset, seed) -> (status, error, [values at step 100, values at step 200])
TRIALS = {
    ("gan", "ring8", 0): ("finished", None, [{"modes_covered": 6, "modes_kl": 0.5, "g_loss": 0.7}, {"modes_covered": 8, "modes_kl": 0.1, "g_loss": 1.0}]),
    ("gan", "ring8", 1): ("finished", None, [{"modes_covered": 5, "modes_kl": 0.6, "g_loss": 0.8}, {"modes_covered": 7, "modes_kl": 0.3, "g_loss": 2.0}]),
    ("wgan_gp", "ring8", 0): ("finished", None, [{"modes_covered": 8, "modes_kl": 0.05, "g_loss": 2.5}, {"modes_covered": 8, "modes_kl": 0.04, "g_loss": 3.0}]),
    ("wgan_gp", "ring8", 1): ("diverged", "loss is nan at step 180", [{"modes_covered": 4, "modes_kl": 1.0, "g_loss": 5.0}, {"modes_covered": NAN, "modes_kl": NAN, "g_loss": NAN}]),
    ("gan", "mnist", 0): ("finished", None, [{"fcd": 9.0, "cis": 3.0}, {"fcd": 1.0, "cis": 6.0}]),
    ("gan", "mnist", 1): ("finished", None, [{"fcd": 10.0, "cis": 1.0}, {"fcd": 3.0, "cis": 8.0}]),
    ("wgan_gp", "mnist", 0): ("finished", None, [{"fcd": 4.0, "cis": 2.0}, {"fcd": 0.5, "cis": 5.0}]),
    ("wgan_gp", "mnist", 1): ("failed", "CUDA out of memory", []),
}


def write_suite(root, *, corrupt=True, with_samples=True):
    """Write the fixture suite under ``root`` and return its folder."""
    suite = root / "demo_suite"
    rng = np.random.default_rng(0)
    for (method, dataset, seed), (status, error, evals) in TRIALS.items():
        trial_id = f"{method}-{dataset}-{seed}"
        tdir = suite / "trials" / trial_id
        tdir.mkdir(parents=True)
        spec = {
            "trial_id": trial_id, "suite": "demo_suite", "method": method, "dataset": dataset, "seed": seed,
            "params": {"lr": 2e-4}, "iterations": 200, "batch_size": 64, "eval_every": 100,
            "metrics": list(PROTOCOL[dataset]), "num_samples": 1000, "reference": "test",
        }
        (tdir / "spec.json").write_text(json.dumps(spec))
        lines = [
            json.dumps({"step": 100 * (i + 1), "elapsed_s": 1.5 * (i + 1), "values": v, "protocol": PROTOCOL[dataset]})
            for i, v in enumerate(evals)
        ]
        text = "\n".join(lines) + ("\n" if lines else "")
        if corrupt and (method, dataset, seed) == ("gan", "mnist", 1):
            text += '{"step": 300, "elapsed_s": 4.5, "values": {"fcd": 99'
        (tdir / "evals.jsonl").write_text(text)
        last = 100 * len(evals)
        (tdir / "status.json").write_text(json.dumps({"status": status, "error": error, "last_step": last}))
        if with_samples and dataset == "ring8" and status == "finished":
            centres = np.asarray(RING_CENTRES)[rng.integers(0, 8, 500)]
            np.save(tdir / "samples.npy", (centres + 0.05 * rng.standard_normal((500, 2))).astype(np.float32))
    (suite / "trials" / "orphan").mkdir()  # no spec.json: skipped with a warning
    return suite


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    suite = write_suite(tmp_path_factory.mktemp("results"))
    with pytest.warns(UserWarning, match="no readable spec.json"):
        paths = build_report(suite, DIRECTIONS, centres={"ring8": RING_CENTRES})
    return suite, paths


def markdown_cells(md: str) -> dict[str, dict[str, str]]:
    """{method: {column header: cell}} from the first Markdown table in ``md``."""
    rows = [line for line in md.splitlines() if line.startswith("|")]
    split = [[c.strip() for c in line.strip("|").split(" | ")] for line in rows]
    header, body = split[0], split[2:]
    return {row[0]: dict(zip(header[1:], row[1:])) for row in body}


def test_collect_rows_and_columns(tmp_path):
    with pytest.warns(UserWarning):
        df = collect(write_suite(tmp_path))
    keys = ["modes_covered", "modes_kl", "g_loss", "fcd", "cis"]
    assert sorted(df.columns) == sorted(list(BASE_COLUMNS) + keys)
    assert list(df.columns[:9]) == list(BASE_COLUMNS[:9]) and df.columns[-1] == "protocol"
    assert len(df) == 6 * 2 + 2 + 1  # the corrupt line is ignored, the failed trial keeps one row
    failed = df[df["trial_id"] == "wgan_gp-mnist-1"]
    assert len(failed) == 1 and failed["step"].isna().all() and failed["status"].item() == "failed"
    assert df.loc[df["trial_id"] == "gan-mnist-1", "step"].tolist() == [100, 200]
    assert set(df.loc[df["dataset"] == "ring8", "status"]) == {"finished", "diverged"}
    assert json.loads(df["protocol"].iloc[-1]) in PROTOCOL.values()


def test_final_rows_keep_last_good_values(tmp_path):
    with pytest.warns(UserWarning):
        final = final_rows(collect(write_suite(tmp_path))).set_index("trial_id")
    assert len(final) == 8
    diverged = final.loc["wgan_gp-ring8-1"]
    assert diverged["step"] == 200 and diverged["modes_covered"] == 4 and diverged["modes_kl"] == 1.0
    assert final.loc["gan-mnist-1", "fcd"] == 3.0
    assert pd.isna(final.loc["wgan_gp-mnist-1", "fcd"])


def test_results_csv_round_trip(report):
    suite, paths = report
    assert paths["results.csv"] == suite / "results.csv"
    df = read_csv(suite / "results.csv")
    assert len(df) == 15
    with pytest.warns(UserWarning):
        assert list(df.columns) == list(collect(suite).columns)
    assert not list(suite.glob(".*tmp*"))


def test_markdown_cells(report):
    suite, _ = report
    md = (suite / "tables.md").read_text()
    assert md.startswith("**Table.** Mean ± std over 2 seeds")
    cells = markdown_cells(md)
    assert list(cells) == ["GAN", "WGAN-GP"]  # display names (ganbench/report/names.py)
    gan, wgan = cells["GAN"], cells["WGAN-GP"]
    # mnist: fcd lower is better, cis higher is better; one format per column (fcd: 2.00 and 0.50)
    assert gan["MNIST: FCD ↓"] == "2.00 ± 1.41"
    assert wgan["MNIST: FCD ↓"] == "**0.50** (failed 1/2)"
    assert gan["MNIST: cIS ↑"] == "**7.00 ± 1.41**"
    assert wgan["MNIST: cIS ↑"] == "5.00 (failed 1/2)"
    # ring8: the diverged seed contributes its last good values and is flagged; the mode count
    # comes from the modes metric's protocol
    assert gan["Ring-8: Modes (/8) ↑"] == "**7.50 ± 0.71**"
    assert wgan["Ring-8: Modes (/8) ↑"] == "6.00 ± 2.83 (diverged 1/2)"
    assert gan["Ring-8: KL (modes) ↓"] == "**0.200 ± 0.141**"
    assert wgan["Ring-8: KL (modes) ↓"] == "0.520 ± 0.679 (diverged 1/2)"
    # a key without a direction or display name: no arrow, no bold, the raw key
    assert gan["Ring-8: g_loss"] == "1.50 ± 0.71"
    assert wgan["Ring-8: g_loss"] == "4.00 ± 1.41 (diverged 1/2)"
    # 2 seeds: no significance marks, and the caption says why
    assert "†" not in md.split("\n\n")[1]
    assert "No significance marks: fewer than 3 seeds" in md and "Note: 2 seeds for every method" in md
    assert "Modes (/8) = `modes_covered`" in md and "WGAN-GP = `wgan_gp`" in md
    # the trials that did not finish are listed under the table with their error
    assert "wgan_gp / mnist / seed 1 (wgan_gp-mnist-1): failed, no eval: CUDA out of memory" in md
    assert "diverged, last eval at step 200: loss is nan at step 180" in md


def test_caption_protocol(report):
    suite, _ = report
    md = (suite / "tables.md").read_text()
    caption = md.splitlines()[0]
    assert "2 seeds" in caption and "200 iterations" in caption
    assert "fcd: 1000 generated, 1000 reference, test split, extractor lenet-mnist" in caption
    assert ("modes: 2000 generated, 8 modes, σ = 0.01; a mode is covered by ≥ 1 sample and a sample is high "
            "quality when < 3 std from the nearest centre") in caption


def test_latex(report):
    suite, _ = report
    tex = (suite / "tables.tex").read_text()
    assert tex.startswith("\\begin{table}") and tex.rstrip().endswith("\\end{table}")
    for command in ("\\toprule", "\\midrule", "\\bottomrule", "\\caption{", "\\label{tab:demo-suite}"):
        assert command in tex
    assert "\\begin{tabular}{lrrrrr}" in tex
    assert "\\multicolumn{2}{c}{MNIST} & \\multicolumn{3}{c}{Ring-8}" in tex
    assert "\\cmidrule(lr){2-3}\\cmidrule(lr){4-6}" in tex
    assert "Modes (/8) $\\uparrow$" in tex and "FCD $\\downarrow$" in tex
    assert "\nWGAN-GP & " in tex
    # numbers in math mode, bold as \mathbf
    assert "$\\mathbf{7.50 \\pm 0.71}$" in tex
    assert "$6.00 \\pm 2.83$ {\\scriptsize (diverged 1/2)}" in tex
    assert not re.search(r"(?<!\\)_", tex), "unescaped underscore"
    assert "±" not in tex and "↓" not in tex


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_plots(report):
    suite, paths = report
    plots = sorted(p for k, p in paths.items() if k.startswith("plots/"))
    names = sorted(p.relative_to(suite / "plots").as_posix() for p in plots)
    stems = ["ring8_modes_covered", "ring8_modes_kl", "ring8_g_loss", "mnist_fcd", "mnist_cis", "ring8_samples",
             # one figure per trial that left 2D samples (the finished ring8 trials)
             "samples/ring8_gan_seed0", "samples/ring8_gan_seed1", "samples/ring8_wgan_gp_seed0"]
    assert names == sorted(f"{s}.{ext}" for s in stems for ext in ("png", "pdf"))
    for path in plots:
        if path.suffix == ".pdf":
            assert path.read_bytes()[:5] == b"%PDF-" and path.stat().st_size > 3_000
            continue
        width, height = _png_size(path)
        assert width > 250 and height > 200 and path.stat().st_size > 10_000
