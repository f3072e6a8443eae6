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


#: whether this process already printed the line of an interruption (errors.Interrupted)
_reported = {"interrupted": False}


def _fail(err: GanbenchError) -> None:
    prefix = "" if err.exit_code == 130 else "[bold red]error:[/] "  # Ctrl-C (errors.Interrupted): no mistake
    _reported["interrupted"] = _reported["interrupted"] or err.exit_code == 130
    console.print(f"{prefix}{err}", highlight=False, soft_wrap=True)
    raise typer.Exit(err.exit_code)


def _version(value: bool) -> None:
    if value:
        from ganbench import __version__

        out.print(f"ganbench {__version__}", highlight=False)
        raise typer.Exit(0)


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit")):
    """Benchmark GANs fairly: suites of methods x datasets x seeds."""


def _suite_file_first(suite: Path) -> None:
    """The suite file's one-line errors before anything heavy (torch, Ray) is imported."""
    if not suite.exists():
        _fail(GanbenchError(f"{suite}: no such suite file"))
    if suite.is_dir():
        _fail(GanbenchError(f"{suite}: is a folder, not a suite file"))


_SET_HELP = "Override a suite key before validation, e.g. --set train.iterations=100 (repeatable)"
_ONLY_HELP = ("Run only some rows: method=gan,wgan_gp,dataset=mnist,seed=0 (a row label, or every row of a "
              "method name)")
_DRY_HELP = "List the expanded trials (id, method, dataset, seed, key params) and stop"


def _print_trials(s, specs) -> None:
    """The ``--dry-run`` table: one row per expanded trial."""
    from rich.table import Table

    from ganbench.registry import METHODS

    table = Table(title=f"{s.name}: {len(specs)} trials", show_header=True)
    for col in ("trial id", "row", "dataset", "seed", "iterations", "key params"):
        table.add_column(col)
    for spec in specs:
        cls = METHODS.get(spec.method)
        defaults = {k: f.default for k, f in cls.Params.model_fields.items()}
        changed = [f"{k}={v}" for k, v in spec.params if defaults.get(k, object()) != v]
        row = spec.label if spec.label and spec.label != spec.method else spec.method
        if row != spec.method:
            row += f" ({spec.method})"
        table.add_row(spec.trial_id, row, spec.dataset, str(spec.seed), str(spec.iterations),
                      " ".join(changed))
    out.print(table)


@app.command()
def validate(suite: Path = typer.Argument(..., help="Suite YAML file"),
             quick: bool = typer.Option(False, "--quick", help="Validate with the quick profile applied"),
             set_: Optional[list[str]] = typer.Option(None, "--set", help=_SET_HELP),
             only: Optional[str] = typer.Option(None, "--only", help=_ONLY_HELP),
             dry_run: bool = typer.Option(False, "--dry-run", help=_DRY_HELP)):
    """Check a suite file: exit 0, or one line naming the file and key, exit 2."""
    _suite_file_first(suite)
    from ganbench.suite import load_suite

    try:
        s = load_suite(suite, quick=quick, sets=set_ or (), only=only)
        specs = s.expand()
        if dry_run:
            _print_trials(s, specs)
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

    from ganbench.registry import DATASETS, METHODS, METRICS, load_builtins

    try:
        load_builtins()
    except GanbenchError as err:  # a broken plugin
        _fail(err)
    table = Table(show_header=True)
    if what == "methods":
        table.add_column("method"); table.add_column("description"); table.add_column("paper")
        for name, cls in METHODS.items():
            table.add_row(name, cls.description(), cls.paper)
    elif what == "datasets":
        table.add_column("dataset"); table.add_column("kind"); table.add_column("shape")
        table.add_column("description")
        for name, cls in DATASETS.items():
            params = getattr(cls, "params_help", None)  # a parametrised family (image_folder)
            table.add_row(name, cls.info.kind, f"({params})" if params else "x".join(map(str, cls.info.shape)),
                          _first_paragraph(cls))
    elif what == "metrics":
        table.add_column("metric"); table.add_column("values"); table.add_column("applies to"); table.add_column("about")
        from ganbench.metrics.base import ARROWS

        for name, cls in METRICS.items():
            values = ", ".join(f"{k} {ARROWS.get(d, d)}" for k, d in cls.outputs.items())
            scope = ", ".join(sorted(cls.datasets)) if cls.datasets else ", ".join(sorted(cls.kinds))
            table.add_row(name, values, scope, cls.summary)
    else:
        from ganbench.registry import did_you_mean

        _fail(GanbenchError(f"list: unknown category {what!r}{did_you_mean(what, ['methods', 'datasets', 'metrics'])} "
                            "(use methods, datasets or metrics)"))
    out.print(table)


def _first_paragraph(obj) -> str:
    """The first paragraph of a class's own docstring, else of its module's, on one line."""
    import sys

    doc = obj.__dict__.get("__doc__") or getattr(sys.modules.get(obj.__module__), "__doc__", None) or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def _type_name(annotation) -> str:
    import typing

    if getattr(annotation, "__origin__", None) is typing.Literal:
        return " | ".join(repr(a) for a in annotation.__args__)
    name = getattr(annotation, "__name__", None)
    if name and not getattr(annotation, "__args__", None):
        return name
    return str(annotation).replace("typing.", "").replace("NoneType", "None")


@app.command()
def show(method: str = typer.Argument(..., help="A method name, as in 'ganbench list methods'")):
    """A method's paper, description and hyperparameters (types and defaults)."""
    from rich.table import Table

    from ganbench.data.base import DatasetInfo
    from ganbench.registry import METHODS

    try:
        cls = METHODS.get(method)
    except GanbenchError as err:
        _fail(err)
    title = getattr(cls, "display_name", "") or method
    head = f"[bold]{title}[/]" + (f" ({method})" if title != method else "")
    out.print(head + (f" — {cls.paper}" if cls.paper else ""), highlight=False)
    out.print(cls.description() or _first_paragraph(cls), highlight=False, soft_wrap=True)
    import inspect
    import sys

    record = inspect.cleandoc(getattr(sys.modules.get(cls.__module__), "__doc__", None) or "")
    rest = record.split("\n\n", 1)[1] if "\n\n" in record else ""
    if rest:  # the module docstring is the method's record: equations, defaults, departures
        out.print("\n" + rest, markup=False, highlight=False, soft_wrap=True)
    kinds = {"images": DatasetInfo("images", "image", (1, 28, 28)), "points": DatasetInfo("points", "points", (2,))}
    by_kind = {k: cls.data_defaults(info) for k, info in kinds.items()}
    table = Table(title="hyperparameters (params: in a suite)", show_header=True)
    for col in ("name", "type", "default", "about"):
        table.add_column(col)
    for name, field in cls.Params.model_fields.items():
        default = repr(field.default)
        data = {k: d[name] for k, d in by_kind.items() if name in d}
        if data:
            default = ", ".join(f"{v!r} on {k}" for k, v in data.items())
        table.add_row(name, _type_name(field.annotation), default, field.description or "")
    out.print(table)
    module = __import__("sys").modules.get(cls.__module__)
    if module is not None and getattr(module, "__file__", None):
        out.print(f"source: {module.__file__}", highlight=False, soft_wrap=True)


@app.command()
def run(suite: Path = typer.Argument(..., help="Suite YAML file"),
        quick: bool = typer.Option(False, "--quick", help="Use the suite's quick profile"),
        local: bool = typer.Option(False, "--local", help="Run trials in this process, without Ray"),
        address: Optional[str] = typer.Option(None, "--address", help="Join an existing Ray cluster"),
        results: Path = typer.Option(Path("results"), "--results", help="Folder for results and the MLflow store"),
        tracking_uri: Optional[str] = typer.Option(None, "--tracking-uri",
                                                   help="MLflow tracking URI (default: SQLite under --results)"),
        set_: Optional[list[str]] = typer.Option(None, "--set", help=_SET_HELP),
        only: Optional[str] = typer.Option(None, "--only", help=_ONLY_HELP),
        dry_run: bool = typer.Option(False, "--dry-run", help=_DRY_HELP)):
    """Train and evaluate every trial of a suite, then write tables and plots."""
    _suite_file_first(suite)
    if dry_run:
        from ganbench.suite import load_suite

        try:
            s = load_suite(suite, quick=quick, sets=set_ or (), only=only)
            _print_trials(s, s.expand())
        except GanbenchError as err:
            _fail(err)
        out.print("dry run: nothing was trained", highlight=False)
        return
    from ganbench.progress import RichProgress
    from ganbench.runner import run_suite

    try:
        with RichProgress(console) as progress:
            outcome = run_suite(suite, quick=quick, local=local, address=address, results_root=results,
                                tracking_uri=tracking_uri, progress=progress, sets=set_ or (), only=only)
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
    if not (suite_dir / "trials").is_dir():  # before torch is imported
        _fail(GanbenchError(f"{suite_dir}: not a ganbench results folder (no trials/ inside)"))
    from ganbench.report.build import build_report
    from ganbench.metrics.evaluate import value_directions

    from ganbench.errors import environment_fault

    try:
        _import_suite_plugins(suite_dir)
    except GanbenchError as err:
        _fail(err)
    try:
        paths = build_report(suite_dir, value_directions(), **_report_extras(suite_dir))
        if (suite_dir / "tune" / "trials.jsonl").exists():
            from ganbench.tune.outputs import write_tune_outputs

            paths.update(write_tune_outputs(suite_dir))
        from ganbench.tracking import log_report_to_store

        run_id = log_report_to_store(suite_dir)  # the suite's parent run carries the rebuilt report
        if run_id:
            paths["MLflow run"] = run_id
    except Exception as exc:  # a full or read-only disk: one line naming the path
        fault = environment_fault(exc, suite_dir)
        if fault is None:
            raise
        _fail(fault)
    for name, path in paths.items():
        out.print(f"{name}: {path}", highlight=False)


def _import_suite_plugins(suite_dir: Path) -> None:
    """The suite's ``imports`` (its plugin metrics' directions, its plugin methods' names)."""
    import json

    from ganbench.registry import PluginImportError, import_plugins, load_builtins

    load_builtins()
    try:
        suite = json.loads((suite_dir / "suite.json").read_text()).get("suite", {})
    except (OSError, ValueError, AttributeError):
        return
    if isinstance(suite, dict) and suite.get("imports"):
        try:
            import_plugins(suite["imports"], suite.get("import_dir") or None)
        except PluginImportError as err:
            raise GanbenchError(f"{suite_dir / 'suite.json'}: suite.imports[{err.index}]: {err}") from None


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
                                                help="Comma-separated metrics (default: a checkpoint's suite "
                                                     "metrics, the dataset's default set for files)"),
          num_samples: Optional[int] = typer.Option(None, "--num-samples",
                                                    help="Samples to draw / images to read (default: the trial's n / all)"),
          seed: Optional[int] = typer.Option(None, "--seed", help="Noise seed for a checkpoint (default: the trial's)"),
          device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, ... (default: cuda if available)"),
          value_range: Optional[str] = typer.Option(None, "--range",
                                                    help="Pixel range of float images: 0,1 | -1,1 | 0,255 "
                                                         "(default: detected; ambiguous input is refused)"),
          resize: Optional[str] = typer.Option(None, "--resize",
                                               help="clean | legacy_tensorflow: the Inception resize, also used "
                                                    "to bring other image sizes to the dataset's (default: clean)"),
          as_json: bool = typer.Option(False, "--json", help="Print one JSON object (values, protocols, warnings)"),
          mlflow: bool = typer.Option(False, "--mlflow", help="Log a run to the results store's MLflow"),
          results: Path = typer.Option(Path("results"), "--results", help="Results folder holding mlflow.db"),
          tracking_uri: Optional[str] = typer.Option(None, "--tracking-uri", help="MLflow tracking URI")):
    """Compute metrics of a trial checkpoint, a PNG folder or an .npz of images (any size; uint8, or
    float in a given or detected range)."""
    if not source.exists():  # before torch is imported
        _fail(GanbenchError(f"{source}: no such file or folder"))
    import json

    from rich.table import Table

    from ganbench.metrics.eval_source import log_to_mlflow, run_eval
    from ganbench.registry import METRICS
    from ganbench.tracking import default_tracking_uri

    names = [m.strip() for m in metrics.split(",") if m.strip()] if metrics is not None else None
    try:
        result = run_eval(source, names, dataset, split, num_samples, seed, device, value_range, resize)
        run_id = None
        if mlflow:
            uri = tracking_uri or default_tracking_uri(results)
            results.mkdir(parents=True, exist_ok=True)
            run_id = log_to_mlflow(result, uri, results / "mlartifacts")
    except GanbenchError as err:
        _fail(err)
    for name, warning in result.warnings.items():
        console.print(f"[bold yellow]warning:[/] {name}: {warning}", highlight=False, soft_wrap=True)
    if as_json:
        data = result.to_dict()
        if run_id:
            data["mlflow_run_id"] = run_id
        print(json.dumps(data, indent=2, sort_keys=True))
        return
    title = f"{result.source} ({result.source_kind}, {result.dataset}, n={result.n}, reference {result.split})"
    values = Table(title=title, show_header=True)
    for col in ("value key", "value", "better", "metric"):
        values.add_column(col)
    protocol = Table(title="protocol", show_header=True)
    for col in ("metric", "n gen", "n ref", "split", "extractor", "weights sha1", "resize", "warning"):
        protocol.add_column(col)
    from ganbench.metrics.base import ARROWS

    for name in result.metrics:
        p = result.protocols.get(name, {})
        for key, direction in METRICS.get(name).outputs.items():
            if key in result.values:
                values.add_row(key, f"{result.values[key]:.6g}", ARROWS.get(direction, direction), name)
        protocol.add_row(name, str(p.get("n_gen", "")), str(p.get("n_ref", "")), str(p.get("split", "")),
                         str(p.get("extractor", "")), str(p.get("weights_sha1", ""))[:12],
                         str(p.get("resize", "")), "yes" if name in result.warnings else "")
    out.print(values)
    out.print(protocol)
    lines = []
    if result.default_metrics:
        lines.append(f"metrics: {', '.join(result.metrics)} (the default set for {result.dataset}; --metrics to choose)")
    for key, words in (("input_range", "pixels"), ("input_resize", "resized")):
        if key in result.input:
            lines.append(f"{words}: {result.input[key]}")
    lines.append(f"source sha256: {result.source_sha}")
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
    lines.append(f"time: {timing}")
    if run_id:
        lines.append(f"MLflow run {run_id} in {tracking_uri or default_tracking_uri(results)}")
    out.print("\n".join(lines), highlight=False, soft_wrap=True)


def main() -> None:
    """The console entry point. A Ctrl-C (or a SIGTERM turned into one) that arrives before a command
    installs its own handlers (``run`` spends its first seconds importing torch and Ray) ends, as
    typer ends it, with exit code 130, and here with one line saying so rather than silently."""
    import sys

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    _reported["interrupted"] = False
    try:
        code = app(standalone_mode=False)
    except KeyboardInterrupt:  # outside typer's own handling
        code = 130
    except typer.TyperException as err:  # usage errors: the message (and help) as typer prints them
        err.show()
        sys.exit(getattr(err, "exit_code", 2))
    if code == 130 and not _reported["interrupted"]:
        console.print("interrupted: stopped before any work was recorded; run the same command again",
                      highlight=False, soft_wrap=True)
    sys.exit(code if isinstance(code, int) else 0)
