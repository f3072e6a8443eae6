"""eval.final_metrics: dear metrics at a trial's last evaluation only; label metrics need labels."""

from __future__ import annotations

import json
import textwrap

import pandas as pd
import pytest

from ganbench.runner import run_suite
from ganbench.suite import SuiteError, load_suite
from tests.conftest import write_suite

SUITE = textwrap.dedent("""\
    name: tiny_final
    datasets: [mnist]
    methods: [gan]
    params: {width: 8}
    seeds: [0]
    train: {iterations: 20, batch_size: 32, eval_every: 10}
    eval: {metrics: [fcd], final_metrics: [vendi], num_samples: 200, reference: test}
""")


def test_final_metrics_only_at_the_last_evaluation_and_in_the_tables(tmp_path):
    outcome = run_suite(write_suite(tmp_path, SUITE), results_root=tmp_path / "r", local=True)
    (spec,) = outcome.specs
    assert outcome.statuses[spec.trial_id]["status"] == "finished"
    lines = (outcome.suite_dir / "trials" / spec.trial_id / "evals.jsonl").read_text().splitlines()
    evals = {e["step"]: e for e in map(json.loads, lines)}
    assert sorted(evals) == [10, 20]
    assert "vendi" not in evals[10]["values"] and "fcd" in evals[10]["values"]
    # 200 samples of 128-d features: the effective number of distinct samples lies in (1, 128]
    assert 1.0 < evals[20]["values"]["vendi"] <= 128.0
    assert "vendi" in evals[20]["protocol"]
    results = pd.read_csv(outcome.suite_dir / "results.csv").set_index("step")  # one row per evaluation
    assert pd.isna(results.loc[10, "vendi"])
    assert results.loc[20, "vendi"] == pytest.approx(evals[20]["values"]["vendi"])
    assert "Vendi" in (outcome.suite_dir / "tables.md").read_text()


def test_final_metrics_change_no_existing_trial_id(tmp_path):
    plain = load_suite(write_suite(tmp_path, SUITE.replace(", final_metrics: [vendi]", ""))).expand()[0]
    final = load_suite(write_suite(tmp_path, SUITE)).expand()[0]
    assert "final_metrics" not in plain.to_dict()
    assert final.to_dict()["final_metrics"] == ["vendi"]
    assert plain.trial_id != final.trial_id
    assert type(final).from_dict(json.loads(json.dumps(final.to_dict()))) == final


@pytest.mark.parametrize("evaluation,expected", [
    ("{metrics: [fcd], final_metrics: [fcd]}",
     "eval.final_metrics[0]: 'fcd' is also in eval.metrics"),
    ("{metrics: [fcd], final_metrics: [vendi, vendi]}", "eval.final_metrics[1]: 'vendi' is listed twice"),
    ("{metrics: [fcd], final_metrics: [vendy]}", "eval.final_metrics[0]: unknown metric 'vendy'"),
    ("{metrics: [fcd], final_metrics: [modes]}",
     "eval.final_metrics[0]: metric 'modes' does not apply to dataset 'mnist'"),
    ("{metrics: [fcd, cond_acc]}",
     "eval.metrics[1]: metric 'cond_acc' needs class-conditional samples, but gan is unconditional"),
    ("{metrics: [fcd], final_metrics: [intra_fcd]}",
     "eval.final_metrics[0]: metric 'intra_fcd' needs class-conditional samples, but gan is unconditional"),
])
def test_bad_final_or_label_metrics_give_one_line(tmp_path, evaluation, expected):
    text = SUITE.replace("eval: {metrics: [fcd], final_metrics: [vendi], ", f"eval: {evaluation[:-1]}, ")
    path = write_suite(tmp_path, text)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and expected in message and "\n" not in message, message


def test_label_metrics_accepted_for_conditional_methods(tmp_path):
    text = SUITE.replace("methods: [gan]", "methods: [cgan, acgan]").replace(
        "final_metrics: [vendi]", "final_metrics: [cond_acc, intra_fcd]")
    specs = load_suite(write_suite(tmp_path, text)).expand()
    assert {s.final_metrics for s in specs} == {("cond_acc", "intra_fcd")}
