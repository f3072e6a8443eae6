"""Bad input through the real CLI: one line naming the file and the key, exit code 2, no
traceback, before any trial starts; a corrupt checkpoint inside a trial restarts that trial."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.suite import load_suite
from ganbench.trial import TrialContext, read_status, train_trial
from tests.conftest import REPO, mutate_document, write_suite
from tests.test_suite_fuzz import BASE, paths, values

runner = CliRunner()

TINY = textwrap.dedent("""\
    name: {name}
    datasets: [ring8]
    methods: [gan]
    params: {{width: 16}}
    seeds: [0]
    train: {{iterations: 20, batch_size: 32, eval_every: 10}}
    eval: {{metrics: [modes], num_samples: 200, reference: train}}
    resources: {{cpus_per_trial: 1, gpus_per_trial: 0}}
""")


def _one_line_exit_2(result, *needles: str) -> None:
    output = result.output if hasattr(result, "output") else result.stdout + result.stderr
    code = result.exit_code if hasattr(result, "exit_code") else result.returncode
    assert code == 2, output
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in output, output
    for needle in needles:
        assert needle in output, output


def _run(*args: str):
    return runner.invoke(app, ["run", *args])


def _no_trial_started(results: Path) -> None:
    assert not list(results.glob("*/trials/*")), list(results.glob("*/trials/*"))


@pytest.mark.parametrize("text, needles", [
    ("name: x\ndatasets: [ring8\nmethods: [gan]\n", ["line 3", "invalid YAML"]),
    ("name: x\ndatasets: [ring8]\nmethods: [gann]\n", ["methods[0].name", "unknown method 'gann'"]),
    ("name: x\ndatasets: [ring9]\nmethods: [gan]\n", ["datasets[0]", "unknown dataset 'ring9'"]),
    ("name: x\ndatasets: [ring8]\nmethods: [gan]\neval: {metrics: [fidd]}\n",
     ["eval.metrics[0]", "unknown metric 'fidd'"]),
    ("name: x\ndatasets: [ring8]\nmethods: [{name: gan, params: {lr_g: fast}}]\n",
     ["methods[0].params.lr_g", "'fast'"]),
    ("name: x\ndatasets: [ring8]\nmethods: [gan]\neval: {metrics: [modes]}\nresources: {cpus_per_trial: 4096}\n",
     ["resources.cpus_per_trial", "4096"]),
    ("name: x\ndatasets: [ring8]\nmethods: [gan]\ntrain: {iterations: -3}\n", ["train.iterations"]),
    ("name: x\ndatasets: [ring8]\nmethods: [{name: gan, params: {lr_gg: 1}}]\n",
     ["methods[0].params.lr_gg", "unknown key"]),
    ("name: x\ndatasets: [ring8]\nmethods: [gan]\nresources: {max_failures: -1}\n", ["resources.max_failures"]),
    ("name: x\ndatasets: [mnist]\nmethods: [gan]\neval: {metrics: [modes]}\n",
     ["eval.metrics[0]", "does not apply to dataset 'mnist'"]),
])
def test_malformed_suites_are_one_line_before_any_trial(tmp_path, text, needles):
    suite = write_suite(tmp_path, text)
    _one_line_exit_2(_run(str(suite), "--local", "--results", str(tmp_path / "r")), "suite.yaml", *needles)
    _no_trial_started(tmp_path / "r")


def test_results_folder_of_another_suite(tmp_path):
    results = tmp_path / "r"
    alpha = write_suite(tmp_path, TINY.format(name="alpha"), "alpha.yaml")
    assert _run(str(alpha), "--local", "--results", str(results)).exit_code == 0
    # the folder of suite alpha passed as --results
    _one_line_exit_2(_run(str(alpha), "--local", "--results", str(results / "alpha")),
                     f"--results {results / 'alpha'}", "pass its parent folder")
    # alpha's results copied under the name of suite beta
    shutil.copytree(results / "alpha", results / "beta")
    before = {p: p.stat().st_mtime_ns for p in (results / "beta").rglob("*")}
    beta = write_suite(tmp_path, TINY.format(name="beta"), "beta.yaml")
    _one_line_exit_2(_run(str(beta), "--local", "--results", str(results)),
                     "holds results of suite 'alpha', not 'beta'", "beta.yaml")
    assert {p: p.stat().st_mtime_ns for p in (results / "beta").rglob("*")} == before  # nothing touched


def _trained_trial(tmp_path: Path):
    spec = load_suite(write_suite(tmp_path, TINY.format(name="ck"))).expand()[0]
    ctx = TrialContext("ck", str(tmp_path / "ck"))
    assert train_trial(spec, ctx)["status"] == "finished"
    return spec, ctx, tmp_path / "ck" / "trials" / spec.trial_id


def test_unreadable_checkpoints(tmp_path):
    spec, ctx, folder = _trained_trial(tmp_path)
    straight = (folder / "evals.jsonl").read_text()
    whole = (folder / "checkpoint.pt").read_bytes()

    # ganbench eval: a truncated checkpoint and one of random bytes
    for name, data in (("truncated", whole[: len(whole) // 2]), ("garbage", os.urandom(300))):
        copy = tmp_path / name
        copy.mkdir()
        shutil.copy(folder / "spec.json", copy / "spec.json")
        (copy / "checkpoint.pt").write_bytes(data)
        _one_line_exit_2(runner.invoke(app, ["eval", str(copy / "checkpoint.pt"), "--metrics", "modes"]),
                         str(copy / "checkpoint.pt"), "unreadable checkpoint")

    # on resume: the corrupt checkpoint is set aside with a warning and the trial restarts from scratch
    (folder / "checkpoint.pt").write_bytes(whole[: len(whole) // 3])
    (folder / "status.json").write_text(json.dumps({"status": "running", "error": None, "last_step": 0}))
    with pytest.warns(UserWarning, match="unreadable checkpoint.*restarting the trial from scratch"):
        record = train_trial(spec, ctx)
    assert record["status"] == "finished"
    status = read_status(folder)
    assert status["status"] == "finished" and "checkpoint.pt.corrupt" in status["notes"][0]
    assert (folder / "checkpoint.pt.corrupt").read_bytes() == whole[: len(whole) // 3]
    restarted = (folder / "evals.jsonl").read_text()
    strip = [{k: v for k, v in json.loads(line).items() if k != "elapsed_s"} for line in restarted.splitlines()]
    expect = [{k: v for k, v in json.loads(line).items() if k != "elapsed_s"} for line in straight.splitlines()]
    assert strip == expect


def test_a_dataset_that_cannot_be_had(tmp_path):
    suite = write_suite(tmp_path, textwrap.dedent("""\
        name: no_mnist
        datasets: [mnist]
        methods: [gan]
        train: {iterations: 10, eval_every: 5}
        eval: {metrics: [fcd]}
    """))
    (tmp_path / "no_wheels").mkdir()
    env = {**os.environ, "GANBENCH_OFFLINE": "1", "GANBENCH_CACHE": str(tmp_path / "empty_cache"),
           "GANBENCH_MNIST_WHEEL_DIR": str(tmp_path / "no_wheels")}
    proc = subprocess.run([sys.executable, "-m", "ganbench", "run", str(suite), "--local",
                           "--results", str(tmp_path / "r")], cwd=REPO, env=env, capture_output=True, text=True)
    _one_line_exit_2(proc, "suite.yaml", "MNIST is not available", "GANBENCH_MNIST_WHEEL_DIR")
    _no_trial_started(tmp_path / "r")


def test_every_torch_load_is_weights_only():
    """No checkpoint or weight file is unpickled beyond tensors and plain containers."""
    calls = []
    for path in (REPO / "ganbench").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load":
                calls.append(path)
                weights_only = [k for k in node.keywords if k.arg == "weights_only"]
                assert weights_only and ast.unparse(weights_only[0].value) == "True", f"{path}:{node.lineno}"
    assert len(calls) >= 3  # checkpoints, the MNIST cache, classifier weights


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(st.tuples(paths, values), min_size=1, max_size=3),
       garble=st.one_of(st.none(), st.binary(max_size=40)), quick=st.booleans())
def test_validate_cli_on_malformed_suites_never_shows_a_traceback(tmp_path, mutations, garble, quick):
    """``ganbench validate`` end to end (file reading, YAML, schema, the CLI's error path)."""
    doc = json.loads(json.dumps(BASE))
    for path, value in mutations:
        doc = mutate_document(doc, path, value)
    text = yaml.safe_dump(doc).encode()
    if garble is not None:  # bytes spliced in: broken YAML, bad UTF-8, NUL characters
        text = text[: len(text) // 2] + garble + text[len(text) // 2:]
    suite = tmp_path / "fuzz.yaml"
    suite.write_bytes(text)
    result = runner.invoke(app, ["validate", str(suite), *(["--quick"] if quick else [])])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 2) and "Traceback" not in result.output, result.output
    if result.exit_code == 2:
        lines = [line for line in result.output.strip().splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith(f"error: {suite}"), result.output
    else:
        assert ": ok (" in result.output
