"""``eval.time_to``: iterations and seconds to first reach a threshold (issue 4, "over time")."""

from __future__ import annotations

import json
import textwrap

import pandas as pd
import pytest

from ganbench.cli import app
from ganbench.report.time_to import first_crossings, render_time_to_markdown
from ganbench.runner import run_suite
from ganbench.suite import SuiteError, load_suite
from tests.conftest import write_suite


def _frame():
    rows = []
    # trial a: fid 50 -> 30 -> 15 -> 10: first <= 20 at step 300 (t=3.0)
    for step, fid in ((100, 50.0), (200, 30.0), (300, 15.0), (400, 10.0)):
        rows.append(dict(trial_id="a", method="gan", dataset="mnist", seed=0, step=step, elapsed_s=step / 100, fid=fid))
    # trial b: crosses at 200 (t=4.0), goes back up later (the first crossing counts)
    for step, fid in ((100, 25.0), (200, 20.0), (300, 22.0), (400, 19.0)):
        rows.append(dict(trial_id="b", method="gan", dataset="mnist", seed=1, step=step, elapsed_s=step / 50, fid=fid))
    # trial c: never reaches 20; has a NaN eval
    for step, fid in ((100, 80.0), (200, float("nan")), (300, 40.0), (400, 21.0)):
        rows.append(dict(trial_id="c", method="wgan", dataset="mnist", seed=0, step=step, elapsed_s=step / 10, fid=fid))
    return pd.DataFrame(rows)


def test_first_crossings_known_answers():
    got = first_crossings(_frame(), {"metric": "fid", "below": 20}).set_index("trial_id")
    assert got.loc["a", "reached"] and got.loc["a", "step"] == 300 and got.loc["a", "elapsed_s"] == 3.0
    assert got.loc["b", "reached"] and got.loc["b", "step"] == 200 and got.loc["b", "elapsed_s"] == 4.0
    assert not got.loc["c", "reached"] and pd.isna(got.loc["c", "step"])
    above = first_crossings(_frame(), {"metric": "fid", "above": 45}).set_index("trial_id")
    assert above.loc["a", "step"] == 100 and above.loc["c", "step"] == 100 and not above.loc["b", "reached"]


def test_time_to_table_aggregates_reached_seeds_only():
    text = render_time_to_markdown(_frame(), [{"metric": "fid", "below": 20}], methods=["wgan", "gan"])
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    # wgan first (the given order), never reached; gan: steps 300 and 200 -> 250 ± 70.7
    assert lines[1] == "| wgan | mnist | — | — | 0/1 |"
    assert lines[2].startswith("| gan | mnist | 250 ± 71 | 3.50 ± 0.71 | 2/2 |")
    assert "fid ≤ 20" in text and "eval spacing of 100 iterations" in text


BASE = textwrap.dedent("""\
    name: timeto
    datasets: [ring8]
    methods: [gan]
    params: {width: 16}
    seeds: [0, 1]
    train: {iterations: 40, batch_size: 64, eval_every: 10}
    eval: {metrics: [modes], num_samples: 300, reference: train, time_to: %s}
""")


@pytest.mark.parametrize("value, path, words", [
    ("{metric: fid, below: 20}", "eval.time_to[0].metric", "not a value of the suite's metrics"),
    ("{metric: modes_kl, below: 1, above: 2}", "eval.time_to[0]", "exactly one of below and above"),
    ("[{metric: modes_kl}]", "eval.time_to[0]", "exactly one of below and above"),
    ("{metric: modes_kl, below: fast}", "eval.time_to[0].below", "expected a number, got 'fast'"),
])
def test_bad_thresholds_are_one_line_errors(tmp_path, value, path, words):
    suite = write_suite(tmp_path, BASE % value)
    with pytest.raises(SuiteError) as err:
        load_suite(suite)
    message = str(err.value)
    assert message.startswith(f"{suite}: {path}: ") and words in message and "\n" not in message


def test_time_to_in_a_real_run_and_in_report_rebuild(tmp_path):
    suite = write_suite(tmp_path, BASE % "[{metric: modes_covered, above: 1}, {metric: modes_kl, below: 0.0}]")
    outcome = run_suite(suite, results_root=tmp_path / "results", local=True)
    suite_dir = outcome.suite_dir
    table = pd.read_csv(suite_dir / "time_to.csv")
    assert len(table) == 2 * len(outcome.specs)
    for spec in outcome.specs:
        evals = [json.loads(line) for line in (suite_dir / "trials" / spec.trial_id / "evals.jsonl").read_text().splitlines()]
        expected = next((e for e in evals if e["values"]["modes_covered"] >= 1), None)
        row = table[(table.trial_id == spec.trial_id) & (table.threshold == "modes_covered ≥ 1")].iloc[0]
        assert bool(row.reached) == (expected is not None)
        if expected is not None:
            assert row.step == expected["step"] and row.elapsed_s == pytest.approx(expected["elapsed_s"])
        # a KL of exactly 0 is never reached by a 40-iteration GAN
        assert not table[(table.trial_id == spec.trial_id) & (table.threshold == "modes_kl ≤ 0")].iloc[0].reached
    markdown = (suite_dir / "tables.md").read_text()
    assert "## Time to threshold" in markdown and "modes_covered ≥ 1" in markdown and "0/2" in markdown

    (suite_dir / "time_to.csv").unlink()
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["report", str(suite_dir)])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(suite_dir / "time_to.csv").equals(table)
