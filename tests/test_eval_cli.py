"""``ganbench eval`` on a trial checkpoint of a tiny real run, on PNG folders and .npz files of
real MNIST test images, with MLflow logging, and its one-line errors (exit 2)."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient
from PIL import Image
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.data.base import load_dataset
from ganbench.errors import GanbenchError
from ganbench.metrics import reference
from ganbench.metrics.eval_source import EVAL_EXPERIMENT, run_eval
from ganbench.runner import run_suite
from tests.conftest import write_suite

runner = CliRunner()


@pytest.fixture(autouse=True)
def private_refstats(tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.mktemp("refstats")
    monkeypatch.setattr(reference, "cache_dir", lambda: folder)
    reference.clear_memory_cache()
    yield
    reference.clear_memory_cache()


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    """A finished 10-iteration MNIST trial (its folder holds spec.json and checkpoint.pt)."""
    root = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as mp:  # the trial's reference features stay private too
        mp.setattr(reference, "cache_dir", lambda: root / "refstats")
        reference.clear_memory_cache()
        outcome = _tiny_run(root)
        reference.clear_memory_cache()
    spec = outcome.specs[0]
    assert outcome.statuses[spec.trial_id]["status"] == "finished"
    folder = outcome.suite_dir / "trials" / spec.trial_id
    return folder, root / "results"


def _tiny_run(root):
    suite = write_suite(root, textwrap.dedent("""\
        name: tiny_eval
        datasets: [mnist]
        methods: [gan]
        params: {width: 8}
        seeds: [3]
        train: {iterations: 10, batch_size: 16, eval_every: 10}
        eval: {metrics: [fcd, classes, cis], num_samples: 100, reference: test}
    """))
    return run_suite(suite, results_root=root / "results", local=True)


@pytest.fixture(scope="module")
def mnist_images():
    """6 test digits of each class (the first 60 test images hold no 8), as 60×28×28 uint8."""
    x, y = load_dataset("mnist", "test")
    idx = torch.cat([torch.nonzero(y == c)[:6, 0] for c in range(10)]).sort().values  # in test-set order
    return ((x[idx, 0] + 1) * 127.5).round().to(torch.uint8).numpy()


def _pngs(folder, images, mode="L"):
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        pic = Image.fromarray(img, "L")
        (pic.convert(mode) if mode != "L" else pic).save(folder / f"{i:04d}.png")
    return folder


def _one_line_exit_2(result, *needles):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in result.output, result.output


def test_checkpoint_reproduces_the_trial_and_logs_to_mlflow(trial):
    folder, results = trial
    last = [json.loads(line) for line in (folder / "evals.jsonl").read_text().splitlines()][-1]
    # the trial's own n, seed and split: the same numbers as its last evaluation
    again = run_eval(folder / "checkpoint.pt", ["fcd", "classes", "cis"], device="cpu")
    assert again.source_kind == "checkpoint" and again.dataset == "mnist" and again.n == 100
    assert again.extra["iteration"] == 10 and again.extra["noise_seed"] == 3
    for key in ("fcd", "classes_covered", "classes_kl", "cis"):
        assert again.values[key] == pytest.approx(last["values"][key], rel=1e-6, abs=1e-9)

    res = runner.invoke(app, ["eval", str(folder / "checkpoint.pt"), "--dataset", "mnist", "--split", "test",
                              "--metrics", "fcd,cis,classes,prdc_mnist", "--num-samples", "200",
                              "--mlflow", "--results", str(results)])
    assert res.exit_code == 0, res.output
    for key in ("fcd", "cis", "classes_covered", "precision_mnist", "coverage_mnist", "protocol"):
        assert key in res.output
    client = MlflowClient(f"sqlite:///{results.resolve() / 'mlflow.db'}")
    exp = client.get_experiment_by_name(EVAL_EXPERIMENT)
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED" and run.data.tags["ganbench.trial_id"] == folder.name
    assert {"fcd", "cis", "classes_covered", "precision_mnist"} <= set(run.data.metrics)
    assert run.data.params["num_samples"] == "200" and run.data.params["protocol.fcd.n_ref"] == "200"
    assert run.data.params["protocol.prdc_mnist.split"] == "test"


def test_png_folder_and_npz_of_real_digits(tmp_path, mnist_images):
    grey = _pngs(tmp_path / "grey", mnist_images)
    res = runner.invoke(app, ["eval", str(grey), "--dataset", "mnist", "--metrics", "fcd,cis,classes,prdc_mnist"])
    assert res.exit_code == 0, res.output
    result = run_eval(grey, ["fcd", "cis", "classes", "prdc_mnist"], "mnist", device="cpu")
    assert result.n == 60 and result.source_kind == "png"
    assert result.values["cis"] > 3.5 and result.values["classes_covered"] == 10  # 10 splits of 6: IS <= 6
    assert result.values["precision_mnist"] > 0.6 and result.values["recall_mnist"] > 0.6
    assert result.protocols["fcd"]["n_ref"] == 60 and result.protocols["fcd"]["split"] == "test"
    # RGB PNGs of grey digits, and the same pixels as .npz (NHWC uint8, NCHW float): same numbers
    rgb = run_eval(_pngs(tmp_path / "rgb", mnist_images, "RGB"), ["fcd", "cis"], "mnist", device="cpu")
    np.savez(tmp_path / "u8.npz", images=mnist_images[..., None], other=np.zeros(3))
    u8 = run_eval(tmp_path / "u8.npz", ["fcd", "cis"], "mnist", device="cpu")
    np.savez(tmp_path / "f.npz", mnist_images[:, None].astype(np.float32) / 127.5 - 1)
    fl = run_eval(tmp_path / "f.npz", ["fcd", "cis"], "mnist", device="cpu")
    for other in (rgb, u8, fl):
        assert other.values["fcd"] == pytest.approx(result.values["fcd"], rel=1e-5)
        assert other.values["cis"] == pytest.approx(result.values["cis"], rel=1e-6)
    few = run_eval(grey, ["cis"], "mnist", num_samples=20, device="cpu")
    assert few.n == 20 and few.protocols["cis"]["n_gen"] == 20


def test_errors_are_one_line_and_exit_2(tmp_path, mnist_images, trial):
    folder, _ = trial
    bad = tmp_path / "trials" / "x"
    bad.mkdir(parents=True)
    (bad / "spec.json").write_text((folder / "spec.json").read_text())
    (bad / "checkpoint.pt").write_bytes(b"garbage")
    _one_line_exit_2(runner.invoke(app, ["eval", str(bad / "checkpoint.pt"), "--metrics", "cis"]),
                     "unreadable checkpoint")
    (tmp_path / "empty").mkdir()
    _one_line_exit_2(runner.invoke(app, ["eval", str(tmp_path / "empty"), "--dataset", "mnist", "--metrics", "cis"]),
                     "no .png files")
    wide = _pngs(tmp_path / "wide", np.zeros((3, 32, 40), dtype=np.uint8))  # other sizes are resized, not stretched
    _one_line_exit_2(runner.invoke(app, ["eval", str(wide), "--dataset", "mnist", "--metrics", "cis"]),
                     "images are 1×32×40", "needs 1×28×28", "aspect ratio")
    grey = _pngs(tmp_path / "grey", mnist_images[:5])
    _one_line_exit_2(runner.invoke(app, ["eval", str(grey), "--dataset", "mnist", "--metrics", "cis,fcid"]),
                     "unknown metric 'fcid'")
    _one_line_exit_2(runner.invoke(app, ["eval", str(grey), "--dataset", "mnist", "--metrics", "stacked_modes"]),
                     "does not apply")
    _one_line_exit_2(runner.invoke(app, ["eval", str(grey), "--metrics", "cis"]), "--dataset is required")
    _one_line_exit_2(runner.invoke(app, ["eval", str(tmp_path / "nope"), "--dataset", "mnist", "--metrics", "cis"]),
                     "no such file or folder")
    np.savez(tmp_path / "range.npz", images=np.full((4, 1, 28, 28), 300.0, dtype=np.float32))
    _one_line_exit_2(runner.invoke(app, ["eval", str(tmp_path / "range.npz"), "--dataset", "mnist",
                                         "--metrics", "cis"]), "outside [0, 255]")
    with pytest.raises(GanbenchError, match="trained on 'mnist', not 'stacked_mnist'"):
        run_eval(folder / "checkpoint.pt", ["stacked_modes"], "stacked_mnist")
