"""The ``ganbench`` command line (typer + rich).

Every user mistake ends as one line on stderr and exit code 2 (:class:`GanbenchError`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from ganbench.errors import GanbenchError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Benchmark GANs fairly: suites of methods x datasets x seeds.")
data_app = typer.Typer(no_args_is_help=True, help="Datasets: prepare them offline.")
app.add_typer(data_app, name="data")
console = Console(stderr=True)
out = Console()


def _fail(err: GanbenchError) -> None:
    console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
    raise typer.Exit(err.exit_code)


@app.command()
def validate(suite: Path = typer.Argument(..., help="Suite YAML file"),
             quick: bool = typer.Option(False, "--quick", help="Validate with the quick profile applied")):
    """Check a suite file: exit 0, or one line naming the file and key, exit 2."""
    from ganbench.suite import load_suite

    try:
        s = load_suite(suite, quick=quick)
        specs = s.expand()
    except GanbenchError as err:
        _fail(err)
    line = (f"{suite}: ok ({len(specs)} trials: {len(s.datasets)} datasets x {len(s.methods)} methods "
            f"x {len(s.seeds)} seeds)")
    if s.tune is not None:
        from ganbench.tune.sweep import cells_of

        line += (f"; sweep: {len(cells_of(s))} cells x budget {s.tune.budget}, then the defaults and each "
                 f"best re-run with {len(s.seeds)} seeds")
    out.print(line, highlight=False)
    from ganbench.runner import budget_warnings

    for warning in budget_warnings(s, str(suite)):
        console.print(f"[bold yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)


@app.command("list")
def list_(what: str = typer.Argument(..., help="methods | datasets | metrics")):
    """List the registered methods, datasets or metrics."""
    from rich.table import Table

    from ganbench.registry import DATASETS, METHODS, METRICS

    table = Table(show_header=True)
    if what == "methods":
        table.add_column("method"); table.add_column("description"); table.add_column("paper")
        for name, cls in METHODS.items():
            table.add_row(name, cls.description(), cls.paper)
    elif what == "datasets":
        table.add_column("dataset"); table.add_column("kind"); table.add_column("shape")
        for name, cls in DATASETS.items():
            params = getattr(cls, "params_help", None)  # a parametrised family (image_folder)
            table.add_row(name, cls.info.kind, f"({params})" if params else "x".join(map(str, cls.info.shape)))
    elif what == "metrics":
        table.add_column("metric"); table.add_column("values"); table.add_column("applies to"); table.add_column("about")
        for name, cls in METRICS.items():
            values = ", ".join(f"{k} {'↓' if d == 'min' else '↑'}" for k, d in cls.outputs.items())
            scope = ", ".join(sorted(cls.datasets)) if cls.datasets else ", ".join(sorted(cls.kinds))
            table.add_row(name, values, scope, cls.summary)
    else:
        _fail(GanbenchError(f"list: unknown category {what!r} (use methods, datasets or metrics)"))
    out.print(table)


@app.command()
def run(suite: Path = typer.Argument(..., help="Suite YAML file"),
        quick: bool = typer.Option(False, "--quick", help="Use the suite's quick profile"),
        local: bool = typer.Option(False, "--local", help="Run trials in this process, without Ray"),
        address: Optional[str] = typer.Option(None, "--address", help="Join an existing Ray cluster"),
        results: Path = typer.Option(Path("results"), "--results", help="Folder for results and the MLflow store"),
        tracking_uri: Optional[str] = typer.Option(None, "--tracking-uri",
                                                   help="MLflow tracking URI (default: SQLite under --results)")):
    """Train and evaluate every trial of a suite, then write tables and plots."""
    from ganbench.progress import RichProgress
    from ganbench.runner import run_suite

    try:
        with RichProgress(console) as progress:
            outcome = run_suite(suite, quick=quick, local=local, address=address, results_root=results,
                                tracking_uri=tracking_uri, progress=progress)
    except GanbenchError as err:
        _fail(err)
    counts: dict[str, int] = {}
    for st in outcome.statuses.values():
        counts[st.get("status", "unknown")] = counts.get(st.get("status", "unknown"), 0) + 1
    out.print(f"[bold]{outcome.suite.name}[/]: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    tables = outcome.suite_dir / "tables.md"
    if tables.exists():
        out.print(tables.read_text(), markup=False, highlight=False, soft_wrap=True)
    hint = "" if tracking_uri else f" (ganbench ui --results {results})"
    out.print(f"results: {outcome.suite_dir}\nMLflow:  {outcome.tracking_uri}{hint}", highlight=False)


@app.command()
def report(suite_dir: Path = typer.Argument(..., help="A suite's results folder, e.g. results/mnist_all")):
    """Rebuild results.csv, tables and plots from a results folder alone."""
    from ganbench.report.build import build_report
    from ganbench.metrics.evaluate import value_directions

    from ganbench.errors import environment_fault

    if not (suite_dir / "trials").is_dir():
        _fail(GanbenchError(f"{suite_dir}: not a ganbench results folder (no trials/ inside)"))
    try:
        paths = build_report(suite_dir, value_directions(), **_report_extras(suite_dir))
        if (suite_dir / "tune" / "trials.jsonl").exists():
            from ganbench.tune.outputs import write_tune_outputs

            paths.update(write_tune_outputs(suite_dir))
    except Exception as exc:  # a full or read-only disk: one line naming the path
        fault = environment_fault(exc, suite_dir)
        if fault is None:
            raise
        _fail(fault)
    for name, path in paths.items():
        out.print(f"{name}: {path}", highlight=False)


def _report_extras(suite_dir: Path) -> dict:
    import json

    from ganbench.data.base import get_dataset

    extras: dict = {}
    try:
        meta = json.loads((suite_dir / "suite.json").read_text())
    except (OSError, ValueError):
        return extras
    extras["trial_ids"] = meta.get("trials")
    extras["methods"] = [m.get("label") or m["name"] for m in meta.get("suite", {}).get("methods", [])] or None
    extras["time_to"] = meta.get("suite", {}).get("eval", {}).get("time_to") or None
    centres = {}
    for d in meta.get("suite", {}).get("datasets", []):
        try:
            c = get_dataset(d).info.extras.get("centres")
        except GanbenchError:
            c = None
        if c:
            centres[d] = c
    extras["centres"] = centres
    if (suite_dir / "tune" / "sweep.json").exists():
        from ganbench.tune.sweep import note_from_sweep_json, report_rows

        extras["methods"] = report_rows(suite_dir) or extras["methods"]
        extras["note"] = note_from_sweep_json(suite_dir)
    return extras


@app.command()
def ui(results: Path = typer.Option(Path("results"), "--results", help="Results folder holding mlflow.db"),
       port: int = typer.Option(5000, "--port"),
       host: str = typer.Option("127.0.0.1", "--host"),
       create: bool = typer.Option(False, "--create",
                                   help="Start even without a store yet (the tracking server of a cluster run)")):
    """Start the MLflow UI on this store; Ctrl-C stops it and everything it started.

    On a Ray head node, ``--host 0.0.0.0 --create`` makes it the tracking server that
    ``ganbench run --tracking-uri http://<head>:<port>`` logs to from every node.
    """
    from ganbench.ui import serve

    try:
        serve(results, host, port, create)
    except GanbenchError as err:
        _fail(err)


@data_app.command("prepare")
def data_prepare(name: str = typer.Argument(..., help="Dataset name, e.g. mnist"),
                 from_: Optional[Path] = typer.Option(None, "--from", help="A local copy in the official format "
                                                      "(e.g. cifar-10-python.tar.gz, the fashion-mnist .deb)")):
    """Fetch/convert a dataset into the ganbench cache so that runs need no network."""
    from ganbench.data.base import get_dataset
    from ganbench.paths import cache_dir

    try:
        ds = get_dataset(name)
        if from_ is None:
            ds.prepare()
        elif hasattr(ds, "prepare_from"):
            ds.prepare_from(from_)
        else:
            raise GanbenchError(f"data prepare {name}: --from is not supported for this dataset")
    except GanbenchError as err:
        _fail(err)
    out.print(f"{name}: ready in {cache_dir()}", highlight=False)


@app.command("eval")
def eval_(source: Path = typer.Argument(..., help="trials/<id>/checkpoint.pt, a folder of PNGs, or an .npz"),
          dataset: Optional[str] = typer.Option(None, "--dataset", help="Dataset (a checkpoint's own by default)"),
          split: str = typer.Option("test", "--split", help="Reference split"),
          metrics: Optional[str] = typer.Option(None, "--metrics",
                                                help="Comma-separated metrics (a checkpoint's suite metrics by default)"),
          num_samples: Optional[int] = typer.Option(None, "--num-samples",
                                                    help="Samples to draw / images to read (default: the trial's n / all)"),
          seed: Optional[int] = typer.Option(None, "--seed", help="Noise seed for a checkpoint (default: the trial's)"),
          device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, ... (default: cuda if available)"),
          mlflow: bool = typer.Option(False, "--mlflow", help="Log a run to the results store's MLflow"),
          results: Path = typer.Option(Path("results"), "--results", help="Results folder holding mlflow.db"),
          tracking_uri: Optional[str] = typer.Option(None, "--tracking-uri", help="MLflow tracking URI")):
    """Compute metrics of a trial checkpoint, a PNG folder or an .npz of images."""
    from rich.table import Table

    from ganbench.metrics.eval_source import log_to_mlflow, run_eval
    from ganbench.registry import METRICS
    from ganbench.tracking import default_tracking_uri

    names = [m.strip() for m in metrics.split(",") if m.strip()] if metrics is not None else None
    try:
        result = run_eval(source, names, dataset, split, num_samples, seed, device)
        run_id = None
        if mlflow:
            uri = tracking_uri or default_tracking_uri(results)
            results.mkdir(parents=True, exist_ok=True)
            run_id = log_to_mlflow(result, uri, results / "mlartifacts")
    except GanbenchError as err:
        _fail(err)
    title = f"{result.source} ({result.source_kind}, {result.dataset}, n={result.n}, reference {result.split})"
    values = Table(title=title, show_header=True)
    for col in ("value key", "value", "better", "metric"):
        values.add_column(col)
    protocol = Table(title="protocol", show_header=True)
    for col in ("metric", "n gen", "n ref", "split", "extractor", "weights sha1", "resize"):
        protocol.add_column(col)
    for name in result.metrics:
        p = result.protocols.get(name, {})
        for key, direction in METRICS.get(name).outputs.items():
            if key in result.values:
                values.add_row(key, f"{result.values[key]:.6g}", "↓" if direction == "min" else "↑", name)
        protocol.add_row(name, str(p.get("n_gen", "")), str(p.get("n_ref", "")), str(p.get("split", "")),
                         str(p.get("extractor", "")), str(p.get("weights_sha1", ""))[:12],
                         str(p.get("resize", "")))
    out.print(values)
    out.print(protocol)
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
    out.print(f"time: {timing}" + (f"\nMLflow run {run_id} in {tracking_uri or default_tracking_uri(results)}"
                                    if run_id else ""), highlight=False, soft_wrap=True)


def main() -> None:  # pragma: no cover - console entry point wrapper
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    app()
