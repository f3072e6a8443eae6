"""``ganbench eval`` and ``ganbench.evaluate`` on anything: pixel ranges given, detected or refused;
other image sizes resized with the protocol's resize; --json; default metrics; small-n warnings;
source_sha of the bytes; cIS and IS independent of the images' order; the Python API."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import ganbench
from ganbench.cli import app
from ganbench.data.base import get_dataset, load_dataset
from ganbench.errors import GanbenchError
from ganbench.metrics import reference
from ganbench.metrics.cis import canonical_order, inception_score, order_free
from ganbench.metrics.eval_source import default_metrics, resize_images, run_eval, small_n_warnings
from ganbench.metrics.evaluate import compute_metrics
from tests.conftest import REPO

runner = CliRunner()


@pytest.fixture(autouse=True)
def private_refstats(tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.mktemp("refstats")
    monkeypatch.setattr(reference, "cache_dir", lambda: folder)
    reference.clear_memory_cache()
    yield
    reference.clear_memory_cache()


@pytest.fixture(scope="module")
def digits():
    """The first 120 MNIST test digits as uint8 N×28×28."""
    x, _ = load_dataset("mnist", "test")
    return ((x[:120, 0] + 1) * 127.5).round().to(torch.uint8).numpy()


def _one_line_exit_2(result, *needles):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in result.output, result.output


def test_pixel_ranges_are_given_or_detected_and_ambiguity_is_refused(tmp_path, digits, one_thread):
    metrics = ["fcd", "cis"]
    np.savez(tmp_path / "u8.npz", images=digits)
    base = run_eval(tmp_path / "u8.npz", metrics, "mnist", device="cpu")
    assert base.input["input_range"] == "uint8 0..255"
    unit = digits.astype(np.float32) / 255.0
    np.savez(tmp_path / "unit.npz", images=unit)
    # [0, 1] floats fit [-1, 1] too: refused in one line, never guessed
    _one_line_exit_2(runner.invoke(app, ["eval", str(tmp_path / "unit.npz"), "--dataset", "mnist", "--metrics", "cis"]),
                     "fit both [0, 1] and [-1, 1]", "--range 0,1")
    given = run_eval(tmp_path / "unit.npz", metrics, "mnist", device="cpu", value_range="0,1")
    assert given.protocols["fcd"]["input_range"] == "float [0, 1] (given)"
    # read as [-1, 1] (the silent misread this replaces) the same digits look like grey smudges
    misread = run_eval(tmp_path / "unit.npz", metrics, "mnist", device="cpu", value_range="-1,1")
    assert misread.values["fcd"] > 3 * base.values["fcd"]
    np.savez(tmp_path / "signed.npz", images=unit * 2 - 1)
    signed = run_eval(tmp_path / "signed.npz", metrics, "mnist", device="cpu")
    assert signed.input["input_range"] == "float [-1, 1] (detected: values below 0)"
    np.savez(tmp_path / "f255.npz", images=digits.astype(np.float64))
    f255 = run_eval(tmp_path / "f255.npz", metrics, "mnist", device="cpu")
    assert f255.input["input_range"] == "float [0, 255] (detected: values above 1)"
    for other in (given, signed, f255):
        assert other.values["fcd"] == pytest.approx(base.values["fcd"], rel=1e-5)
        assert other.values["cis"] == pytest.approx(base.values["cis"], rel=1e-5)
    # a range that the values leave, uint8 with a float range, and an unknown range: one line each
    _one_line_exit_2(runner.invoke(app, ["eval", str(tmp_path / "f255.npz"), "--dataset", "mnist", "--metrics", "cis",
                                         "--range", "0,1"]), "outside [0, 1] (given)")
    _one_line_exit_2(runner.invoke(app, ["eval", str(tmp_path / "u8.npz"), "--dataset", "mnist", "--metrics", "cis",
                                         "--range", "-1,1"]), "uint8 pixels are 0..255")
    _one_line_exit_2(runner.invoke(app, ["eval", str(tmp_path / "u8.npz"), "--dataset", "mnist", "--metrics", "cis",
                                         "--range", "0,2"]), "--range 0,2", "0,1, -1,1, 0,255")


def test_other_sizes_are_resized_with_the_protocols_resize(tmp_path, digits, one_thread):
    # the clean resize is clean-fid's own resizer (PIL bicubic on float pixels, per channel)
    from cleanfid.resize import make_resizer

    rgb = np.random.default_rng(0).uniform(0, 255, (3, 40, 40, 3)).astype(np.float32)
    theirs = np.stack([make_resizer("PIL", False, "bicubic", (28, 28))(img) for img in rgb])
    ours = resize_images(torch.from_numpy(rgb).permute(0, 3, 1, 2) / 127.5 - 1, (28, 28), "clean")
    np.testing.assert_allclose((ours.permute(0, 2, 3, 1).numpy() + 1) * 127.5, theirs, atol=2e-3)

    big = np.stack([np.asarray(Image.fromarray(d).resize((56, 56), Image.BICUBIC)) for d in digits])
    folder = tmp_path / "big"
    folder.mkdir()
    for i, img in enumerate(big):
        Image.fromarray(img).save(folder / f"{i:03d}.png")
    res = runner.invoke(app, ["eval", str(folder), "--dataset", "mnist", "--metrics", "cis,classes"])
    assert res.exit_code == 0, res.output
    assert "resized: 56×56 -> 28×28, PIL bicubic on float pixels (clean-fid 'clean')" in res.output
    resized = run_eval(folder, ["cis", "classes"], "mnist", device="cpu")
    assert resized.protocols["cis"]["input_resize"].startswith("56×56 -> 28×28")
    assert resized.values["classes_covered"] == 10 and resized.values["cis"] > 5  # still digits
    legacy = run_eval(folder, ["cis"], "mnist", device="cpu", resize="legacy_tensorflow")
    assert "TF 1.x bilinear" in legacy.protocols["cis"]["input_resize"]
    np.savez(tmp_path / "wide.npz", images=np.zeros((4, 28, 40), np.uint8))
    _one_line_exit_2(runner.invoke(app, ["eval", str(tmp_path / "wide.npz"), "--dataset", "mnist"]),
                     "another aspect ratio")


def test_json_default_metrics_warnings_and_the_sha_of_the_bytes(tmp_path, digits, one_thread):
    np.savez(tmp_path / "d.npz", images=digits[:60])
    res = runner.invoke(app, ["eval", str(tmp_path / "d.npz"), "--dataset", "mnist", "--json", "--mlflow",
                              "--results", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["metrics"] == ["fcd", "cis", "classes", "prdc_mnist"] and out["default_metrics"] is True
    assert {"fcd", "cis", "classes_covered", "precision_mnist", "recall_mnist", "coverage_mnist"} <= set(out["values"])
    # n = 60: below FCD's 128-d features, and under the n cIS's splits and k-NN radii need
    assert "below the 128-d features" in out["warnings"]["fcd"]
    assert out["protocols"]["fcd"]["warning"] == out["warnings"]["fcd"]
    assert set(out["warnings"]) == {"fcd", "cis", "prdc_mnist"}
    assert "warning: fcd: n=60" in res.stderr
    sha = hashlib.sha256((tmp_path / "d.npz").read_bytes()).hexdigest()
    assert out["source_sha"] == sha and out["protocols"]["cis"]["source_sha"] == sha
    shutil.copy(tmp_path / "d.npz", tmp_path / "copy.npz")  # the bytes, not the path
    assert run_eval(tmp_path / "copy.npz", ["cis"], "mnist", device="cpu").source_sha == sha
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{(tmp_path / 'r').resolve() / 'mlflow.db'}")
    run = client.search_runs([client.get_experiment_by_name("ganbench-eval").experiment_id])[0]
    assert run.data.params["source_sha"] == sha and run.info.run_id == out["mlflow_run_id"]

    assert default_metrics(get_dataset("ring8").info) == ["modes"]
    assert default_metrics(get_dataset("stacked_mnist").info) == ["stacked_modes"]
    assert "singular" in small_n_warnings(["fid"], 2047)["fid"] and "fid" not in small_n_warnings(["fid"], 2048)
    assert "n=500 < 2000" in small_n_warnings(["fcd"], 500)["fcd"]
    assert small_n_warnings(["fid", "fcd", "cis", "kid", "modes"], 10000) == {}
    assert set(small_n_warnings(["fcd", "cis", "modes"], 500)) == {"fcd", "cis"}


def test_cis_and_is_splits_do_not_depend_on_the_order_of_the_images(one_thread):
    x, y = load_dataset("mnist", "test")
    x, y = x[:1000], y[:1000]
    by_label = torch.argsort(y, stable=True)
    mixed, _ = compute_metrics(x, "mnist", ["cis"])
    sorted_, proto = compute_metrics(x[by_label], "mnist", ["cis"])
    assert sorted_["cis"] == mixed["cis"] and mixed["cis"] > 8.5
    assert "RandomState(2020)" in proto["cis"]["shuffle"]
    # consecutive splits of the label-sorted digits (the old estimate): each split ~ one class
    from ganbench.metrics.features import extract_shared
    from ganbench.metrics.mnist_classifier import ClassifierExtractor

    logits = extract_shared(ClassifierExtractor("mnist"), x[by_label], "cpu")["logits"]
    assert inception_score(logits)[0] < 2.0
    # IS: torch-fidelity's shuffle of the canonical order; the same for any order, and equal to
    # ganbench's own IS algebra on order_free logits
    from torch_fidelity.metric_isc import isc_features_to_metric

    z = np.random.default_rng(1).normal(size=(300, 1008)).astype(np.float32) * 3
    perm = np.random.default_rng(2).permutation(300)
    a = isc_features_to_metric(torch.from_numpy(canonical_order(z)), splits=10, rng_seed=2020)
    b = isc_features_to_metric(torch.from_numpy(canonical_order(z[perm])), splits=10, rng_seed=2020)
    assert a == b
    assert inception_score(order_free(z[perm]))[0] == pytest.approx(a["inception_score_mean"], rel=1e-9)


def test_the_python_api(tmp_path, digits, one_thread):
    proc = subprocess.run([sys.executable, "-c", "import sys, ganbench; print('torch' in sys.modules, "
                           "callable(ganbench.evaluate))"], capture_output=True, text=True, cwd=REPO)
    assert proc.stdout.split() == ["False", "True"], proc.stderr  # import ganbench stays light
    np.savez(tmp_path / "d.npz", images=digits)
    from_file = ganbench.evaluate(tmp_path / "d.npz", dataset="mnist", metrics=["fcd", "cis"], device="cpu")
    from_array = ganbench.evaluate(torch.from_numpy(digits), dataset="mnist", metrics=["fcd", "cis"], device="cpu")
    assert from_array.values == pytest.approx(from_file.values, rel=1e-6) and from_array.source_kind == "array"

    torch.manual_seed(0)
    G = torch.nn.Sequential(torch.nn.Linear(8, 784), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 28, 28)))
    one = ganbench.evaluate(G, dataset="mnist", metrics=["cis", "classes"], n=50, z_dim=8, device="cpu", seed=3)
    two = ganbench.evaluate(G, dataset="mnist", metrics=["cis", "classes"], n=50, z_dim=8, device="cpu", seed=3)
    assert one.values == two.values and one.n == 50 and one.protocols["cis"]["noise_seed"] == 3
    assert "cis" in one.warnings  # n = 50
    with pytest.raises(GanbenchError, match="give its z_dim"):
        ganbench.evaluate(G, dataset="mnist", metrics=["cis"], n=10, device="cpu")

    real = torch.from_numpy(digits).float().div(255).unsqueeze(1)  # a "generator" of [0, 1] images

    def sample(n, generator):
        return real[torch.randint(len(real), (n,), generator=generator)]

    with pytest.raises(GanbenchError, match="fit both"):
        ganbench.evaluate(sample, dataset="mnist", metrics=["cis"], n=40, device="cpu")
    drawn = ganbench.evaluate(sample, dataset="mnist", metrics=["classes"], n=40, device="cpu", value_range=(0, 1))
    assert drawn.input["input_range"] == "float [0, 1] (given)" and drawn.values["classes_covered"] >= 5

    from ganbench.registry import METHODS

    cls = METHODS.get("gan")
    info = get_dataset("mnist").info
    method = cls(cls.Params(**cls.resolve_params({"width": 8}, info)), info, "cpu")
    out = ganbench.evaluate(method, dataset="mnist", metrics=["classes"], n=20, device="cpu")
    assert out.source_kind == "method" and out.n == 20
