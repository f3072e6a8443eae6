"""Plugins: the ~30-line method of docs/plugins.md imported by a suite and trained in-process and
under Ray; a module-name import registering a metric; bad imports as one line naming the suite
file and key; entry points of a tiny distribution installed into a temporary site folder."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from ganbench import registry
from ganbench.cli import app
from ganbench.errors import GanbenchError
from ganbench.registry import METHODS, METRICS, NETS, load_entry_points
from ganbench.runner import run_suite
from ganbench.suite import load_suite
from tests.conftest import REPO, write_suite

runner = CliRunner()

#: a plugin metric imported by module name (from the suite file's folder)
RADIUS_METRIC = '''\
"""mean_radius: the mean distance of generated points from the origin (a test plugin)."""
import torch

from ganbench.metrics.base import LOWER, Metric
from ganbench.registry import METRICS


@METRICS.register("mean_radius")
class MeanRadius(Metric):
    name = "mean_radius"
    outputs = {"mean_radius": LOWER}
    kinds = frozenset({"points"})
    summary = "mean distance of the points from the origin"

    def compute(self, fake, ctx):
        return {"mean_radius": float(fake.norm(dim=1).mean())}, {"n_gen": len(fake)}
'''

SUITE = textwrap.dedent("""\
    name: {name}
    imports: [plugins/rsgan.py, radius_metric]
    datasets: [ring8]
    methods: [rsgan, {{name: rsgan, label: rasgan, params: {{average: true}}}}]
    params: {{width: 16}}
    seeds: [0]
    train: {{iterations: 20, batch_size: 64, eval_every: 10}}
    eval: {{metrics: [modes, mean_radius], num_samples: 200, reference: train}}
    resources: {{cpus_per_trial: 1, gpus_per_trial: 0}}
""")


def docs_example() -> str:
    """The plugin file of docs/plugins.md (its first python block), as a user would save it."""
    text = (REPO / "docs" / "plugins.md").read_text()
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory):
    """A suite folder with the docs' rsgan.py and a metric module; the registrations are undone
    at the end (one path for the whole module: a file is imported once per process)."""
    folder = tmp_path_factory.mktemp("suites")
    (folder / "plugins").mkdir()
    (folder / "plugins" / "rsgan.py").write_text(docs_example())
    (folder / "radius_metric.py").write_text(RADIUS_METRIC)
    yield folder
    METHODS._items.pop("rsgan", None)
    METRICS._items.pop("mean_radius", None)
    for name in [m for m in sys.modules if m.startswith("ganbench_plugin_rsgan") or m == "radius_metric"]:
        del sys.modules[name]


def test_the_docs_example_is_short_and_its_loss_is_the_papers(plugin_dir):
    assert len(docs_example().strip().splitlines()) <= 45
    load_suite(write_suite(plugin_dir, SUITE.format(name="loss")))  # imports the plugin
    module = sys.modules[METHODS.get("rsgan").__module__]
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0])
    # paired: mean(softplus(-(2-0)), softplus(-(0-0))) = (0.126928 + 0.693147) / 2
    assert module.relativistic_loss(real, fake).item() == pytest.approx(0.410038, abs=1e-6)
    # G's side: better = fake, worse = real: mean(softplus(2), softplus(0)) = (2.126928 + 0.693147) / 2
    assert module.relativistic_loss(fake, real).item() == pytest.approx(1.410038, abs=1e-6)
    # average: softplus(-(b - mean w)) over b = (2, 0), mean w = 0 -> 0.410038; plus
    # softplus(w - mean b) over w = (0, 0), mean b = 1 -> softplus(-1) = 0.313262
    assert module.relativistic_loss(real, fake, average=True).item() == pytest.approx(0.723300, abs=1e-6)


def _check_run(results, name, plugin_dir, rows=("rsgan", "rasgan")):
    suite_dir = results / name
    df = pd.read_csv(suite_dir / "results.csv")
    assert set(df["method"]) == set(rows) and set(df["step"]) == {10, 20}
    assert df["mean_radius"].notna().all() and (df["mean_radius"] > 0).all()
    assert df["modes_covered"].between(0, 8).all()
    specs = [json.loads(p.read_text()) for p in (suite_dir / "trials").glob("*/spec.json")]
    assert len(specs) == len(rows) and {s["params"]["average"] for s in specs} == {r == "rasgan" for r in rows}
    for spec in specs:
        assert spec["imports"] == [str((plugin_dir / "plugins" / "rsgan.py").resolve()), "radius_metric"]
        status = json.loads((suite_dir / "trials" / spec["trial_id"] / "status.json").read_text())
        assert status["status"] == "finished", status
        evals = [json.loads(x) for x in (suite_dir / "trials" / spec["trial_id"] / "evals.jsonl").read_text().splitlines()]
        assert all(math.isfinite(e["losses"]["loss_d"]) for e in evals)
    return specs


def test_a_suite_imports_the_plugin_and_runs_it_locally(plugin_dir, tmp_path, one_thread):
    suite = write_suite(plugin_dir, SUITE.format(name="plugin_local"), "local.yaml")
    result = runner.invoke(app, ["run", str(suite), "--local", "--only", "method=rsgan", "--results",
                                 str(tmp_path / "r")])  # one trial here, rasgan's under Ray
    assert result.exit_code == 0, result.output
    assert "rsgan" in result.output
    specs = _check_run(tmp_path / "r", "plugin_local", plugin_dir, rows={"rsgan"})
    # the imports travel with the spec but are not in the trial id: a moved suite keeps its trials
    spec = load_suite(suite).expand()[0]
    moved = type(spec)(**{**spec.__dict__, "imports": ("/elsewhere/rsgan.py",), "import_dir": "/elsewhere"})
    assert moved.trial_id == spec.trial_id and spec.trial_id in {s["trial_id"] for s in specs}
    # a new process evaluates a plugin method's checkpoint: the spec's imports are imported first
    ckpt = tmp_path / "r" / "plugin_local" / "trials" / spec.trial_id / "checkpoint.pt"
    proc = subprocess.run([sys.executable, "-m", "ganbench", "eval", str(ckpt), "--json", "--device", "cpu"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["extra"]["method"] == "rsgan" and out["metrics"] == ["modes", "mean_radius"]


def test_a_ray_worker_imports_the_suites_plugins(plugin_dir, tmp_path, ray_session):
    suite = write_suite(plugin_dir, SUITE.format(name="plugin_ray"), "ray.yaml")
    outcome = run_suite(suite, results_root=tmp_path / "r", only="method=rasgan")  # one trial: cheaper
    assert len(outcome.specs) == 1 and {s["status"] for s in outcome.statuses.values()} == {"finished"}
    _check_run(tmp_path / "r", "plugin_ray", plugin_dir, rows={"rasgan"})  # the worker imported rsgan.py


@pytest.mark.parametrize("entry, text, needles", [
    ("nope.py", None, ["imports[0]", "no such file", "nope.py"]),
    ("broken.py", "import torch\nx = (\n", ["imports[0]", "broken.py", "SyntaxError"]),
    ("raises.py", "raise RuntimeError('no GPU here')\n", ["imports[0]", "raises.py", "RuntimeError", "no GPU here"]),
    ("clash.py", "from ganbench.registry import METHODS\nMETHODS.register('gan')(object)\n",
     ["imports[0]", "clash.py", "'gan' is registered twice"]),
    ("no_such_module_xyz", None, ["imports[0]", "no module named 'no_such_module_xyz'"]),
])
def test_a_bad_import_is_one_line_naming_the_file_and_key(tmp_path, entry, text, needles):
    if text is not None:
        (tmp_path / entry).write_text(text)
    suite = write_suite(tmp_path, f"name: x\nimports: [{entry}]\ndatasets: [ring8]\nmethods: [gan]\n")
    result = runner.invoke(app, ["validate", str(suite)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for needle in [str(suite), *needles]:
        assert needle in result.output, result.output


def _install_dist(site, name, entry_points, files):
    """A distribution as pip would leave it in ``site``: its modules and a .dist-info folder
    whose entry_points.txt importlib.metadata reads."""
    for path, text in files.items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_text(text)
    info = site / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)


EP_MODULE = '''\
"""ep_gan: the non-saturating GAN under another name (a test plugin)."""
from ganbench.methods.gan import NonSaturatingGAN
from ganbench.nets.mlp import MLPGenerator
from ganbench.registry import METHODS


@METHODS.register("ep_gan")
class EntryPointGAN(NonSaturatingGAN):
    name = "ep_gan"


class TinyG(MLPGenerator):
    """Registered under its entry point's name."""
'''


@pytest.fixture
def site(tmp_path, monkeypatch):
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    METHODS._items.pop("ep_gan", None)
    NETS._items.pop("tiny_g", None)
    sys.modules.pop("ep_plugin", None)


def test_entry_points_of_an_installed_dist_register_a_method_and_a_net(site):
    from ganbench.nets import mlp

    assert hasattr(mlp, "MLPGenerator")
    _install_dist(site, "ep-plugin", "[ganbench.methods]\nep_gan = ep_plugin\n\n"
                  "[ganbench.nets]\ntiny_g = ep_plugin:TinyG\n", {"ep_plugin.py": EP_MODULE})
    loaded = load_entry_points()
    assert {"ganbench.methods:ep_gan", "ganbench.nets:tiny_g"} <= set(loaded)
    assert METHODS.get("ep_gan").__name__ == "EntryPointGAN"
    assert NETS.get("tiny_g").__name__ == "TinyG"
    spec = load_suite(write_suite(site, "name: ep\ndatasets: [ring8]\nmethods: [ep_gan]\neval: {metrics: [modes]}\n")).expand()[0]
    assert spec.method == "ep_gan" and not spec.imports


def test_a_broken_entry_point_is_one_line_naming_it(site, monkeypatch):
    _install_dist(site, "bad-plugin", "[ganbench.metrics]\nfancy = not_installed_pkg.fancy\n", {})
    with pytest.raises(GanbenchError, match=r"plugin entry point ganbench\.metrics: fancy = not_installed_pkg\.fancy "
                                            r"\(from bad-plugin 0\.1\): cannot be loaded \(ModuleNotFoundError"):
        load_entry_points()
    # load_builtins keeps raising it: no command runs with a registry that silently lacks it
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.setattr(registry, "_plugin_error", None)
    for _ in range(2):
        with pytest.raises(GanbenchError, match="fancy = not_installed_pkg.fancy"):
            METHODS.get("gan")
    # and the command line says it in one line, exit 2
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    proc = subprocess.run([sys.executable, "-m", "ganbench", "list", "methods"], capture_output=True, text=True,
                          cwd=REPO, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "ganbench.metrics: fancy" in lines[0] and "Traceback" not in proc.stderr
