"""The command line's conveniences: --version, --set overrides, --only filters, --dry-run,
"did you mean", fast errors before torch is imported, ``ganbench show``, dataset descriptions."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

from typer.testing import CliRunner

from ganbench import __version__
from ganbench.cli import app
from ganbench.suite import load_suite
from tests.conftest import REPO, write_suite

runner = CliRunner()


def _flat(text: str) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(text.split())

SUITE = textwrap.dedent("""\
    name: cli_more
    datasets: [ring8, grid25]
    methods: [gan, {name: wgan_gp, label: wgp5, params: {lambda_gp: 5}}, hinge]
    params: {width: 16}
    seeds: [0, 1]
    train: {iterations: 2000, batch_size: 64, eval_every: 500}
    eval: {metrics: [modes], num_samples: 1000, reference: train}
    quick: {seeds: [0], train: {iterations: 200, eval_every: 100}}
""")


def _one_line_exit_2(result, *needles):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in result.output, result.output  # errors are printed with soft_wrap


def _ids(output: str) -> list[str]:
    return re.findall(r"^│ ([0-9a-f]{12}) ", output, re.M)


def test_version():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"ganbench {__version__}"


def test_set_overrides_only_filters_and_dry_run(tmp_path):
    suite = write_suite(tmp_path, SUITE)
    full = load_suite(suite).expand()
    assert len(full) == 2 * 3 * 2
    res = runner.invoke(app, ["validate", str(suite), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert _ids(res.output) == [s.trial_id for s in full] and "12 trials" in res.output
    assert "lambda_gp=5" in res.output and "wgp5 (wgan_gp)" in res.output

    # --set: applied before validation; the trials are those of the edited file
    res = runner.invoke(app, ["validate", str(suite), "--set", "train.iterations=100", "--set", "train.eval_every=50",
                              "--set", "methods[1].params.lambda_gp=1", "--dry-run"])
    assert res.exit_code == 0, res.output
    edited = write_suite(tmp_path, SUITE.replace("iterations: 2000, batch_size: 64, eval_every: 500",
                                                 "iterations: 100, batch_size: 64, eval_every: 50")
                         .replace("lambda_gp: 5", "lambda_gp: 1"), "edited.yaml")
    assert _ids(res.output) == [s.trial_id for s in load_suite(edited).expand()]
    # with --quick the command line wins over the quick profile
    quick = load_suite(suite, quick=True, sets=["train.iterations=300"])
    assert quick.train.iterations == 300 and quick.train.eval_every == 100 and quick.seeds == [0]

    # --only: rows by label or method name, datasets, seeds; the same trial ids as the full grid
    res = runner.invoke(app, ["validate", str(suite), "--only", "method=wgp5,hinge,dataset=grid25,seed=1", "--dry-run"])
    assert res.exit_code == 0, res.output
    want = [s.trial_id for s in full if s.dataset == "grid25" and s.seed == 1 and s.method in ("wgan_gp", "hinge")]
    assert _ids(res.output) == want and len(want) == 2
    assert "2 trials: 1 datasets x 2 methods x 1 seeds" in _flat(res.output)

    # run --dry-run lists and trains nothing
    res = runner.invoke(app, ["run", str(suite), "--dry-run", "--only", "method=gan", "--results", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert len(_ids(res.output)) == 4 and "nothing was trained" in _flat(res.output) and not (tmp_path / "r").exists()


def test_mistakes_are_one_line_with_did_you_mean(tmp_path):
    suite = write_suite(tmp_path, SUITE)
    _one_line_exit_2(runner.invoke(app, ["validate", str(suite), "--set", "train.iteratons=5"]),
                     "train.iteratons: unknown key (did you mean 'iterations'?)", "--set train.iteratons=5")
    _one_line_exit_2(runner.invoke(app, ["validate", str(suite), "--set", "train.iterations=many"]),
                     "train.iterations: expected an integer, got 'many'")
    _one_line_exit_2(runner.invoke(app, ["validate", str(suite), "--set", "iterations"]), "expected key.path=value")
    _one_line_exit_2(runner.invoke(app, ["validate", str(suite), "--set", "methods[7].params.width=3"]),
                     "methods[7]: index out of range")
    _one_line_exit_2(runner.invoke(app, ["run", str(suite), "--only", "method=hinje", "--dry-run"]),
                     "no method 'hinje'", "did you mean 'hinge'?")
    _one_line_exit_2(runner.invoke(app, ["validate", str(suite), "--only", "datset=ring8"]),
                     "unknown key 'datset' (did you mean 'dataset'?)")
    bad = write_suite(tmp_path, SUITE.replace("hinge]", "wgan_gpp]").replace("[modes]", "[mode]"), "bad.yaml")
    _one_line_exit_2(runner.invoke(app, ["validate", str(bad)]), "methods[2].name", "did you mean 'wgan_gp'")
    fixed = write_suite(tmp_path, SUITE.replace("[modes]", "[mode]"), "bad2.yaml")
    _one_line_exit_2(runner.invoke(app, ["validate", str(fixed)]), "eval.metrics[0]", "did you mean 'modes'")
    typo = write_suite(tmp_path, SUITE.replace("seeds: [0, 1]", "sedes: [0, 1]"), "bad3.yaml")
    _one_line_exit_2(runner.invoke(app, ["validate", str(typo)]), "sedes: unknown key (did you mean 'seeds'?)")
    _one_line_exit_2(runner.invoke(app, ["list", "method"]), "did you mean 'methods'")
    _one_line_exit_2(runner.invoke(app, ["show", "wgan_gpp"]), "unknown method 'wgan_gpp'", "did you mean 'wgan_gp'")


def test_a_missing_suite_or_source_fails_before_torch_is_imported(tmp_path):
    code = textwrap.dedent(f"""\
        import sys
        from ganbench.cli import app
        for argv in (["validate", "{tmp_path}/nope.yaml"], ["run", "{tmp_path}/nope.yaml"],
                     ["eval", "{tmp_path}/nope.npz", "--dataset", "mnist"]):
            try:
                app(argv)
            except SystemExit as exit:
                print(exit.code)
        print(sorted(m for m in ("torch", "ray", "mlflow", "ganbench.suite") if m in sys.modules))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.stdout.split("\n")[:4] == ["2", "2", "2", "[]"], proc.stdout + proc.stderr
    assert proc.stderr.count("error:") == 3 and "no such suite file" in proc.stderr and "Traceback" not in proc.stderr


def test_show_a_method_and_list_dataset_descriptions():
    res = runner.invoke(app, ["show", "wgan_gp"])
    assert res.exit_code == 0, res.output
    assert "Gulrajani et al. 2017" in _flat(res.output) and "gradient penalty" in _flat(res.output)
    row = next(line for line in res.output.splitlines() if "lambda_gp" in line)
    assert "float" in row and "10.0" in row
    assert re.search(r"z_dim .*100 on images, 2 on points", res.output)
    res = runner.invoke(app, ["list", "datasets"])
    assert res.exit_code == 0, res.output
    rows = {line.split("│")[1].strip(): line for line in res.output.splitlines() if line.count("│") > 3}
    assert "Stacked MNIST:" in rows["stacked_mnist"] and "CIFAR-10" in rows["cifar10"]
